"""The select stage: NearDedup / SelectByQuality with TestPipeline, and run_select end to end on ~12 docs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from dapt.errors import UserError
from dapt.pipeline.documents import Document, iter_documents, write_documents
from dapt.pipeline.select.config import NearDedupConfig, SelectConfig, SelectionConfig
from dapt.pipeline.select.main import FATES, run_select
from dapt.pipeline.select.dedup import NearDedup
from dapt.pipeline.select.transforms import QUALITY, SelectByQuality


def _text(rng: random.Random, n: int = 120) -> str:
    return " ".join(f"w{rng.randrange(3000)}" for _ in range(n))


def _near(text: str, k: int) -> str:
    toks = text.split()
    toks[k] = "edited"
    return " ".join(toks)


def _corpus() -> list[Document]:
    rng = random.Random(7)
    docs = [Document(id=f"d{i}", text=_text(rng), source="web", domain="general") for i in range(8)]
    docs.append(Document(id="d8", text=_near(docs[0].text, 60), source="web", domain="general"))
    docs.append(Document(id="d9", text=_near(docs[0].text, 30), source="web", domain="general"))
    docs.append(Document(id="n1", text=_near(docs[3].text, 10), source="news", domain="general"))
    docs.append(Document(id="n2", text=_text(rng), source="news", domain="general"))
    return docs


def _scored(docs, scores):
    return [d.replace(signals={QUALITY: scores.get(d.id, 0.0)}) for d in docs]


def test_near_dedup_keeps_one_per_cluster_highest_score_then_lowest_id():
    docs = _scored(_corpus(), {"d9": 0.9})
    with TestPipeline() as p:
        out = p | beam.Create(docs) | NearDedup(NearDedupConfig())
        assert_that(
            out["kept"] | "KeptIds" >> beam.Map(lambda d: d.id),
            equal_to(["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d9", "n2"]),
            label="kept",
        )
        assert_that(
            out["near_duplicates"] | "DupIds" >> beam.Map(lambda d: (d.id, d.signals["select/near_duplicate_of"]["id"])),
            equal_to([("d0", "d9"), ("d8", "d9"), ("n1", "d3")]),
            label="dups",
        )
        assert_that(out["cluster_sizes"], equal_to([3, 2]), label="sizes")


def test_select_by_quality_threshold_keeps_the_target_token_fraction():
    rng = random.Random(1)
    docs = [Document(id=f"w{i}", text=_text(rng, 50), source="web", domain="general") for i in range(10)]
    docs = _scored(docs, {f"w{i}": i / 10 for i in range(10)})
    cfg = SelectionConfig(keep_token_fraction={"web": 0.3})
    with TestPipeline() as p:
        out = p | beam.Create(docs) | SelectByQuality(cfg)
        assert_that(out["kept"] | beam.Map(lambda d: d.id), equal_to(["w7", "w8", "w9"]), label="kept")
        assert_that(out["not_selected"] | "N" >> beam.combiners.Count.Globally(), equal_to([7]), label="dropped")


def test_run_select_end_to_end_reconciles_and_writes_shards(tmp_path: Path, capsys):
    docs = _corpus()
    write_documents(tmp_path / "curated" / "web" / "part-00000.jsonl.gz", docs[:6])
    write_documents(tmp_path / "curated" / "mixed" / "part-00000.jsonl.gz", docs[6:])
    summary = run_select(SelectConfig(), tmp_path / "curated", tmp_path / "selected")
    kept = list(iter_documents(tmp_path / "selected" / "docs"))
    assert sorted(d.id for d in kept) == ["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "n2"]
    assert summary["near_duplicates"] == 3 and summary["reconciled"]
    removed = {d.id: d.signals["select/near_duplicate_of"]["id"] for d in
               iter_documents(tmp_path / "selected" / "removed" / "near_duplicates")}
    assert removed == {"d8": "d0", "d9": "d0", "n1": "d3"}
    stats = json.loads((tmp_path / "selected" / "stats.json").read_text())
    for s in stats["sources"].values():
        for unit in ("docs", "words"):
            assert s["in"][unit] == sum(s[fate][unit] for fate in FATES)
    assert stats["clusters"]["histogram"] == {"2": 1, "3": 1}
    assert stats["sources"]["web"]["kept_token_fraction"] == pytest.approx(8 / 10)
    manifest = json.loads((tmp_path / "selected" / "manifest.json").read_text())
    assert manifest["stage"] == "select" and len(manifest["inputs"]["shards"]) == 2
    printed = capsys.readouterr().out
    assert "near-duplicate clusters: 2 (size:count 2:1, 3:1)" in printed and "docs and words): True" in printed


def test_fraction_below_one_without_a_model_is_a_user_error(tmp_path: Path):
    write_documents(tmp_path / "c" / "web" / "part-0.jsonl.gz", _corpus()[:2])
    cfg = SelectConfig(selection={"keep_token_fraction": {"web": 0.02}})
    with pytest.raises(UserError, match="quality model"):
        run_select(cfg, tmp_path / "c", tmp_path / "s")
    with pytest.raises(UserError, match="no curated documents"):
        run_select(SelectConfig(), tmp_path / "missing", tmp_path / "s")
    missing_bench = SelectConfig(decontam={"benchmarks": [{"name": "mmlu", "path": str(tmp_path / "nope.jsonl")}]})
    with pytest.raises(UserError, match=r"benchmarks\[mmlu\]\.path"):
        run_select(missing_bench, tmp_path / "c", tmp_path / "s")


def test_config_rejects_unknown_keys_and_bad_fractions():
    with pytest.raises(ValueError, match="extra"):
        SelectConfig(near_dedup={"bandz": 3})
    with pytest.raises(ValueError, match="keep_token_fraction"):
        SelectionConfig(keep_token_fraction={"web": 1.5})
