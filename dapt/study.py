"""`dapt study`: many training runs over one set of data stages (issue 17).

One config (configs/scale.yaml: a run config plus a `study:` section) defines the arms: a mixture frontier
(domain shares at one size), a size ladder (the 0.51 mix and the general-only baseline at doubling sizes),
seeds at one size, and continued pre-training (the baseline's weights, continued on the mix). The data
stages run once through `dapt run`'s stages and caching; every run then trains on the same token shards
(minus the sources held out for out-of-source evaluation) to the planner's compute-optimal token target,
is scored on every source's held-out documents, and leaves <run_dir>/study/<run>/result.json, which caches
it (a changed spec or upstream stage trains it again; an interrupted run resumes from its checkpoint).
dapt/study_analysis.py computes the figures and dapt/study_report.py writes the page and the JSON.
"""

from __future__ import annotations

import concurrent.futures as futures
import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dapt.config import DaptConfig, describe_validation_error, load_config
from dapt.errors import UserError
from dapt.manifest import read_manifest, write_manifest

log = logging.getLogger("dapt.study")

ARMS = ("mix", "baseline", "continued")


class SizeConfig(BaseModel):
    """One rung of the ladder: a decoder shape (the run config's pretrain.model gives the other keys)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$")
    n_layers: int = Field(..., ge=1)
    d_model: int = Field(..., ge=8)
    n_heads: int = Field(4, ge=1)
    d_ff: int | None = Field(None, ge=1)
    tie_embeddings: bool = True


class ContinuedConfig(BaseModel):
    """Continued pre-training (Gururangan et al. 2020): a general-only model, then the domain mix."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    share: float = Field(0.51, ge=0, le=1)  # domain share of the continuation
    # The general phase's share of the total: total tokens equal the from-scratch mix arm's.
    general_fraction: float = Field(0.5, gt=0, lt=1)


class StudyConfig(BaseModel):
    """The `study:` section: which runs to train and how to read them."""

    model_config = ConfigDict(extra="forbid")

    sizes: list[SizeConfig] = Field(..., min_length=1)
    # Chinchilla (Hoffmann et al. 2022) counts all parameters, embeddings included; so does the planner.
    tokens_per_param: float = Field(20.0, gt=0)
    max_epochs: float = Field(4.0, gt=0)  # no source read more often (Muennighoff et al. 2023)
    shares: list[float] = Field(default_factory=lambda: [0.0, 0.25, 0.51, 0.75, 1.0])
    mix_share: float = Field(0.51, ge=0, le=1)  # the ladder's and the seeds' mix (BloombergGPT §2)
    frontier_size: str | None = None  # None: the first size
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    seed_size: str | None = None  # None: the first size
    continued: ContinuedConfig = ContinuedConfig()
    # Sources no model trains on, scored as out-of-source text (one per domain with two or more sources).
    holdout_sources: list[str] = Field(default_factory=list)
    max_general_penalty: float = Field(0.02, ge=0)  # relative, vs the general-only baseline at share 0
    headline: Literal["doc_mean", "byte_weighted"] = "doc_mean"
    workers: int = Field(1, ge=1)  # runs trained at once, one process and one thread each
    eval_max_docs: int | None = Field(None, ge=1)  # held-out documents scored per source (None: all)
    bootstrap_iters: int = Field(1000, ge=0)
    publish_dir: str | None = None  # also write <dir>/study_<name>.md and <dir>/results/study_<name>.json

    @model_validator(mode="after")
    def _check(self) -> StudyConfig:
        names = [s.name for s in self.sizes]
        if len(set(names)) != len(names):
            raise ValueError(f"study.sizes has repeated names {names}")
        for key in ("frontier_size", "seed_size"):
            value = getattr(self, key)
            if value is not None and value not in names:
                raise ValueError(f"study.{key}={value!r} is not one of study.sizes ({', '.join(names)})")
        if 0.0 not in self.shares:
            raise ValueError("study.shares must hold 0 (the general-only baseline the penalty is measured against)")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"study.seeds has repeats: {self.seeds}")
        return self

    @property
    def frontier(self) -> str:
        return self.frontier_size or self.sizes[0].name

    @property
    def seed_rung(self) -> str:
        return self.seed_size or self.sizes[0].name

    def size(self, name: str) -> SizeConfig:
        return next(s for s in self.sizes if s.name == name)


