"""Scaling: peak RSS and docs per CPU-second of `select` and `tokenize` at ~7, 30 and 100 MB of curated text.

Issue 14 (point 3): memory must stay flat as the input grows (target: peak RSS at 100 MB within 1.2x of 7 MB;
before this branch's base, select grew from 370 MB to 2.4 GB).

Inputs: every clean file of ../shared/corpus (not raw_web; ~110 MB of text, 41k documents) is read, its
documents shuffled with a fixed seed into one stream, and each size is the *prefix* of that stream holding the
wanted MB of UTF-8 text, so the three sets are nested and have the same mix of sources and document lengths.
Documents keep their text, domain and corpus file (as source) and are written as curated shards
(``write_documents``, ``<source>/part-NNNNN.jsonl.gz``, about 4 MB of text per shard). 100 MB fits in the
corpus, so nothing is repeated at the default sizes; a size beyond the corpus continues the stream with copies
whose words are edited at rate 0.3 (``edit_words``: ~83 % of 5-gram shingles change, far below near-dedup's
Jaccard 0.7) so that near-dedup does not collapse them.

Each stage runs in a fresh child process (``python -c`` calling run_select / run_tokenize) on the DirectRunner
in_memory with one worker, so the whole job is one process; the child's peak RSS and user+sys CPU seconds come
from ``os.wait4`` (its rusage, grandchildren included), cross-checked by polling the RSS of its process tree
with psutil every 0.2 s. select runs with ``SelectConfig()`` defaults and no quality model (every
keep_token_fraction 1.0; routing off); tokenize runs ``TokenizeConfig()`` (or ``--tokenize-config``) over the same input shards with one
byte-level BPE (vocab 8192) trained once by ``train_tokenizer`` on the 7 MB set. A third job, ``shuffle``, is the
runner's baseline: it reads the same shards and shuffles every document once (GroupByKey of its JSON), which on
this runner is held in the process's memory, as every shuffle of select and tokenize is. The machine is shared,
so rates are per CPU-second, not per wall second; "marginal" rates (between a size and the one before) cancel the
fixed start-up cost (imports, pipeline construction).

``--runner portable`` runs the same jobs the way a cluster does (issue 14's "no single-worker state that grows
with the corpus"): Beam's portable runner submits to Beam's Python job service
(``local_job_service_main``), whose runner keeps the shuffles (Dataflow's shuffle service, Flink's and Spark's
shuffle files), and the transforms run in SDK workers started by an external worker pool
(``worker_pool_main``, ``--environment_type=EXTERNAL``), the worker path of Dataflow, Flink and Spark. Every
process of both trees is polled for its RSS (0.2 s): the peak of the largest single SDK worker is the worker's
state, the job service's peak is the runner's shuffle storage, the child's own peak is the launcher's.

All three default sizes run in about 10 minutes on the shared 2-CPU machine (select on 100 MB: ~105 CPU-s, 2-3 min
wall). On this runner the measured peak RSS is the job's own state plus the runner's in-memory shuffles; the
``shuffle`` row shows what one shuffle of the input costs, and ``--select-config`` turns select's steps off to
attribute the rest.

    python bench/bench_scale.py [--sizes 7 30 100] [--stages select tokenize shuffle]
    python bench/bench_scale.py --runner portable --stages select tokenize --out bench/results/scale_portable.json
    python bench/bench_scale.py --stages select --select-config '{"near_dedup": {"enabled": false}}' --out /tmp/x.json
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dapt.pipeline.documents import Document, write_documents  # noqa: E402
from dapt.pipeline.sample.text import edit_words  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
DIRECT_ARGS = ["--runner=DirectRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"]
EDIT_RATE = 0.3
MIN_MARGINAL_CPU_S = 5.0

# The child: one stage, one process; prints a JSON summary on its last line.
_CHILD = """
import json, sys
from dapt.pipeline.select.config import SelectConfig
from dapt.pipeline.select.main import run_select
from dapt.pipeline.tokens.config import TokenizeConfig
from dapt.pipeline.tokens.main import run_tokenize
stage, docs, out, tok, stage_cfg = sys.argv[1:6]
beam_args = sys.argv[6:]
if stage == "shuffle":  # the runner's own cost: read the shards, shuffle every document once, count
    import hashlib
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to
    from dapt.pipeline.documents import iter_documents, shard_paths
    from dapt.pipeline.storage import pipeline_options
    shards = [s.url for s in shard_paths(docs)]
    n = sum(1 for _ in iter_documents(shards))
    with beam.Pipeline(options=pipeline_options(beam_args)) as p:
        counted = (p | beam.Create(shards) | beam.FlatMap(iter_documents)
                   | beam.Map(lambda d: (hashlib.sha1(d.origin.encode()).hexdigest()[:4], d.to_json()))
                   | beam.GroupByKey() | beam.Map(lambda kv: sum(1 for _ in kv[1])) | beam.CombineGlobally(sum))
        assert_that(counted, equal_to([n]))
    r = {"docs_in": n, "docs_out": n}
