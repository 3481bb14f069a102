"""Decontamination: 13-gram overlap with benchmark files, drop or flag, hits per benchmark."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from dapt.pipeline.documents import Document
from dapt.pipeline.rules.decontam import BenchmarkIndex, benchmark_texts
from dapt.pipeline.select.config import DecontamConfig
from dapt.pipeline.select.transforms import Decontaminate

QUESTION = "Which doctrine bars a party from relitigating a claim that a court of competent jurisdiction has decided?"
ANSWER = "Res judicata."
PASSAGE = "The patient reported myalgia and fatigue for three weeks after starting the statin at forty milligrams daily"


def _bench(tmp_path: Path) -> tuple[Path, Path]:
    jsonl = tmp_path / "legal_qa.jsonl.gz"
    with gzip.open(jsonl, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"question": QUESTION, "answer": ANSWER, "label": 1}) + "\n")
    txt = tmp_path / "med.txt"
    txt.write_text(PASSAGE + "\n\nshort line\n", encoding="utf-8")
    return jsonl, txt


def test_index_counts_examples_and_finds_13_gram_overlap(tmp_path: Path):
    jsonl, txt = _bench(tmp_path)
    index = BenchmarkIndex(13)
    for text in benchmark_texts(jsonl, ["question", "answer"]):
        index.add("legal_qa", text)
    for text in benchmark_texts(txt):
        index.add("med", text)
    assert index.examples == {"legal_qa": 2, "med": 2}
    assert index.short_examples == {"legal_qa": 1, "med": 1}  # "Res judicata." and "short line" < 13 words
    # Case and punctuation do not hide an overlap (GPT-3 normalisation).
    leaked = "As the bar exam asked: WHICH doctrine bars a party from relitigating a claim that a court, of competent"
    assert index.hits(leaked) == ["legal_qa"]
    assert index.hits("which doctrine bars a party from relitigating a claim that a court") == []  # 12 shared
    assert index.hits(f"intro text {PASSAGE.upper()} more") == ["med"]


def test_decontaminate_drop_and_flag_modes(tmp_path: Path):
    jsonl, txt = _bench(tmp_path)
    docs = [
        Document(id="a", text=f"Blog post. {QUESTION} Answer below.", source="web", domain="general"),
        Document(id="b", text=f"Case report: {PASSAGE}.", source="med", domain="medical"),
        Document(id="c", text="Nothing from any benchmark appears in this ordinary page of text at all.", source="web",
                 domain="general"),
    ]
    benchmarks = [{"name": "legal_qa", "path": str(jsonl), "fields": ["question"]}, {"name": "med", "path": str(txt)}]
    with TestPipeline() as p:
        created = p | beam.Create(docs)
        drop = created | "Drop" >> Decontaminate(DecontamConfig(benchmarks=benchmarks))
        flag = created | "Flag" >> Decontaminate(DecontamConfig(benchmarks=benchmarks, mode="flag"))
        assert_that(drop["kept"] | "DK" >> beam.Map(lambda d: d.id), equal_to(["c"]), label="drop_kept")
        assert_that(
            drop["contaminated"] | "DC" >> beam.Map(lambda d: (d.id, tuple(d.signals["select/contaminated_by"]))),
            equal_to([("a", ("legal_qa",)), ("b", ("med",))]),
            label="drop_contaminated",
        )
        assert_that(drop["hits"], equal_to([("legal_qa", 1), ("med", 1)]), label="hits")
        assert_that(flag["kept"] | "FK" >> beam.Map(lambda d: d.id), equal_to(["a", "b", "c"]), label="flag_kept")
        assert_that(flag["contaminated"], equal_to([]), label="flag_none_dropped")
