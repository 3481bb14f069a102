"""Byte-identical select output whatever the input shard order and the number of DirectRunner workers."""

from __future__ import annotations

import json
import random
from pathlib import Path

from dapt.pipeline.documents import Document, write_documents
from dapt.pipeline.select.config import SelectConfig
from dapt.pipeline.select.main import run_select

BOILER = "Home | News | Sport | Weather\n"


def _docs() -> list[Document]:
    rng = random.Random(3)
    docs = []
    for i in range(24):
        body = " ".join(f"t{rng.randrange(800)}" for _ in range(80))
        docs.append(Document(id=f"w{i:02d}", text=BOILER + body, source="web", domain="general"))
    for i in range(4):  # near-duplicates of w00..w03 (2 words of 80 changed)
        toks = docs[i].text.split(" ")
        toks[10], toks[40] = "changed", "edited"
        docs.append(Document(id=f"v{i}", text=" ".join(toks), source="web", domain="general"))
    docs.append(Document(id="leak", text="intro " + BENCH + " outro", source="web", domain="general"))
    return docs


BENCH = "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat by the door"


def _write(folder: Path, docs: list[Document], n_shards: int) -> None:
    for k in range(n_shards):
        write_documents(folder / "web" / f"part-{k:05d}.jsonl.gz", docs[k::n_shards])


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_output_is_byte_identical_across_shard_order_and_worker_counts(tmp_path: Path):
    bench = tmp_path / "bench.txt"
    bench.write_text(BENCH + "\n", encoding="utf-8")
    cfg = SelectConfig(
        lines={"max_docs": 5},
        decontam={"benchmarks": [{"name": "toy", "path": str(bench)}]},
        shards_per_source=3,
    )
    docs = _docs()
    _write(tmp_path / "in_a", docs, 2)
    shuffled = docs[:]
    random.Random(0).shuffle(shuffled)
    _write(tmp_path / "in_b", shuffled, 5)

    run_select(cfg, tmp_path / "in_a", tmp_path / "out_a", beam_args=["--direct_num_workers=1"])
    run_select(
        cfg,
        tmp_path / "in_b",
        tmp_path / "out_b",
        beam_args=["--direct_num_workers=2", "--direct_running_mode=multi_threading"],
    )
    a, b = _files(tmp_path / "out_a" / "docs"), _files(tmp_path / "out_b" / "docs")
    assert a and a == b
    stats_a = json.loads((tmp_path / "out_a" / "stats.json").read_text())
    stats_b = json.loads((tmp_path / "out_b" / "stats.json").read_text())
    assert stats_a["sources"] == stats_b["sources"] and stats_a["clusters"] == stats_b["clusters"]
    web = stats_a["sources"]["web"]
    assert web["near_duplicates"]["docs"] == 4 and web["contaminated"]["docs"] == 1
    assert web["removed_lines"]["words"] == 28 * 7  # the navigation line, 7 words, cut from 28 pages
    assert stats_a["decontamination"]["benchmarks"]["toy"]["docs_hit"] == 1
    assert stats_a["reconciled"]
