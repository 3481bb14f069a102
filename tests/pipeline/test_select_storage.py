"""The select stage and `dapt quality` on S3 (moto's real server): the same documents and stats as on disk."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np

from dapt.pipeline.documents import Document, iter_documents, write_documents
from dapt.pipeline.select.config import QualityModelConfig, SelectConfig
from dapt.pipeline.select.main import run_select
from dapt.pipeline.select.transforms import write_shard
from dapt.pipeline.select.quality_model import QualityModel, train_quality_model
from dapt.pipeline.storage import Location, use_pipeline_options

NAV = "Home | News | Sport | Weather"
BENCH = "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat by the door"
GOOD = "the court held that the contract was valid and the parties agreed to the terms of the lease".split()
BAD = "click here buy now free shipping cookie login sign up best price deal subscribe share".split()


def _docs() -> list[Document]:
    rng = random.Random(5)
    docs = []
    for i in range(16):
        vocab = GOOD if i % 2 else BAD
        body = " ".join(rng.choice(vocab) + str(rng.randrange(40)) for _ in range(70))
        docs.append(Document(id=f"w{i:02d}", text=f"{NAV}\n{body}", source="web", domain="general", origin=f"f:{i}"))
    for i in range(3):  # near-duplicates of w00..w02
        toks = docs[i].text.split(" ")
        toks[20] = "changed"
        docs.append(Document(id=f"v{i}", text=" ".join(toks), source="web", domain="general", origin=f"g:{i}"))
    docs.append(Document(id="leak", text=f"intro {BENCH} outro", source="web", domain="general", origin="g:9"))
    return docs


def _reference(where: Location, vocab: list[str], seed: int) -> Location:
    rng = random.Random(seed)
    lines = [json.dumps({"id": str(i), "text": " ".join(rng.choice(vocab) for _ in range(40))}) for i in range(30)]
    where.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    return where


def _run(root: Location, beam_args: list[str]) -> tuple[dict, list[str], dict]:
    """Uploads the inputs below ``root``, trains the quality model there and runs select there."""
    use_pipeline_options(beam_args)  # for the uploads; a run on disk before reset the launcher's options
    docs = _docs()
    write_documents(root / "curated" / "web" / "part-00000.jsonl.gz", docs[::2])
    write_documents(root / "curated" / "web" / "part-00001.jsonl.gz", docs[1::2])
    (root / "bench.txt").write_text(BENCH + "\n")
    pos = _reference(root / "ref" / "pos.jsonl.gz", GOOD, 1)
    neg = _reference(root / "ref" / "neg.jsonl.gz", BAD, 2)
    model = root / "quality" / "model.npz"
    train_quality_model(QualityModelConfig(n_features=1 << 12), [pos], [neg], model, beam_args=beam_args)
    assert (root / "quality" / "quality_model_manifest.json").is_file()
    cfg = SelectConfig(
        lines={"max_docs": 5},
        decontam={"benchmarks": [{"name": "toy", "path": str(root / "bench.txt")}]},
        selection={"keep_token_fraction": {"web": 0.5}},
    )
    summary = run_select(cfg, root / "curated", root / "selected", beam_args=beam_args, quality_model=model)
    out = root / "selected"
    assert not (out / "_work").exists()
    kept = {f.url[len(out.url):]: f.read_bytes() for f in (out / "docs").files()}
    assert kept and (out / "manifest.json").is_file()
    stats = json.loads((out / "stats.json").read_text())
    removed = sorted(d.id for d in iter_documents(out / "removed"))
    summary.pop("docs_dir")
    loaded = QualityModel.load(model)
    return {"summary": summary, "stats": stats, "kept": kept}, removed, {"coef": loaded.coef}


def test_select_on_s3_matches_the_same_run_on_local_disk(s3_server, tmp_path: Path):
    local, local_removed, local_model = _run(Location(tmp_path / "disk"), [])
    remote, remote_removed, remote_model = _run(Location(f"s3://{s3_server.bucket}/select"), s3_server.beam_args)
    assert remote == local  # the kept shards byte for byte, stats, summary
    assert remote_removed == local_removed and "leak" in remote_removed and "v0" in remote_removed
    assert np.array_equal(remote_model["coef"], local_model["coef"])
    s = remote["stats"]["sources"]["web"]
    assert s["near_duplicates"]["docs"] == 3 and s["contaminated"]["docs"] == 1 and s["not_selected"]["docs"] > 0
    assert s["removed_lines"]["words"] > 0 and remote["stats"]["reconciled"]


def test_a_retried_shard_write_replaces_the_file_whole(tmp_path: Path):
    rows = [("b", '{"id": "b"}'), ("a", '{"id": "a"}')]
    first = write_shard(str(tmp_path / "docs"), "web", 0, 2, rows, str(tmp_path / "tmp"))
    again = write_shard(str(tmp_path / "docs"), "web", 0, 2, rows[::-1], str(tmp_path / "tmp"))  # the retry
    assert first == again and first["docs"] == 2
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["docs/web/part-00000-of-00002.jsonl.gz"]  # nothing doubled, no temporary file left
    assert gzip.decompress((tmp_path / files[0]).read_bytes()) == b'{"id": "a"}\n{"id": "b"}\n'