def load_study(path: str | Path, overrides: dict[str, Any] | None = None,
               run_dir: str | Path | None = None) -> tuple[DaptConfig, StudyConfig]:
    """The run config without its `study:` section (validated as `dapt run` does) and the study section."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}; pass a study config (e.g. configs/scale.yaml)")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict) or "study" not in raw:
        raise UserError(f"{path} has no study: section; `dapt study` needs one (see configs/scale.yaml)")
    overrides = dict(overrides or {})
    study_raw = raw.pop("study") or {}
    for key in [k for k in overrides if k.startswith("study.")]:
        node = study_raw
        *parents, last = key.split(".")[1:]
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = overrides.pop(key)
    try:
        study = StudyConfig.model_validate(study_raw)
    except ValidationError as exc:
        raise UserError(describe_validation_error(exc, path).replace(": ", ": study.", 1)) from None
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(raw, fh)
    try:
        cfg = load_config(fh.name, overrides, run_dir=run_dir)
    except UserError as exc:
        raise UserError(str(exc).replace(fh.name, str(path))) from None
    finally:
        os.unlink(fh.name)
    return cfg, study


# -- which runs ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One training run of the study; `roles` says which parts of the report read it."""

    id: str
    arm: str  # mix | baseline | continued
    share: float  # domain share of what this run trains on (the continuation's for `continued`)
    size: str
    seed: int
    roles: tuple[str, ...]
    init_from: str | None = None  # the run whose exported model this one starts from
    token_fraction: float = 1.0  # of the mix arm's compute-optimal target at this size (continued phases)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _run_id(arm: str, share: float, size: str, seed: int, suffix: str = "") -> str:
    return f"{arm}-{size}-d{round(share * 100):03d}-seed{seed}{suffix}"


def plan_runs(study: StudyConfig) -> list[RunSpec]:
    """Every run of the study once, in training order (a continued run after the run it starts from)."""
    runs: dict[str, dict[str, Any]] = {}

    def add(arm: str, share: float, size: str, seed: int, role: str, **extra: Any) -> str:
        rid = _run_id(arm, share, size, seed, extra.pop("suffix", ""))
        entry = runs.setdefault(rid, {"id": rid, "arm": arm, "share": share, "size": size, "seed": seed,
                                      "roles": [], **extra})
        entry["roles"].append(role)
        return rid

    first = study.seeds[0]
    for share in study.shares:
        add("baseline" if share == 0 else "mix", share, study.frontier, first, "frontier")
    for size in study.sizes:
        add("mix", study.mix_share, size.name, first, "ladder")
        add("baseline", 0.0, size.name, first, "ladder")
    for seed in study.seeds:
        add("mix", study.mix_share, study.seed_rung, seed, "seeds")
        add("baseline", 0.0, study.seed_rung, seed, "seeds")
    if study.continued.enabled:
        c = study.continued
        base = add("baseline", 0.0, study.frontier, first, "continued_base", suffix="-general-phase",
                   token_fraction=c.general_fraction)
        add("continued", c.share, study.frontier, first, "continued", init_from=base,
            token_fraction=1 - c.general_fraction)
        add("mix", c.share, study.frontier, first, "continued_compare")
        add("baseline", 0.0, study.frontier, first, "continued_compare")
    specs = [RunSpec(**{**r, "roles": tuple(r["roles"])}) for r in runs.values()]
    order = [s.name for s in study.sizes]
    # Smallest sizes first, and within a size the frontier, then continued pre-training, then the other
    # seeds: an interrupted study has whole parts to report. A continued run comes after its start.
    parts = ("frontier", "continued_base", "continued")

    def rank(spec: RunSpec) -> tuple[int, int]:
        return order.index(spec.size), min((parts.index(r) for r in spec.roles if r in parts), default=len(parts))

    return sorted(specs, key=rank)


