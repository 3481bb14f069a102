"""The eval stage: score Hugging Face causal-LM folders with lm-evaluation-harness, used as a library.

One ``simple_evaluate`` call per model over every task: the held-out perplexity tasks built here and
the benchmark tasks of eval/tasks (see eval/taskset.py), the same Task objects for every model.
Intrinsic metrics (word perplexity, byte perplexity, bits per byte) come from the harness's
``loglikelihood_rolling`` output type over whole held-out documents, exactly as its ``wikitext`` task
scores them; we only write the documents where the harness's ``json`` loader reads them and collect
its numbers. Bits per byte is tokenizer-independent, so models with different tokenizers compare fairly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dapt.errors import UserError
from dapt.eval.bootstrap import bits_per_byte, bpb_interval, paired_difference
from dapt.eval.config import EvalConfig
from dapt.pipeline.documents import iter_documents
from dapt.summary import strict_json
from dapt.manifest import write_manifest

# Nothing may be fetched at run time; set before the HF libraries are first imported (they read these
# once). setdefault: a user with a network who wants the harness's hub tasks can export HF_HUB_OFFLINE=0.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)

INTRINSIC_METRICS = ("bits_per_byte", "byte_perplexity", "word_perplexity")
INTRINSIC_PREFIX = "dapt_ppl_"


def run_eval(
    cfg: EvalConfig,
    models: dict[str, Path],
    heldout: dict[str, list[Path]],
    out_dir: Path,
    train_docs: Path | None = None,
) -> dict:
    """Scores every model on the held-out text and the benchmark tasks; writes results.json (the harness's
    raw results included), report.md/.json/.png and manifest.json. The first model is the reference
    the others are compared with."""
    from dapt.eval.contamination import contamination
    from dapt.eval.report import intrinsic_table, write_report
    from dapt.eval.taskset import example_texts, resolve_tasks, task_manager
    from lm_eval.utils import handle_non_serializable  # numpy, sets and functions in the harness's results

    out_dir = Path(out_dir)
    models = {name: check_model_dir(name, Path(path)) for name, path in models.items()}
    if not models:
        raise UserError("eval got no models; pass at least one Hugging Face model folder")
    if train_docs is not None and not Path(train_docs).exists():
        raise UserError(f"eval: training documents {train_docs} do not exist; pass the run's selected/docs folder")
    out_dir.mkdir(parents=True, exist_ok=True)

    manager = task_manager(cfg)
    held = write_heldout(cfg, heldout, out_dir / "data") if cfg.intrinsic else {}
    specs = resolve_tasks(cfg, manager) if cfg.tasks else []
    if not held and not specs:
        raise UserError("eval has nothing to score: give held-out text (intrinsic) or eval.tasks")
    ppl = manager.load([perplexity_task(g, info["path"]) for g, info in held.items()])["tasks"] if held else {}
    tasks = list(ppl.values()) + [spec.task for spec in specs]

    contam = None
    if train_docs is not None and specs:  # before scoring: a bad shard fails in seconds, not after hours
        try:
            contam = contamination({s.name: example_texts(s) for s in specs}, Path(train_docs),
                                   n=cfg.contamination_ngram, min_words=cfg.contamination_min_words)
        except (FileNotFoundError, KeyError, json.JSONDecodeError) as err:
            raise UserError(f"eval: training documents {train_docs} are not readable Document shards ({err}); "
                            f"pass the run's selected/docs folder") from err

    harness: dict[str, Any] = {}
    per_doc: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    per_example: dict[str, dict[str, dict[str, list]]] = {}
    with cpu_threads(cfg.cpu_threads):
        for name, path in models.items():
            log.info("eval | model %s (%s) | %d tasks", name, path, len(tasks))
            try:
                lm = load_lm(cfg, path)
            except (OSError, ValueError) as err:
                raise UserError(f"model {name!r}: {path} cannot be loaded as a causal LM ({err})") from err
            raw = evaluate_model(cfg, path, tasks, manager=manager, lm=lm)
            samples = raw.pop("samples", None) or {}  # the documents themselves stay out of results.json
            per_doc[name] = document_scores(samples, held)
            per_example[name] = example_scores(samples, [s.name for s in specs])
            harness[name] = raw

    reference = next(iter(models))
    by_domain = {name: domain_scores(per_doc[name], held) for name in models}
    results = {
        "reference": reference,
        "models": {name: str(path) for name, path in models.items()},
        "intrinsic": {name: intrinsic_scores(raw, held, per_doc[name], cfg.bootstrap_iters, cfg.seed)
                      for name, raw in harness.items()},
        "intrinsic_vs_reference": {
            name: {g: paired_difference(per_doc[reference][g][0], per_doc[name][g][0], per_doc[reference][g][1],
                                        cfg.bootstrap_iters, reference, name, seed=cfg.seed) for g in held}
            for name in models if name != reference
        },
        # The same documents split by their domain (legal, medical, financial, general): the domain
        # group pools three domains, which can hide a loss on one behind a gain on another.
        "intrinsic_by_domain": {name: {d: domain_row(ll, nb, cfg.bootstrap_iters, cfg.seed)
                                       for d, (ll, nb) in doms.items()} for name, doms in by_domain.items()},
        "intrinsic_by_domain_vs_reference": {
            name: {d: paired_difference(by_domain[reference][d][0], by_domain[name][d][0], by_domain[reference][d][1],
                                        cfg.bootstrap_iters, reference, name, seed=cfg.seed) for d in by_domain[name]}
            for name in models if name != reference
        },
        "heldout": {g: {k: v for k, v in info.items() if k != "path"} for g, info in held.items()},
        "tasks": {s.name: s.summary() for s in specs},
        "per_example": per_example,
        "num_fewshot": cfg.num_fewshot,
        "contamination": contam,
        "harness": harness,
    }
    results = strict_json(results, handle_non_serializable)
    results_path = out_dir / "results.json"
    results_path.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    report = write_report(results, out_dir)
    print(intrinsic_table(results["intrinsic"]))
    if specs:
        print(report["tasks_table"])

    summary = {
        "stage": "eval",
        "config": cfg.model_dump(),
        "inputs": {
            "models": {name: str(path) for name, path in models.items()},
            "heldout": {g: {"files": [str(p) for p in heldout[g]], "sha256": info["sha256"]} for g, info in held.items()},
            "tasks": {s.name: {k: str(v) for k, v in s.files.items()} for s in specs},
            "train_docs": str(train_docs) if train_docs else None,
        },
        "intrinsic": results["intrinsic"],
        "averages": report["averages"],
        "results": str(results_path),
        "report": {k: v for k, v in report.items() if k != "tasks_table"},
    }
    write_manifest(out_dir, strict_json(summary, handle_non_serializable))
    return summary


@contextlib.contextmanager
def cpu_threads(n: int | None):
    """torch's intra-op thread count set to n for the block, then put back (None: left alone)."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_model_dir(name: str, path: Path) -> Path:
    """A model folder must hold a save_pretrained config and a tokenizer; say which is missing."""
    if not path.is_dir():
        raise UserError(f"model {name!r}: folder {path} does not exist; point eval at a save_pretrained folder")
    if not (path / "config.json").is_file():
        raise UserError(f"model {name!r}: {path / 'config.json'} is missing; save the model with save_pretrained")
    if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
        raise UserError(f"model {name!r}: no tokenizer in {path}; save the tokenizer beside the model")
    return path.resolve()


