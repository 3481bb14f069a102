"""The stages of a run, the folder each owns in the run directory, and how each is called.

This is the only module that knows every package: each stage reads what upstream stages wrote in
the run directory and calls its package's entry point. ``dapt.run`` decides which stages run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dapt.config import DaptConfig
from dapt.errors import UserError
from dapt.pipeline.storage import Location
from dapt.manifest import read_manifest

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Context:
    """What every stage gets: the resolved config, the run directory and pass-through Beam options."""

    cfg: DaptConfig
    run_dir: Location
    beam_args: Sequence[str] = ()
    fresh: bool = False  # True when the user forced a re-run: training starts over instead of resuming

    def location(self, *parts: str) -> Location:
        """A place in the run directory on any Beam filesystem: what the data stages read and write."""
        return self.run_dir.joinpath(*parts)

    def path(self, *parts: str) -> Path:
        """A place in the run directory on local or shared disk: what training, eval and the report need."""
        return self.cfg.run_dir.joinpath(*parts)


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str
    folder: str
    upstream: tuple[str, ...]
    section: Callable[[DaptConfig], Any]  # the config that defines the stage's output
    execute: Callable[[Context], dict[str, Any]]
    enabled: Callable[[DaptConfig], bool] = lambda cfg: True
    description: str = ""
    # Reads and writes the run directory only through Beam's filesystems, so run.dir may be a URL.
    any_filesystem: bool = False


def _read_json(path: Path | Location) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"{path} is missing: run the stage that writes it first (see `dapt run --help`)")
    return json.loads(path.read_text(encoding="utf-8"))


# ---- the stages --------------------------------------------------------------------------------


def _sample(ctx: Context) -> dict[str, Any]:
    from dapt.pipeline.sample.corpus import write_sample_corpus

    assert ctx.cfg.sample is not None
    raw = ctx.location("raw")
    if raw.is_local:
        return write_sample_corpus(ctx.cfg.sample, raw.local)
    with tempfile.TemporaryDirectory(prefix="dapt-sample-") as tmp:  # generated here, then uploaded
        summary = write_sample_corpus(ctx.cfg.sample, Path(tmp))
        raw.upload(Path(tmp))
    return summary


def _curate(ctx: Context) -> dict[str, Any]:
    from dapt.pipeline.curate.main import run_curate

    return run_curate(ctx.cfg.curate, ctx.location("curated"), beam_args=ctx.beam_args)


def _has_quality_model(cfg: DaptConfig) -> bool:
    return bool(cfg.select.quality.positive and cfg.select.quality.negative)


def _quality(ctx: Context) -> dict[str, Any]:
    from dapt.pipeline.select.quality_model import train_quality_model

    return train_quality_model(ctx.cfg.select, [], [], ctx.location("quality", "model.npz"), beam_args=ctx.beam_args)


def _select(ctx: Context) -> dict[str, Any]:
    from dapt.pipeline.select.main import run_select

    model = ctx.location("quality", "model.npz") if _has_quality_model(ctx.cfg) else None
    return run_select(
        ctx.cfg.select, ctx.location("curated", "docs"), ctx.location("selected"), beam_args=ctx.beam_args,
        quality_model=model,
    )


def _tokenizer(ctx: Context) -> dict[str, Any]:
    from dapt.tokenizer.train import train_tokenizer

    return train_tokenizer(ctx.cfg.tokenizer, ctx.location("selected", "docs"), ctx.location("tokenizer"))


def _tokenizer_general(ctx: Context) -> dict[str, Any]:
    from dapt.tokenizer.train import train_tokenizer

    return train_tokenizer(
        ctx.cfg.tokenizer, ctx.location("selected", "docs"), ctx.location("tokenizer_general"), domains={"general"}
    )


def _tokenize(ctx: Context) -> dict[str, Any]:
    from dapt.pipeline.tokens.main import run_tokenize

    return run_tokenize(
        ctx.cfg.tokenize, ctx.location("selected", "docs"), ctx.location("tokenizer"), ctx.location("tokens"),
        ctx.beam_args,
    )


def _tokenizer_report(ctx: Context) -> dict[str, Any]:
    from dapt.tokenizer.report import report_tokenizer

    return report_tokenizer(
        ctx.cfg.tokenizer,
        ctx.path("tokenizer"),
        ctx.cfg.tokenizer.report.baseline_dir or ctx.path("tokenizer_general"),  # the run's own baseline unless one is named
        ctx.path("tokens", "val_text"),
        ctx.path("tokenizer_report"),
    )


def model_shape(ctx: Context, tokenizer_dir: Path):
    """The configured model's exact shape with this tokenizer's vocabulary (padded as the trainer pads it)."""
    from dapt.pretrain.model import model_shape as shape_of

    vocab = int(read_manifest(tokenizer_dir, "run `dapt tokenizer` first")["vocab_size"])
    return shape_of(ctx.cfg.pretrain.model, vocab)


def _plan(ctx: Context) -> dict[str, Any]:
    from dapt.pretrain.plan import run_plan

    tokens = read_manifest(ctx.path("tokens"), "run `dapt tokenize` first")
    available = sum(int(s["train_tokens"]) for s in tokens["sources"].values())
    return run_plan(
        ctx.cfg.plan, ctx.path("plan"), available_tokens=available, shape=model_shape(ctx, ctx.path("tokenizer"))
    )


def token_target(ctx: Context) -> int:
    """The trainer's token target: the config's override, else the planner's."""
    override = ctx.cfg.pretrain.token_target
    if override:
        return int(override)
    return int(_read_json(ctx.path("plan", "plan.json"))["token_target"])