# -- budgets -------------------------------------------------------------------------------------
def model_config(cfg: DaptConfig, size: SizeConfig):
    return cfg.pretrain.model.model_copy(update=size.model_dump(exclude={"name"}))


def token_budget(cfg: DaptConfig, study: StudyConfig, size: SizeConfig, share: float, vocab: int,
                 unique: dict[str, int], out_dir: Path) -> dict[str, Any]:
    """The planner's token target for this size (tokens_per_param x all parameters), capped so that no
    group, hence no source (sources are read in proportion to their tokens), passes max_epochs."""
    from dapt.pretrain.model import model_shape
    from dapt.pretrain.plan import PlanConfig, run_plan
    from dapt.pretrain.shape import count_params

    shape = model_shape(model_config(cfg, size), vocab)
    shares = {"domain": share, "general": 1 - share}
    # The unique tokens the run may draw on: the scarcest group, scaled by its share of the stream.
    available = min(int(unique[g] / s) for g, s in shares.items() if s > 0)
    plan_cfg = PlanConfig(gpu_type=cfg.plan.gpu_type, num_gpus=1, precision="fp32", tokens_per_param=study.tokens_per_param,
                          max_epochs=study.max_epochs, vocab_size=shape.vocab_size, seq_len=shape.seq_len,
                          tie_embeddings=shape.tie_embeddings, plot=False)
    plan = run_plan(plan_cfg, out_dir, available_tokens=available, shape=shape, stem="budget")
    n = count_params(shape)
    return {"params": n, "non_embedding_params": n - shape.vocab_size * shape.d_model * (1 if shape.tie_embeddings else 2),
            "tokens": plan["token_target"], "reason": plan["reason"], "available_tokens": available,
            "data_constrained": plan["token_target"] < round(study.tokens_per_param * n)}


# -- one run (in a worker process) ---------------------------------------------------------------
def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def execute_run(job: dict[str, Any]) -> dict[str, Any]:
    """Mix -> pre-train -> score one run; writes and returns its result.json (a worker's whole job)."""
    import torch

    from dapt.eval.config import EvalConfig
    from dapt.pretrain.config import PretrainConfig
    from dapt.pretrain.mixture import MixConfig, run_mix
    from dapt.pretrain.train import run_pretrain

    torch.set_num_threads(job["threads"])
    out = Path(job["out_dir"])
    mix_cfg = MixConfig(shares={"domain": job["share"], "general": 1 - job["share"]}, max_epochs=job["max_epochs"])
    mix = run_mix(mix_cfg, Path(job["tokens_dir"]), out / "mix", total_tokens=job["token_target"])
    c0, w0 = _cpu_seconds(), time.perf_counter()
    summary = run_pretrain(PretrainConfig.model_validate(job["pretrain"]), Path(job["tokens_dir"]), out / "mix" / "mix.json",
                           Path(job["tokenizer_dir"]), out / "model", token_target=job["token_target"],
                           init_from=Path(job["init_from"]) if job["init_from"] else None)
    train_cpu, train_wall = _cpu_seconds() - c0, time.perf_counter() - w0
    c1 = _cpu_seconds()
    held = json.loads(Path(job["held"]).read_text())
    docs = score_model(EvalConfig.model_validate(job["eval"]), out / "model" / "hf", held)
    (out / "docs.json").write_text(json.dumps({s: {"loglik": ll.tolist(), "bytes": nb.tolist()} for s, (ll, nb) in docs.items()}))
    result = {
        "fingerprint": job["fingerprint"], "spec": job["spec"], "budget": job["budget"], "token_target": job["token_target"],
        "train": {k: summary.get(k) for k in ("steps", "tokens", "stop_reason", "stop_step", "best_step", "exported",
                                               "final_train_loss", "val_losses", "n_params", "spikes", "rollbacks")},
        "epochs": {r["name"]: r["epochs"] for r in mix["sources"] if r["planned_tokens"] > 0},
        "cpu_seconds": {"train": round(train_cpu, 2), "eval": round(_cpu_seconds() - c1, 2)},
        "wall_seconds": {"train": round(train_wall, 2)},
    }
    (out / "result.json").write_text(json.dumps(result, indent=2))
    return result


