"""Evaluation throughput: our run_eval vs plain lm_eval.simple_evaluate, same model, tasks and files.

Plain: what a user of the harness does by hand: ``HFLM`` on the model folder, a ``TaskManager`` over a
copy of eval/tasks whose YAMLs point at the benchmark files, the held-out perplexity tasks as config
dicts, one ``simple_evaluate`` call, results written as JSON. Ours: ``eval.run.run_eval`` end to end
(held-out copy, file and label checks, the same harness call, results.json, report.md/json/png,
manifest). Both score every example of the 14 task formats (synthetic examples from eval/synthetic.py,
--examples per task) and the held-out documents (real text from ../shared/corpus when present).

Runs alternate plain/ours after one warm-up each (imports, datasets cache); the ratio is of medians.
CPU time (process_time) is reported beside wall time: on a shared machine it is the steadier of the two.

    /work/venv/bin/python bench/bench_eval.py --examples 40 --repeats 3
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from dapt.eval.config import EvalConfig  # noqa: E402
from dapt.eval.run import perplexity_task, run_eval, write_heldout  # noqa: E402
from dapt.eval.synthetic import GENERATORS, write_synthetic  # noqa: E402
from dapt.eval.taskset import TASKS_DIR  # noqa: E402
from dapt.eval.tiny import build_tiny_model  # noqa: E402
from dapt.pipeline.documents import Document, write_documents  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
HELDOUT_FILES = {"domain": "financial_reuters21578.jsonl.gz", "general": "general_bbc_news.jsonl.gz"}


def heldout_docs(group: str, n: int, max_chars: int) -> list[Document]:
    """n documents of real text per group from ../shared/corpus, or templated sentences where it is absent."""
    path = CORPUS / HELDOUT_FILES[group]
    docs = []
    if path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                if len(obj["text"]) >= 200:
                    docs.append(Document(str(obj["id"]), obj["text"][:max_chars], obj["source"], obj["domain"]))
                if len(docs) == n:
                    break
    while len(docs) < n:
        i = len(docs)
        docs.append(Document(f"synthetic-{i}", f"Document {i}: the {group} committee met on day {i} and agreed "
                             f"to review item {i * 7 % 13} next week. " * 8, "synthetic", group))
    return docs


def plain_lm_eval(model_dir: Path, tasks_dir: Path, ppl_tasks: list[dict], out_dir: Path, batch_size: int) -> int:
    """The harness by hand; returns the number of scored examples."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from lm_eval.utils import handle_non_serializable

    lm = HFLM(pretrained=str(model_dir), device="cpu", batch_size=batch_size)
    manager = TaskManager(include_path=str(tasks_dir), include_defaults=False)
    raw = lm_eval.simple_evaluate(model=lm, tasks=["dapt_domain", "dapt_general", *ppl_tasks],
                                  task_manager=manager, bootstrap_iters=1000, log_samples=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(raw, indent=2, default=handle_non_serializable))
    return sum(v["effective"] for v in raw["n-samples"].values())


HARNESS_CPU: list[float] = []  # CPU seconds spent inside harness calls during the last `ours` run


def _timed_harness(fn):
    """Wraps a function whose work plain lm_eval does too (model load, task build, simple_evaluate)."""
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            HARNESS_CPU.append(time.process_time() - start)
    return wrapper


def ours(cfg: EvalConfig, model_dir: Path, heldout: dict[str, list[Path]], out_dir: Path) -> int:
    from dapt.eval import run as eval_run, taskset as eval_taskset

    # In-run decomposition, immune to the machine's load drifting between runs: CPU inside the harness
    # work plain lm_eval also does, vs the rest of run_eval (our checks, held-out copy, report, manifest).
    HARNESS_CPU.clear()
    patched = {(eval_run, "load_lm"), (eval_run, "evaluate_model"), (eval_taskset, "build_tasks"),
               (eval_taskset, "task_manager")}
    originals = {(m, n): getattr(m, n) for m, n in patched}
    for (m, n), fn in originals.items():
        setattr(m, n, _timed_harness(fn))
    try:
        summary = run_eval(cfg, {"model": model_dir}, heldout, out_dir)
    finally:
        for (m, n), fn in originals.items():
            setattr(m, n, fn)
    raw = json.loads(Path(summary["results"]).read_text())["harness"]["model"]
    return sum(v["effective"] for v in raw["n-samples"].values())