def _mix(ctx: Context) -> dict[str, Any]:
    from dapt.pretrain.data import run_mix

    return run_mix(ctx.cfg.mix, ctx.path("tokens"), ctx.path("mix"), total_tokens=token_target(ctx))


def _pretrain(ctx: Context) -> dict[str, Any]:
    from dapt.pretrain.train import run_pretrain

    return _on_planned_hardware(ctx, run_pretrain(
        ctx.cfg.pretrain,
        ctx.path("tokens"),
        ctx.path("mix", "mix.json"),
        ctx.path("tokenizer"),
        ctx.path("model"),
        token_target=token_target(ctx),
        fresh=ctx.fresh,
    ))


def _on_planned_hardware(ctx: Context, summary: dict[str, Any]) -> dict[str, Any]:
    """Warns (one line) when training ran on other GPUs than plan.gpu_type x plan.num_gpus."""
    from dapt.pretrain.plan import hardware_mismatch

    mismatch = hardware_mismatch(ctx.cfg.plan, summary["device"], summary["world"])
    if mismatch:
        log.warning("pretrain: %s", mismatch)
    return summary


def _baseline_tokenizer(ctx: Context) -> Path:
    name = "tokenizer_general" if ctx.cfg.baseline.tokenizer == "general" else "tokenizer"
    return ctx.path(name)


def _baseline_tokens(ctx: Context) -> dict[str, Any]:
    from dapt.pipeline.tokens.main import run_tokenize

    return run_tokenize(
        ctx.cfg.tokenize,
        ctx.location("selected", "docs"),
        ctx.location("tokenizer_general"),
        ctx.location("baseline", "tokens"),
        ctx.beam_args,
    )


def _baseline_tokens_dir(ctx: Context) -> Path:
    return ctx.path("baseline", "tokens") if ctx.cfg.baseline.tokenizer == "general" else ctx.path("tokens")


def _baseline_mix(ctx: Context) -> dict[str, Any]:
    from dapt.pretrain.data import run_mix

    general_only = ctx.cfg.mix.model_copy(update={"shares": {"domain": 0.0, "general": 1.0}})
    return run_mix(general_only, _baseline_tokens_dir(ctx), ctx.path("baseline", "mix"), total_tokens=token_target(ctx))


def _baseline_pretrain(ctx: Context) -> dict[str, Any]:
    from dapt.pretrain.train import run_pretrain

    return _on_planned_hardware(ctx, run_pretrain(
        ctx.cfg.pretrain,
        _baseline_tokens_dir(ctx),
        ctx.path("baseline", "mix", "mix.json"),
        _baseline_tokenizer(ctx),
        ctx.path("baseline", "model"),
        token_target=token_target(ctx),
        fresh=ctx.fresh,
    ))


def heldout_files(ctx: Context) -> dict[str, list[Path]]:
    """The held-out text per mixture group ("domain", "general"), from the tokenize manifest."""
    manifest = read_manifest(ctx.path("tokens"), "run `dapt tokenize` first")
    groups: dict[str, list[Path]] = {}
    for name, source in sorted(manifest["sources"].items()):
        path = ctx.path("tokens", "val_text", f"{name}.jsonl.gz")
        if path.is_file() and int(source.get("val_docs", 1)) > 0:
            groups.setdefault(source["group"], []).append(path)
    return groups