elif stage == "select":
    s = run_select(SelectConfig(**json.loads(stage_cfg)), docs, out, beam_args=beam_args)
    r = {"docs_in": s["docs_in"], "docs_out": s["docs_kept"], "near_duplicates": s["near_duplicates"]}
else:
    m = run_tokenize(TokenizeConfig(**json.loads(stage_cfg)), docs, tok, out, beam_args=beam_args)
    r = {"docs_in": m["docs"], "docs_out": m["docs"], "tokens": m["train_tokens"] + m["val_tokens"]}
# VmHWM: this process's own peak RSS (its mm since exec); rusage's ru_maxrss also counts the forked parent.
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"peak_rss_mb": int(hwm.split()[1]) / 1024, **r}))
"""


def corpus_stream(seed: int) -> list[Document]:
    """Every document of the clean corpus files (source = file stem), shuffled with ``seed``."""
    docs = []
    for path in sorted(CORPUS.glob("*.jsonl.gz")):
        source = path.name.removesuffix(".jsonl.gz")
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                obj = json.loads(line)
                if obj.get("text"):
                    docs.append(Document(id=str(obj.get("id", f"{source}-{n}")), text=obj["text"], source=source,
                                         domain=obj.get("domain", "general")))
    random.Random(seed).shuffle(docs)
    return docs


def take(stream: list[Document], mb: float, seed: int) -> tuple[list[Document], int]:
    """The prefix of the stream with ``mb`` MB of text; past its end, word-edited copies (pass 1, 2, ...);
    returns the documents and how many of them are edited copies."""
    out, size, rng = [], 0, random.Random(seed)
    n = 0
    while size < mb * 1e6:
        doc = stream[n % len(stream)]
        rep = n // len(stream)
        if rep:
            doc = Document(id=f"{doc.id}~{rep}", text=edit_words(doc.text, EDIT_RATE, rng), source=doc.source,
                           domain=doc.domain)
        out.append(doc)
        size += len(doc.text.encode("utf-8"))
        n += 1
    return out, max(0, n - len(stream))


def write_shards(docs: list[Document], repeated: int, out: Path, shard_mb: float) -> dict:
    """Curated-style shards: ``<source>/part-NNNNN.jsonl.gz`` of about ``shard_mb`` MB of text each."""
    by_source: dict[str, list[Document]] = {}
    for d in docs:
        by_source.setdefault(d.source, []).append(d)
    shards = 0
    for source, items in sorted(by_source.items()):
        part, size = [], 0
        for d in items:
            part.append(d)
            size += len(d.text.encode("utf-8"))
            if size >= shard_mb * 1e6:
                write_documents(out / source / f"part-{shards:05d}.jsonl.gz", part)
                part, size, shards = [], 0, shards + 1
        if part:
            write_documents(out / source / f"part-{shards:05d}.jsonl.gz", part)
            shards += 1
    return {"docs": len(docs), "text_mb": sum(len(d.text.encode("utf-8")) for d in docs) / 1e6,
            "sources": len(by_source), "shards": shards,
            "repeated_docs": repeated}


def _rss_by_pid(proc) -> dict[int, int]:
    """RSS of a process and each of its descendants, by pid (processes that ended are left out)."""
    import psutil

    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return {}
    out = {}
    for p in procs:
        try:
            out[p.pid] = p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PortableCluster:
    """Beam's job service and an external worker pool on 127.0.0.1, stopped on exit; ``beam_args`` submit to
    them and ``processes`` names the two process trees to watch."""

    def __init__(self, logs: Path):
        self.logs, self.started = logs, []

    def __enter__(self) -> "PortableCluster":
        import socket

        import psutil

        job_port, pool_port = _free_port(), _free_port()
        for name, port, argv in (
            ("job_service", job_port, ["-m", "apache_beam.runners.portability.local_job_service_main",
                                       f"--port={job_port}"]),
            ("worker_pool", pool_port, ["-m", "apache_beam.runners.worker.worker_pool_main",
                                        f"--service_port={pool_port}"]),
        ):
            # The pool starts each SDK worker as `python -c ...`: this interpreter's folder goes first on PATH.
            env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
            proc = subprocess.Popen([sys.executable, *argv], stdout=(self.logs / f"{name}.log").open("w"),
                                    stderr=subprocess.STDOUT, cwd=REPO, env=env)
            self.started.append((name, proc))
            deadline = time.monotonic() + 60
            while True:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start: {(self.logs / f'{name}.log').read_text()[-2000:]}")
                time.sleep(0.3)
        self.processes = {name: psutil.Process(proc.pid) for name, proc in self.started}
        self.beam_args = ["--runner=PortableRunner", f"--job_endpoint=127.0.0.1:{job_port}",
                          "--environment_type=EXTERNAL", f"--environment_config=127.0.0.1:{pool_port}"]
        return self

    def __exit__(self, *exc) -> None:
        for _, proc in self.started:
            proc.terminate()
        for _, proc in self.started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def measure(stage: str, docs: Path, out: Path, tok: Path, logs: Path, stage_cfg: dict, beam_args: list[str],
            cluster: PortableCluster | None) -> dict:
    """Runs one stage in a child process: peak RSS (rusage and polled tree; with a cluster, the peak of its
    largest SDK worker and of its job service too), CPU and wall seconds, summary."""
    import psutil

    out_log, err_log = logs / f"{stage}_{docs.name}.out", logs / f"{stage}_{docs.name}.err"
    cpu_before = _cluster_cpu(cluster)
    start = time.perf_counter()
    with out_log.open("w") as fo, err_log.open("w") as fe:
        child = subprocess.Popen([sys.executable, "-c", _CHILD, stage, str(docs), str(out), str(tok),
                                  json.dumps(stage_cfg), *beam_args],
                                 cwd=REPO, stdout=fo, stderr=fe)
    peak, done = [0], threading.Event()
    watched = {"launcher": psutil.Process(child.pid), **(cluster.processes if cluster else {})}
    per_pid: dict[tuple[str, int], int] = {}  # (tree, pid) -> peak RSS
    tree_peak: dict[str, int] = {}

    def poll() -> None:
        while not done.is_set():
            for name, proc in watched.items():
                rss = _rss_by_pid(proc)
                tree_peak[name] = max(tree_peak.get(name, 0), sum(rss.values()))
                for pid, value in rss.items():
                    per_pid[name, pid] = max(per_pid.get((name, pid), 0), value)
            peak[0] = tree_peak.get("launcher", 0)
            done.wait(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    # wait4 gives this child's own rusage (and its reaped descendants'), not the sum over all our children.
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    done.set()
    poller.join()
    if child.returncode != 0:
        raise RuntimeError(f"{stage} on {docs.name} failed ({child.returncode}):\n{err_log.read_text()[-4000:]}")
    summary = json.loads(out_log.read_text().strip().splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime
    result = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
              "user_s": round(usage.ru_utime, 2), "sys_s": round(usage.ru_stime, 2),
              # ru_maxrss (KiB) includes the RSS of the fork of this (large) parent before exec: not the child's own
              "rusage_maxrss_mb": round(usage.ru_maxrss / 1024, 1), "poll_peak_rss_mb": round(peak[0] / 2**20, 1),
              **summary, "peak_rss_mb": round(summary["peak_rss_mb"], 1)}
    if cluster is not None:
        pool_pid = cluster.processes["worker_pool"].pid
        workers = {pid: v for (name, pid), v in per_pid.items() if name == "worker_pool" and pid != pool_pid}
        result.update(
            launcher_peak_rss_mb=result["peak_rss_mb"],
            # the SDK workers: the state a cluster's worker holds
            worker_peak_rss_mb=round(max(workers.values(), default=0) / 2**20, 1), worker_processes=len(workers),
            worker_pool_tree_peak_rss_mb=round(tree_peak.get("worker_pool", 0) / 2**20, 1),
            # the runner's shuffle storage (on Dataflow: the shuffle service)
            job_service_peak_rss_mb=round(tree_peak.get("job_service", 0) / 2**20, 1),
            # the job's CPU is spent in the cluster's processes, not in the launcher
            cpu_s=round(cpu + _cluster_cpu(cluster) - cpu_before, 2),
        )
    return result


def _cluster_cpu(cluster: PortableCluster | None) -> float:
    """user+sys CPU seconds of the cluster's processes so far (the job service and every worker alive)."""
    import psutil

    if cluster is None:
        return 0.0
    total = 0.0
    for proc in cluster.processes.values():
        try:
            procs = [proc] + proc.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                pass
    return total