def score_model(eval_cfg, hf_dir: Path, held: dict[str, dict]) -> dict[str, Any]:
    """Per held-out source: each document's log-likelihood and bytes (lm-evaluation-harness rolling windows).

    One harness task over every source's documents (the pooled file written by `_prepare_data`), split
    back by source: one dataset load and one simple_evaluate call per model instead of one per source."""
    from dapt.eval.run import cpu_threads, document_scores, evaluate_model, load_lm, perplexity_task
    from dapt.eval.taskset import task_manager

    pooled = next(iter(held.values()))["pooled"]
    manager = task_manager(eval_cfg)
    tasks = manager.load([perplexity_task("study", Path(pooled))])["tasks"]
    with cpu_threads(eval_cfg.cpu_threads):
        lm = load_lm(eval_cfg, hf_dir)
        raw = evaluate_model(eval_cfg, hf_dir, list(tasks.values()), manager=manager, lm=lm)
    loglik, nbytes = document_scores(raw.get("samples") or {}, {"study": {}})["study"]
    out, start = {}, 0
    for name, info in held.items():  # the pooled file holds the sources in this order
        n = int(info["docs"])
        out[name] = (loglik[start:start + n], nbytes[start:start + n])
        start += n
    if start != len(loglik):
        raise RuntimeError(f"scored {len(loglik)} held-out documents, expected {start}")
    return out


def _worker_init(threads: int) -> None:
    import torch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apache_beam", "DeepSpeed", "deepspeed", "lm-eval", "lm_eval", "datasets", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    torch.set_num_threads(threads)


# -- the study -----------------------------------------------------------------------------------
def run_study(cfg: DaptConfig, study: StudyConfig, *, data: bool = True, dry_run: bool = False,
              only: list[str] | None = None, report_only: bool = False) -> dict[str, Any]:
    """Data stages (cached), every run (cached by result.json), then the report; returns its summary.

    `report_only` trains nothing and touches no input: the report is written from the runs finished so far
    (a partial study says which runs are missing); it may run beside a study that is still training."""
    from dapt.run import run_stages, select_stages
    from dapt.study_report import write_study_report

    run_dir = cfg.run_dir
    t0 = time.perf_counter()
    rows = []
    if data and not report_only:
        stages = [s for s in select_stages(cfg, None, "tokenize") if s.name != "tokenizer_general"]
        rows = run_stages(cfg, stages)
    if not rows:  # the data stages' own times, from their markers
        for folder in ("curated", "quality", "selected", "tokenizer", "tokens"):
            marker = run_dir / folder / "_SUCCESS.json"
            if marker.is_file():
                m = json.loads(marker.read_text())
                rows.append({"stage": m["stage"], "status": "cached", "seconds": m.get("seconds", 0.0)})
    root = run_dir / "study"
    root.mkdir(parents=True, exist_ok=True)
    if report_only:
        tokens = json.loads((run_dir / "tokens" / "manifest.json").read_text())
        held = json.loads((root / "heldout" / "held.json").read_text())
    else:
        (root / "study.resolved.yaml").write_text(yaml.safe_dump(study.model_dump(mode="json"), sort_keys=False))
        tokens, held = _prepare_data(cfg, study, root)
    vocab = int(json.loads((run_dir / "tokenizer" / "manifest.json").read_text())["vocab_size"])
    trained = {n: s for n, s in tokens["sources"].items() if n not in study.holdout_sources}
    unique = {g: sum(int(s["train_tokens"]) for s in trained.values() if s["group"] == g) for g in ("domain", "general")}
    specs = plan_runs(study)
    if only:
        specs = [s for s in specs if s.id in only]
    jobs = {s.id: _job(cfg, study, s, root, vocab, unique, held) for s in specs}
    for job in jobs.values():  # a continued run's fingerprint includes its starting run's
        if job["init_from_id"] in jobs:
            job["fingerprint"] = _hash([job["fingerprint"], jobs[job["init_from_id"]]["fingerprint"]])
    if dry_run:
        return {"runs": [{"id": j["spec"]["id"], "params": j["budget"]["params"], "tokens": j["token_target"],
                          "reason": j["budget"]["reason"]} for j in jobs.values()], "data_stages": rows}
    trains = not report_only and any(_cached(job) is None for job in jobs.values())
    if report_only:
        results = {rid: r for rid, r in ((rid, _cached(job)) for rid, job in jobs.items()) if r is not None}
    else:
        results = _train_all(jobs, study)
    seconds = time.perf_counter() - t0
    previous = root / "study.json"
    if not trains and previous.is_file():  # a rewrite of the page keeps the time of the study that trained
        seconds = json.loads(previous.read_text()).get("seconds")
    missing = [rid for rid in jobs if rid not in results]
    planned = [{"id": rid, "size": j["spec"]["size"], "params": j["budget"]["params"], "tokens": j["token_target"],
                "d_model": study.size(j["spec"]["size"]).d_model, "n_layers": study.size(j["spec"]["size"]).n_layers}
               for rid, j in jobs.items()]
    report = write_study_report(cfg, study, results, root, held=held, tokens=tokens, data_rows=rows,
                                seconds=seconds, missing=missing, planned=planned)
    return report


