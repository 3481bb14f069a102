"""Runs stages in order with caching: a stage whose config and inputs are unchanged is skipped.

Each finished stage leaves ``<folder>/_SUCCESS.json`` holding its fingerprint: a hash of its config
section, of its upstream stages' fingerprints (their outputs are a function of those) and of the
size and modification time of raw input files. Paths inside the run directory enter the hash as
``{run_dir}/...``, so the same stage of two runs has the same fingerprint and a sweep can share
another run's finished data stages (``--data-from``). A stage interrupted before its marker is written
runs again; pre-training then resumes from its last checkpoint if its training config is unchanged.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from dapt.config import DaptConfig, dump_config
from dapt.errors import UserError
from dapt.stages import DATA_STAGES, STAGE_NAMES, STAGES, Context, Stage

log = logging.getLogger("dapt")

MARKER = "_SUCCESS.json"


def _jsonable(value: Any) -> Any:
    # Only the settings that differ from the defaults: a release that adds a defaulted config field
    # must not invalidate every finished stage of an existing run.
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _raw_inputs(cfg: DaptConfig) -> list[list[Any]]:
    """Path, size and mtime of every raw input file (cheap; content hashing a corpus is not)."""
    files = []
    for source in cfg.curate.sources:
        for pattern in source.paths:
            for path in sorted(glob.glob(pattern, recursive=True)):
                st = os.stat(path)
                files.append([path, st.st_size, st.st_mtime_ns])
    return files


def fingerprint(stage: Stage, cfg: DaptConfig, run_dir: Path) -> str:
    parts: dict[str, Any] = {"stage": stage.name, "config": _jsonable(stage.section(cfg))}
    upstream = {}
    for name in stage.upstream:
        marker = run_dir / _stage(name).folder / MARKER
        if marker.is_file():
            upstream[name] = json.loads(marker.read_text())["fingerprint"]
    parts["upstream"] = upstream
    if stage.name == "curate":
        parts["raw_inputs"] = _raw_inputs(cfg)
    blob = json.dumps(parts, sort_keys=True, default=str)
    # where the run lives is not what it computes: `runs/a/raw/x.jsonl` and `runs/b/raw/x.jsonl` hash alike
    blob = blob.replace(json.dumps(str(run_dir) + os.sep)[1:-1], "{run_dir}/")
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _stage(name: str) -> Stage:
    return next(s for s in STAGES if s.name == name)


def is_rank_zero() -> bool:
    return os.environ.get("RANK", "0") == "0"


def select_stages(cfg: DaptConfig, start: str | None, until: str | None) -> list[Stage]:
    for name in (start, until):
        if name is not None and name not in STAGE_NAMES:
            raise UserError(f"unknown stage {name!r}; stages are: {', '.join(STAGE_NAMES)}")
    names = list(STAGE_NAMES)
    lo = names.index(start) if start else 0
    hi = names.index(until) if until else len(names) - 1
    if lo > hi:
        raise UserError(f"--from {start} comes after --until {until}; stages run in the order {', '.join(names)}")
    return [s for s in STAGES[lo : hi + 1] if s.enabled(cfg)]


def run_stages(
    cfg: DaptConfig,
    stages: Sequence[Stage],
    beam_args: Sequence[str] = (),
    force: Sequence[str] = (),
    fresh: Sequence[str] = (),
    data_from: Path | None = None,
) -> list[dict[str, Any]]:
    """Runs the given stages in order; returns one row per stage (name, status, seconds, summary).

    ``force`` names stages that run even when cached; ``fresh`` those that start over instead of
    resuming (pre-training from scratch rather than from its last checkpoint). ``data_from`` is
    another run directory whose finished data stages, when their fingerprint is this run's, are
    linked into this run instead of recomputed.
    """
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    if is_rank_zero():
        dump_config(cfg, run_dir / "config.resolved.yaml")
    rows = []
    for stage in stages:
        marker = run_dir / stage.folder / MARKER
        fp = fingerprint(stage, cfg, run_dir)
        if stage.name not in force and marker.is_file() and json.loads(marker.read_text())["fingerprint"] == fp:
            log.info("stage %s: unchanged since its last run, skipped (%s)", stage.name, marker)
            rows.append({"stage": stage.name, "status": "cached", "seconds": 0.0,
                         "summary": json.loads(marker.read_text()).get("summary", {})})
            continue
        if data_from is not None and stage.name in DATA_STAGES and stage.name not in force:
            shared = _share(stage, run_dir, data_from, fp)
            if shared is not None:
                rows.append({"stage": stage.name, "status": "shared", "seconds": 0.0, "summary": shared})
                continue
        folder = run_dir / stage.folder
        if folder.is_symlink() and is_rank_zero():
            folder.unlink()  # a stage shared from another run that must run here writes its own folder
        elif marker.exists() and is_rank_zero():
            marker.unlink()
        log.info("stage %s: %s", stage.name, stage.description)
        ctx = Context(cfg=cfg, run_dir=run_dir, beam_args=tuple(beam_args), fresh=stage.name in fresh)
        t0 = time.perf_counter()
        summary = stage.execute(ctx) or {}
        seconds = time.perf_counter() - t0
        if is_rank_zero():
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps(
                {"stage": stage.name, "fingerprint": fp, "seconds": round(seconds, 2), "summary": summary},
                indent=2, default=str,
            ))
        rows.append({"stage": stage.name, "status": "ran", "seconds": seconds, "summary": summary})
    return rows


def _share(stage: Stage, run_dir: Path, other: Path, fp: str) -> dict[str, Any] | None:
    """Links `other`'s finished output of `stage` into this run when it has this run's fingerprint;
    returns its summary, or None when there is nothing to share."""
    source = other / stage.folder
    marker = source / MARKER
    if not marker.is_file() or json.loads(marker.read_text())["fingerprint"] != fp:
        return None
    target = run_dir / stage.folder
    if is_rank_zero():
        if target.is_symlink():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)  # this run's own, out-of-date output of the stage
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source.resolve(), target_is_directory=True)
    log.info("stage %s: shared from %s (same fingerprint)", stage.name, source)
    return json.loads(marker.read_text()).get("summary", {})


def format_rows(rows: Sequence[dict[str, Any]]) -> str:
    """The summary table every command prints at the end."""
    lines = [f"{'stage':<18} {'status':<7} {'seconds':>8}", "-" * 35]
    for row in rows:
        lines.append(f"{row['stage']:<18} {row['status']:<7} {row['seconds']:>8.1f}")
    total = sum(r["seconds"] for r in rows)
    lines.append("-" * 35)
    lines.append(f"{'total':<26} {total:>8.1f}")
    return "\n".join(lines)