def train_small_tokenizer(docs: Path, out: Path, vocab: int) -> dict:
    from dapt.tokenizer.config import TokenizerConfig
    from dapt.tokenizer.train import train_tokenizer

    start = time.perf_counter()
    manifest = train_tokenizer(TokenizerConfig(vocab_size=vocab, show_progress=False), docs, out)
    return {"vocab_size": manifest.get("vocab_size", vocab), "train_s": round(time.perf_counter() - start, 1)}


def ratios(runs: list[dict], key: str) -> dict[str, float]:
    """Sets each run's peak RSS (``key``) ratio vs the smallest size of its stage; returns the largest per stage."""
    for r in runs:
        base = min((b for b in runs if b["stage"] == r["stage"]), key=lambda b: b["size_mb"])
        r["rss_ratio_vs_smallest"] = round(r[key] / base[key], 3)
    return {s: max(r["rss_ratio_vs_smallest"] for r in runs if r["stage"] == s) for s in sorted({r["stage"] for r in runs})}


def print_table(runs: list[dict], portable: bool) -> None:
    extra = f" {'worker MB':>10} {'job svc MB':>11}" if portable else ""
    print(f"\n{'size MB':>8} {'docs':>7} {'stage':<9} {'peak RSS MB':>12}{extra} {'CPU s':>8} {'wall s':>8} "
          f"{'docs/CPU-s':>11} {'marginal':>9} {'RSS x':>6}")
    for r in sorted(runs, key=lambda r: (r["stage"], r["size_mb"])):
        marginal = r.get("marginal_docs_per_cpu_s")
        extra = f" {r['worker_peak_rss_mb']:>10.1f} {r['job_service_peak_rss_mb']:>11.1f}" if portable else ""
        print(f"{r['text_mb']:>8.1f} {r['docs_in']:>7} {r['stage']:<9} {r['peak_rss_mb']:>12.1f}{extra} {r['cpu_s']:>8.1f} "
              f"{r['wall_s']:>8.1f} {r['docs_per_cpu_s']:>11.1f} {'' if marginal is None else f'{marginal:.1f}':>9} "
              f"{r['rss_ratio_vs_smallest']:>6.2f}")
    print("docs/CPU-s: whole process (imports and pipeline start included); marginal: between this size and the one before")
    if portable:
        print("peak RSS: the launcher; worker: the largest SDK worker; job svc: the runner, which holds the shuffles; "
              "RSS x: the worker's")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[7, 30, 100], help="MB of text per input")
    ap.add_argument("--stages", nargs="+", default=["select", "tokenize", "shuffle"], choices=["select", "tokenize", "shuffle"],
                    help="shuffle: a baseline job that reads the shards and shuffles each document once")
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--select-config", type=json.loads, default={},
                    help='SelectConfig fields as JSON, e.g. \'{"near_dedup": {"enabled": false}}\' (default: all defaults)')
    ap.add_argument("--tokenize-config", type=json.loads, default={},
                    help='TokenizeConfig fields as JSON, e.g. \'{"shard_tokens": 1000000}\' (default: all defaults)')
    ap.add_argument("--shard-mb", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runner", choices=["direct", "portable"], default="direct",
                    help="portable: Beam's job service + an external worker pool (the cluster's worker path)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scale.json")
    args = ap.parse_args(argv)
    portable = args.runner == "portable"
    rss_key = "worker_peak_rss_mb" if portable else "peak_rss_mb"
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}")
    sizes = sorted(args.sizes)
    result = {
        "benchmark": "select and tokenize peak RSS and docs per CPU-second at growing input "
                     + ("(PortableRunner: Beam's job service + external worker pool)" if portable
                        else "(DirectRunner in_memory, 1 worker)"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "versions": {p: version(p) for p in ("apache-beam", "tokenizers", "numpy", "psutil")},
        "settings": {"sizes_mb": sizes, "stages": args.stages, "vocab": args.vocab, "shard_mb": args.shard_mb,
                     "seed": args.seed, "edit_rate_of_repeats": EDIT_RATE, "runner": args.runner, "beam_args": "the portable cluster's (ports change per job)" if portable else DIRECT_ARGS,
                     "select_config": {"overrides": args.select_config, "quality_model": None},
                     "tokenize_config": {"overrides": args.tokenize_config}, "corpus": str(CORPUS)},
        "load_average_before": os.getloadavg(),
        "target": "peak RSS at the largest size <= 1.2x the smallest" + (" (of the largest SDK worker)" if portable else ""),
        "complete": False,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    (work / "logs").mkdir()
    runs, inputs = [], {}
    try:
        stream = corpus_stream(args.seed)
        for mb in sizes:
            inputs[mb] = write_shards(*take(stream, mb, args.seed), work / f"docs_{mb:g}mb", args.shard_mb)
            print(f"input {mb:g} MB: {inputs[mb]}", flush=True)
        del stream
        result["inputs"] = {f"{mb:g}": v for mb, v in inputs.items()}
        if "tokenize" in args.stages:
            result["tokenizer"] = train_small_tokenizer(work / f"docs_{sizes[0]:g}mb", work / "tokenizer", args.vocab)
            print(f"tokenizer: {result['tokenizer']}", flush=True)
        # Size by size (both stages at a size before the next): a run cut short still has whole sizes.
        for mb in sizes:
            for stage in args.stages:
                docs = work / f"docs_{mb:g}mb"
                # A fresh cluster per job: the job service keeps every finished job and the pool its idle
                # workers, so one shared by several jobs would add their memory to this one's.
                with PortableCluster(work / "logs") if portable else contextlib.nullcontext() as cluster:
                    beam_args = cluster.beam_args if cluster else DIRECT_ARGS
                    r = measure(stage, docs, work / f"out_{stage}_{mb:g}mb", work / "tokenizer", work / "logs",
                                {"select": args.select_config, "tokenize": args.tokenize_config}.get(stage, {}),
                                beam_args, cluster)
                r = {"stage": stage, "size_mb": mb, "text_mb": round(inputs[mb]["text_mb"], 2), **r,
                     "docs_per_cpu_s": round(r["docs_in"] / r["cpu_s"], 1),
                     "mb_per_cpu_s": round(inputs[mb]["text_mb"] / r["cpu_s"], 3)}
                prev = [p for p in runs if p["stage"] == stage]
                if prev:  # the fixed cost (imports, pipeline start) cancels: the rate the stage goes at when big
                    d_docs, d_cpu = r["docs_in"] - prev[-1]["docs_in"], r["cpu_s"] - prev[-1]["cpu_s"]
                    # under MIN_MARGINAL_CPU_S of difference the rate is noise (the baseline's case)
                    r["marginal_docs_per_cpu_s"] = round(d_docs / d_cpu, 1) if d_cpu >= MIN_MARGINAL_CPU_S else None
                runs.append(r)
                print(f"{stage} {mb:g} MB: {r}", flush=True)
                shutil.rmtree(work / f"out_{stage}_{mb:g}mb", ignore_errors=True)
                result.update(runs=runs, max_rss_ratio_vs_smallest=ratios(runs, rss_key), load_average_after=os.getloadavg())
                args.out.write_text(json.dumps(result, indent=2) + "\n")  # partial results survive a cut-short run
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result["complete"] = True
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(runs, portable)
    print("largest RSS ratio vs smallest: " + ", ".join(f"{s} {v:.2f}x" for s, v in result["max_rss_ratio_vs_smallest"].items())
          + " (target <= 1.2x)")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