def _prepare_data(cfg: DaptConfig, study: StudyConfig, root: Path) -> tuple[dict[str, Any], dict[str, dict]]:
    """The study's token view (the run's shards minus the held-out sources) and every source's held-out
    documents written once for the harness."""
    from dapt.eval.run import write_heldout

    run_dir = cfg.run_dir
    manifest = read_manifest(run_dir / "tokens", "run the data stages first (dapt study without --skip-data)")
    missing = sorted(set(study.holdout_sources) - set(manifest["sources"]))
    if missing:
        raise UserError(f"study.holdout_sources names {missing}, which the tokenize stage did not write; "
                        f"sources are: {', '.join(sorted(manifest['sources']))}")
    view = root / "tokens"
    view.mkdir(exist_ok=True)
    for split in ("train", "val"):
        link = view / split
        if not link.exists():
            link.symlink_to((run_dir / "tokens" / split).resolve(), target_is_directory=True)
    trained = {**manifest, "sources": {k: v for k, v in manifest["sources"].items() if k not in study.holdout_sources},
               "held_out_sources": list(study.holdout_sources)}
    if read_manifest(view) != trained:  # unchanged bytes on a rerun: the mix stage hashes this file
        write_manifest(view, trained)
    eval_cfg = cfg.eval.model_copy(update={"max_docs": study.eval_max_docs})
    sources = {name: [run_dir / "tokens" / "val_text" / f"{name}.jsonl.gz"] for name, s in sorted(manifest["sources"].items())
               if int(s.get("val_docs", 0)) > 0}
    held = write_heldout(eval_cfg, sources, root / "heldout")
    pooled = root / "heldout" / "pooled.jsonl"
    with pooled.open("w", encoding="utf-8") as fh:
        for name, info in held.items():
            fh.write(Path(info["path"]).read_text(encoding="utf-8"))
    for name, info in held.items():
        info["path"], info["pooled"] = str(info["path"]), str(pooled)
        info["domain"] = manifest["sources"][name].get("domain", manifest["sources"][name]["group"])
        info["out_of_source"] = name in study.holdout_sources
    (root / "heldout" / "held.json").write_text(json.dumps(held, indent=2))
    return manifest, held


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _job(cfg: DaptConfig, study: StudyConfig, spec: RunSpec, root: Path, vocab: int, unique: dict[str, int],
         held: dict[str, dict]) -> dict[str, Any]:
    size = study.size(spec.size)
    out = root / spec.id
    out.mkdir(parents=True, exist_ok=True)

    def budget_at(share: float) -> dict[str, Any]:
        return token_budget(cfg, study, size, share, vocab, unique, out / "plan")

    if spec.token_fraction == 1:
        budget = budget_at(spec.share)
        target = budget["tokens"]
    else:  # a phase of continued pre-training: its part of the from-scratch mix arm's target
        full = budget_at(study.continued.share)
        base = int(round(full["tokens"] * study.continued.general_fraction))
        target = min(base, budget_at(0.0)["tokens"]) if spec.arm == "baseline" else full["tokens"] - base
        budget = {**full, "reason": f"{spec.token_fraction:g} of the from-scratch {study.continued.share:g} mix arm's "
                                    f"{full['tokens']:,} tokens ({full['reason']})"}
    monitor = "general" if spec.share == 0 else "domain" if spec.share == 1 else "mean"
    pretrain = cfg.pretrain.model_copy(update={
        "model": model_config(cfg, size), "seed": spec.seed, "token_target": target,
        "early_stopping": cfg.pretrain.early_stopping.model_copy(update={"monitor": monitor})})
    tokens_marker = cfg.run_dir / "tokens" / "_SUCCESS.json"
    upstream = json.loads(tokens_marker.read_text())["fingerprint"] if tokens_marker.is_file() else _hash(
        (root / "tokens" / "manifest.json").read_text())
    eval_cfg = cfg.eval.model_copy(update={"max_docs": study.eval_max_docs})
    job = {
        "spec": spec.to_dict(), "out_dir": str(out), "tokens_dir": str(root / "tokens"),
        "tokenizer_dir": str(cfg.run_dir / "tokenizer"), "held": str(root / "heldout" / "held.json"),
        "share": spec.share, "max_epochs": study.max_epochs, "token_target": target, "budget": budget,
        "pretrain": pretrain.model_dump(mode="json"), "eval": eval_cfg.model_dump(mode="json"),
        "init_from": str(root / spec.init_from / "model" / "hf") if spec.init_from else None,
        "init_from_id": spec.init_from, "threads": 1,
    }
    job["fingerprint"] = _hash({k: job[k] for k in ("spec", "token_target", "pretrain", "eval", "share", "max_epochs")}
                               | {"upstream": upstream, "held": {k: v["sha256"] for k, v in held.items()}})
    return job