def write_heldout(cfg: EvalConfig, heldout: dict[str, list[Path]], data_dir: Path) -> dict[str, dict]:
    """Writes each group's documents (first cfg.max_docs non-empty, taken in turn from each source's file so a
    cap still covers every source) as plain JSONL for the harness's json loader.

    Document shards carry a free-form ``signals`` dict whose keys differ between files, which Arrow's
    schema inference rejects; the copy keeps only id, text, source and domain.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    held: dict[str, dict] = {}
    for group, files in heldout.items():
        path = data_dir / f"{group}.jsonl"
        digest, n_docs, n_bytes, n_empty = hashlib.sha256(), 0, 0, 0
        try:
            with path.open("w", encoding="utf-8") as fh:
                for doc in _round_robin([iter_documents(Path(f)) for f in files]):
                    if not doc.text.strip():
                        n_empty += 1  # a rolling log-likelihood over zero bytes has no bits per byte
                        continue
                    line = json.dumps({"id": doc.id, "text": doc.text, "source": doc.source, "domain": doc.domain})
                    fh.write(line + "\n")
                    digest.update(line.encode("utf-8"))
                    n_docs += 1
                    n_bytes += len(doc.text.encode("utf-8"))
                    if cfg.max_docs is not None and n_docs >= cfg.max_docs:
                        break
        except FileNotFoundError as err:
            raise UserError(f"held-out group {group!r}: {err}; pass the run's tokens/val_text files") from err
        except (KeyError, json.JSONDecodeError) as err:
            raise UserError(f"held-out group {group!r}: a record in {files} is not a Document ({err})") from err
        if n_docs == 0:
            raise UserError(f"held-out group {group!r} has no non-empty documents in {[str(f) for f in files]}")
        held[group] = {"path": path, "docs": n_docs, "bytes": n_bytes, "empty_skipped": n_empty,
                       "sha256": digest.hexdigest()}
    return held


def _round_robin(streams: list) -> Iterator:
    """One item from each stream in turn until all are exhausted."""
    active = list(streams)
    while active:
        for stream in list(active):
            try:
                yield next(stream)
            except StopIteration:
                active.remove(stream)


def perplexity_task(group: str, path: Path) -> dict:
    """A harness task config for one held-out group: the wikitext task's recipe over a local JSONL file."""
    return {
        "task": f"{INTRINSIC_PREFIX}{group}",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(Path(path).resolve())}},
        "test_split": "test",
        "num_fewshot": 0,  # 0 in the config: the harness never overrides it with simple_evaluate's num_fewshot
        "output_type": "loglikelihood_rolling",
        "doc_to_text": "",
        "doc_to_target": "{{text}}",
        "metric_list": [
            {"metric": "word_perplexity", "aggregation": "weighted_perplexity", "higher_is_better": False},
            {"metric": "byte_perplexity", "aggregation": "weighted_perplexity", "higher_is_better": False},
            {"metric": "bits_per_byte", "aggregation": "bits_per_byte", "higher_is_better": False},
        ],
        "metadata": {"version": 1.0},
    }


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_lm(cfg: EvalConfig, path: Path):
    """The harness's HFLM wrapper around a local model folder (no hub access)."""
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(
        pretrained=str(path),
        device=resolve_device(cfg.device),
        dtype=cfg.dtype,
        batch_size=cfg.batch_size,
        max_length=cfg.max_length,
    )
    # Text is text: "<unk>" in WikiText or "</s>" in a page is scored as the characters it is, never as the
    # model's control tokens (which the harness places by id: the window prefix). Any model folder.
    lm.tokenizer.split_special_tokens = True
    backend = getattr(lm.tokenizer, "backend_tokenizer", None)
    if backend is not None:
        backend.encode_special_tokens = True
    return lm