def _eval(ctx: Context) -> dict[str, Any]:
    from dapt.eval.run import run_eval

    models = {"domain-mix": ctx.path("model", "hf")}
    if ctx.cfg.baseline.enabled:
        models["general-only"] = ctx.path("baseline", "model", "hf")
    return run_eval(ctx.cfg.eval, models, heldout_files(ctx), ctx.path("eval"), train_docs=ctx.path("selected", "docs"))


def _report(ctx: Context) -> dict[str, Any]:
    from dapt.report import write_run_report

    return write_run_report(ctx.cfg, ctx.path())


STAGES: tuple[Stage, ...] = (
    Stage("sample", "raw", (), lambda c: c.sample, _sample, enabled=lambda c: c.sample is not None,
          description="write the embedded sample corpus", any_filesystem=True),
    Stage("curate", "curated", ("sample",), lambda c: c.curate, _curate,
          description="read, clean, language- and quality-filter, redact, exact-dedup (Beam)", any_filesystem=True),
    Stage("quality", "quality", ("sample",), lambda c: c.select.quality, _quality, enabled=_has_quality_model,
          description="train the quality model (hashed n-grams + logistic regression) on reference text", any_filesystem=True),
    Stage("select", "selected", ("curate", "quality"), lambda c: c.select, _select,
          description="near-dup and line dedup, quality selection, routing, decontamination (Beam)", any_filesystem=True),
    Stage("tokenizer", "tokenizer", ("select",), lambda c: c.tokenizer, _tokenizer,
          description="train the domain tokenizer on the mixture", any_filesystem=True),
    Stage("tokenizer_general", "tokenizer_general", ("select",), lambda c: c.tokenizer, _tokenizer_general,
          description="train the general-only baseline tokenizer", any_filesystem=True),
    Stage("tokenize", "tokens", ("select", "tokenizer"), lambda c: c.tokenize, _tokenize,
          description="tokenize and pack into token shards with a validation split (Beam)", any_filesystem=True),
    Stage("tokenizer_report", "tokenizer_report", ("tokenizer", "tokenizer_general", "tokenize"),
          lambda c: c.tokenizer, _tokenizer_report, description="fertility and term splits vs the baseline"),
    Stage("plan", "plan", ("tokenize",), lambda c: (c.plan, c.pretrain.model), _plan,
          description="Chinchilla sizing, token target, memory"),
    Stage("mix", "mix", ("tokenize", "plan"), lambda c: (c.mix, c.pretrain.token_target), _mix,
          description="mixture plan: shares, weights, epochs"),
    Stage("pretrain", "model", ("mix",), lambda c: c.pretrain, _pretrain,
          description="DeepSpeed ZeRO pre-training of the domain-mix model"),
    Stage("baseline_tokens", "baseline/tokens", ("tokenizer_general",), lambda c: c.tokenize, _baseline_tokens,
          enabled=lambda c: c.baseline.enabled and c.baseline.tokenizer == "general",
          description="token shards with the general tokenizer for the baseline", any_filesystem=True),
    Stage("baseline_mix", "baseline/mix", ("tokenize", "baseline_tokens", "plan"),
          lambda c: (c.mix, c.baseline, c.pretrain.token_target), _baseline_mix,
          enabled=lambda c: c.baseline.enabled, description="general-only mixture, same token budget"),
    Stage("baseline_pretrain", "baseline/model", ("baseline_mix",), lambda c: (c.pretrain, c.baseline),
          _baseline_pretrain, enabled=lambda c: c.baseline.enabled,
          description="pre-train the general-only baseline (same shape and budget)"),
    Stage("eval", "eval", ("pretrain", "baseline_pretrain", "tokenize"), lambda c: (c.eval, c.baseline), _eval,
          description="bits-per-byte and benchmarks, domain vs general (lm-evaluation-harness)"),
    Stage("report", "report", ("curate", "select", "tokenizer_report", "plan", "mix", "pretrain",
                                "baseline_pretrain", "eval"), lambda c: None, _report,
          description="the run's report: data funnel, tokenizer, mixture, loss curves, scores"),
)

STAGE_NAMES = tuple(s.name for s in STAGES)
# What `dapt run --data-from RUN` may share from another run: everything up to the training data.
DATA_STAGES = frozenset(STAGE_NAMES) - {"pretrain", "baseline_pretrain", "eval", "report"}


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise UserError(f"unknown stage {name!r}; stages are: {', '.join(STAGE_NAMES)}")