def _cached(job: dict[str, Any]) -> dict[str, Any] | None:
    path = Path(job["out_dir"]) / "result.json"
    if path.is_file():
        result = json.loads(path.read_text())
        if result.get("fingerprint") == job["fingerprint"]:
            return result
    return None


def _train_all(jobs: dict[str, dict[str, Any]], study: StudyConfig) -> dict[str, dict[str, Any]]:
    """Every job, `study.workers` at a time; a continued run waits for the run it starts from."""
    results: dict[str, dict[str, Any]] = {}
    pending = []
    for rid, job in jobs.items():
        cached = _cached(job)
        if cached is not None:
            log.info("study: %s unchanged since its last run, skipped", rid)
            results[rid] = cached
        else:
            pending.append(rid)
    if study.workers == 1:
        for rid in pending:
            log.info("study: training %s (%d tokens)", rid, jobs[rid]["token_target"])
            results[rid] = execute_run(jobs[rid])
        return results
    ctx = multiprocessing.get_context("spawn")  # a fresh process per worker: its own process group and port
    with futures.ProcessPoolExecutor(study.workers, mp_context=ctx, initializer=_worker_init, initargs=(1,)) as pool:
        running: dict[futures.Future, str] = {}
        while pending or running:
            for rid in list(pending):
                dep = jobs[rid]["init_from_id"]
                if len(running) < study.workers and (dep is None or dep in results or dep not in jobs):
                    log.info("study: training %s (%d tokens)", rid, jobs[rid]["token_target"])
                    running[pool.submit(execute_run, jobs[rid])] = rid
                    pending.remove(rid)
            done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
            for fut in done:
                rid = running.pop(fut)
                results[rid] = fut.result()  # a failed run fails the study with its own error
                log.info("study: %s done (%s)", rid, results[rid]["train"]["stop_reason"])
    return results
