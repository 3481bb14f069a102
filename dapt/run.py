"""Runs stages in order with caching: a stage whose config and inputs are unchanged is skipped.

Each finished stage leaves ``<folder>/_SUCCESS.json`` holding its fingerprint: a hash of its config
section, of its upstream stages' fingerprints (their outputs are a function of those) and of the
size and modification time of raw input files. Paths inside the run directory enter the hash as
``{run_dir}/...``, so the same stage of two runs has the same fingerprint and a sweep can share
another run's finished data stages (``--data-from``). A stage interrupted before its marker is written
runs again; pre-training then resumes from its last checkpoint if its training config is unchanged.
"""

from __future__ import annotations

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
from dapt.pipeline.storage import Location, use_pipeline_options
from dapt.stages import DATA_STAGES, STAGE_NAMES, STAGES, Context, Stage
from dapt.summary import format_table

log = logging.getLogger("dapt")

MARKER = "_SUCCESS.json"


def _changed_settings(value: Any) -> Any:
    # Only the settings that differ from the defaults: a release that adds a defaulted config field
    # must not invalidate every finished stage of an existing run.
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    if isinstance(value, tuple):
        return [_changed_settings(v) for v in value]
    return value


def _raw_inputs(cfg: DaptConfig) -> list[list[Any]]:
    """Path, size and last-updated time of every raw input, from its filesystem's metadata (cheap, and the
    same for a bucket as for local disk; content hashing a corpus is not)."""
    from dapt.pipeline.curate.inputs import expand_paths  # Beam's filesystems load only for runs that curate

    return [list(f.identity().values()) for source in cfg.curate.sources for f in expand_paths(source)]


def fingerprint(stage: Stage, cfg: DaptConfig, run_dir: Path | Location) -> str:
    run_dir = Location(run_dir)
    parts: dict[str, Any] = {"stage": stage.name, "config": _changed_settings(stage.section(cfg))}
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
    blob = blob.replace(json.dumps(run_dir.url + "/")[1:-1], "{run_dir}/")
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
    run_dir = cfg.run_location
    if not run_dir.is_local:
        off = [s.name for s in stages if not s.any_filesystem]
        if off:
            raise UserError(f"run.dir {run_dir} is a URL, where only the data stages run, not {', '.join(off)}; "
                            "pass --until tokenize, or a local or shared run.dir (README: Running at scale)")
        if data_from is not None:
            raise UserError("--data-from links folders of a local run directory; run.dir is a URL here")
        use_pipeline_options(beam_args)
    run_dir.mkdir()
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
            shared = _share(stage, run_dir.local, data_from, fp)
            if shared is not None:
                rows.append({"stage": stage.name, "status": "shared", "seconds": 0.0, "summary": shared})
                continue
        folder = run_dir / stage.folder
        if folder.is_local and folder.local.is_symlink() and is_rank_zero():
            folder.local.unlink()  # a stage shared from another run that must run here writes its own folder
        elif marker.is_file() and is_rank_zero():
            marker.unlink()
        log.info("stage %s: %s", stage.name, stage.description)
        ctx = Context(cfg=cfg, run_dir=run_dir, beam_args=tuple(beam_args), fresh=stage.name in fresh)
        t0 = time.perf_counter()
        summary = stage.execute(ctx) or {}
        seconds = time.perf_counter() - t0
        if is_rank_zero():
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
    total = sum(r["seconds"] for r in rows)
    body = [[r["stage"], r["status"], f"{r['seconds']:.1f}"] for r in rows] + [["total", "", f"{total:.1f}"]]
    return format_table(["stage", "status", "seconds"], body, align="llr")