def evaluate_model(cfg: EvalConfig, path: Path, tasks: list, manager, lm=None) -> dict:
    """One simple_evaluate call for one model over all tasks (built Task objects or configs); the harness's dict."""
    import lm_eval

    lm = lm if lm is not None else load_lm(cfg, path)
    raw = lm_eval.simple_evaluate(
        model=lm,
        tasks=tasks,
        task_manager=manager,
        num_fewshot=cfg.num_fewshot,
        limit=cfg.limit,
        bootstrap_iters=cfg.bootstrap_iters,
        log_samples=True,  # per-document log-likelihoods: the bootstrap intervals of bits per byte
        random_seed=cfg.seed,
        numpy_random_seed=cfg.seed,
        torch_random_seed=cfg.seed,
        fewshot_random_seed=cfg.seed,
    )
    if raw is None:  # only non-zero ranks get None; eval runs in one process
        raise RuntimeError("lm_eval.simple_evaluate returned no results")
    return raw


def document_scores(samples: dict, held: dict[str, dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per held-out group: each document's log-likelihood and UTF-8 bytes, in document order.

    The harness logs, per document, the pair it aggregates into bits per byte: (log-likelihood, bytes).
    """
    scores = {}
    for group in held:
        rows = sorted((s["doc_id"], *s["bits_per_byte"]) for s in samples.get(f"{INTRINSIC_PREFIX}{group}", []))
        scores[group] = (np.array([r[1] for r in rows], dtype=np.float64), np.array([r[2] for r in rows], dtype=np.float64))
    return scores


def domain_scores(docs: dict[str, tuple[np.ndarray, np.ndarray]], held: dict[str, dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per document domain (over every held-out group): the documents' log-likelihoods and bytes, in file order."""
    parts: dict[str, tuple[list, list]] = {}
    for group, info in held.items():
        with Path(info["path"]).open(encoding="utf-8") as fh:
            domains = [json.loads(line)["domain"] for line in fh if line.strip()]
        loglik, nbytes = docs[group]
        if len(domains) != len(loglik):  # eval.limit scored fewer documents than were written
            domains = domains[: len(loglik)]
        for domain, ll, nb in zip(domains, loglik, nbytes):
            acc = parts.setdefault(domain, ([], []))
            acc[0].append(ll)
            acc[1].append(nb)
    return {d: (np.array(ll, dtype=np.float64), np.array(nb, dtype=np.float64)) for d, (ll, nb) in sorted(parts.items())}


def domain_row(loglik: np.ndarray, nbytes: np.ndarray, iters: int, seed: int) -> dict[str, Any]:
    finite = bool(np.isfinite(loglik).all())
    return {"docs": int(len(loglik)), "bytes": int(nbytes.sum()),
            "bits_per_byte": bits_per_byte(loglik, nbytes) if finite else None,
            "bits_per_byte_ci95": bpb_interval(loglik, nbytes, iters, seed) if finite else None}


def example_scores(samples: dict, tasks: list[str]) -> dict[str, dict[str, list]]:
    """Per benchmark task: the example ids in order and each one's acc / acc_norm (what pairs models)."""
    from dapt.eval.report import TASK_METRICS

    scores: dict[str, dict[str, list]] = {}
    for task in tasks:
        rows = sorted(samples.get(task, []), key=lambda r: r["doc_id"])
        entry: dict[str, list] = {"doc_ids": [r["doc_id"] for r in rows]}
        for metric in TASK_METRICS:
            if rows and all(isinstance(r.get(metric), (int, float)) for r in rows):
                entry[metric] = [float(r[metric]) for r in rows]
        scores[task] = entry
    return scores


def intrinsic_scores(raw: dict, held: dict[str, dict], docs: dict[str, tuple[np.ndarray, np.ndarray]],
                     iters: int, seed: int) -> dict[str, dict]:
    """Picks the harness's intrinsic numbers per group, with a bootstrap interval of bits per byte; a
    non-finite value is reported as null, never hidden."""
    scores: dict[str, dict] = {}
    for group, info in held.items():
        res = raw["results"][f"{INTRINSIC_PREFIX}{group}"]
        row: dict[str, Any] = {"docs": info["docs"], "bytes": info["bytes"]}
        for metric in INTRINSIC_METRICS:
            value = float(res[f"{metric},none"])
            if not math.isfinite(value):
                log.warning("eval | %s %s is %s (diverged model?); written as null", group, metric, value)
                value = None
            row[metric] = value
        loglik, nbytes = docs[group]
        finite = row["bits_per_byte"] is not None and np.isfinite(loglik).all()
        row["bits_per_byte_ci95"] = bpb_interval(loglik, nbytes, iters, seed) if finite else None
        scores[group] = row
    return scores