def timed(fn, *args) -> tuple[float, float, int, float | None]:
    wall, cpu = time.perf_counter(), time.process_time()
    n = fn(*args)
    cpu = time.process_time() - cpu
    return time.perf_counter() - wall, cpu, n, (cpu - sum(HARNESS_CPU)) if fn is ours else None


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=40, help="scored examples per task")
    ap.add_argument("--docs", type=int, default=100, help="held-out documents per group")
    ap.add_argument("--max-chars", type=int, default=2000, help="held-out document length cap")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both (1 is steady on a shared CPU)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "eval_overhead.json")
    args = ap.parse_args(argv)

    import lm_eval
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench_eval_"))
    try:
        held = {g: heldout_docs(g, args.docs, args.max_chars) for g in HELDOUT_FILES}
        heldout = {}
        for group, docs in held.items():
            write_documents(work / "val_text" / f"{group}.jsonl.gz", docs)
            heldout[group] = [work / "val_text" / f"{group}.jsonl.gz"]
        model_dir = build_tiny_model(work / "model", [d.text for ds in held.values() for d in ds], vocab_size=2000,
                                     hidden=args.hidden, layers=args.layers, max_positions=2048)
        data_dir = work / "tasks_data"
        write_synthetic(data_dir, n={"train": 5, "test": args.examples})
        # Plain harness users edit the YAMLs' data_files; a copy of eval/tasks pointed at the bench files.
        tasks_dir = work / "tasks"
        tasks_dir.mkdir()
        for src in list(TASKS_DIR.glob("*.yaml")) + [TASKS_DIR / "utils.py"]:
            text = src.read_text().replace(": data/", f": {data_dir}/")
            (tasks_dir / src.name).write_text(text)
        cfg = EvalConfig(batch_size=args.batch_size, max_docs=args.docs, device="cpu", cpu_threads=args.threads,
                         task_data={f"dapt_{t}": {s: str(data_dir / t / f"{s}.jsonl") for s in ("train", "test")}
                                    for t in GENERATORS})
        # The plain run scores the same held-out text, written the same way (outside its timing).
        ppl = write_heldout(cfg, heldout, work / "plain_data")
        ppl_tasks = [perplexity_task(g, info["path"]) for g, info in ppl.items()]

        runs = {"plain": [], "ours": []}
        calls = {
            "plain": lambda i: timed(plain_lm_eval, model_dir, tasks_dir, ppl_tasks, work / f"plain{i}", args.batch_size),
            "ours": lambda i: timed(ours, cfg, model_dir, heldout, work / f"ours{i}"),
        }
        for name in ("plain", "ours"):
            calls[name]("warm")
        for i in range(args.repeats):
            for name in ("plain", "ours") if i % 2 == 0 else ("ours", "plain"):
                runs[name].append(calls[name](i))
        examples = {name: r[0][2] for name, r in runs.items()}
        if examples["plain"] != examples["ours"]:
            raise SystemExit(f"runs scored different example counts: {examples}")
        med = {name: {"wall_s": statistics.median(x[0] for x in r), "cpu_s": statistics.median(x[1] for x in r)}
               for name, r in runs.items()}
        n = examples["ours"]
        result = {
            "benchmark": "eval overhead: dapt run_eval vs plain lm_eval.simple_evaluate",
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "cpus": os.cpu_count(), "loadavg_1m": os.getloadavg()[0]},
            "versions": {"lm_eval": lm_eval.__version__ if hasattr(lm_eval, "__version__") else "?",
                         "torch": torch.__version__, "transformers": transformers.__version__},
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "tasks": sorted(f"dapt_{t}" for t in GENERATORS) + [t["task"] for t in ppl_tasks],
            "examples_per_run": n,
            "runs": {name: [{"wall_s": w, "cpu_s": c, **({"cpu_s_outside_harness": o} if o is not None else {})}
                            for w, c, _, o in r] for name, r in runs.items()},
            "median": med,
            "examples_per_s": {name: {"wall": n / m["wall_s"], "cpu": n / m["cpu_s"]} for name, m in med.items()},
            "overhead_ratio": {"wall": med["ours"]["wall_s"] / med["plain"]["wall_s"],
                               "cpu": med["ours"]["cpu_s"] / med["plain"]["cpu_s"]},
            # Same run, no drift: CPU of our layer / CPU of the harness work inside run_eval.
            "layer_share_in_run": statistics.median(o / (c - o) for _, c, _, o in runs["ours"]),
            "target": "ours / plain <= 1.05",
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{n} examples per run (14 task formats x {args.examples} + {2 * args.docs} held-out docs), "
          f"model d={args.hidden} x {args.layers} layers, {args.threads} thread(s), median of {args.repeats}")
    print("| run | wall s | cpu s | examples/s (wall) | examples/s (cpu) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in ("plain", "ours"):
        m, e = med[name], result["examples_per_s"][name]
        print(f"| {name} | {m['wall_s']:.2f} | {m['cpu_s']:.2f} | {e['wall']:.1f} | {e['cpu']:.1f} |")
    r = result["overhead_ratio"]
    print(f"overhead ratio ours/plain: wall {r['wall']:.3f}, cpu {r['cpu']:.3f} (target <= 1.05)")
    print(f"in-run: our layer's CPU / harness CPU inside run_eval = {result['layer_share_in_run']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
