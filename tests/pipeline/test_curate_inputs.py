"""Input that is not what it claims (issue 18), through real curate runs: a file that is almost all dead
letters is named and can fail the stage, and rejected records load in `datasets` like kept ones."""

from __future__ import annotations

import gzip
import io
import json
import random

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from dapt.errors import StageFailed
from dapt.pipeline.curate.config import CurateConfig
from dapt.pipeline.curate.main import run_curate

from curate_texts import GOOD, OTHER


def _good_jsonl(path, n=6):
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"g{i}", "text": f"{GOOD} Item number {i}."}) + "\n")


def _binary_named_jsonl(path):
    """What a mislabelled download looks like: random bytes, hundreds of "lines", none of them JSON."""
    rng = random.Random(0)
    path.write_bytes(bytes(rng.randrange(256) for _ in range(40_000)))


def _config(tmp_path, **source):
    return CurateConfig(sources=[{"name": "good", "paths": [str(tmp_path / "in" / "good.jsonl.gz")]},
                                 {"name": "web", "paths": [str(tmp_path / "in" / "web" / "*")], **source}],
                        direct_running_mode="in_memory", direct_num_workers=1)


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "in" / "web").mkdir(parents=True)
    _good_jsonl(tmp_path / "in" / "good.jsonl.gz")
    _good_jsonl(tmp_path / "in" / "web" / "fine.jsonl.gz")
    _binary_named_jsonl(tmp_path / "in" / "web" / "download.jsonl")
    return tmp_path


def test_a_file_of_dead_letters_fails_the_stage_with_one_line(inputs):
    with pytest.raises(StageFailed) as err:
        run_curate(_config(inputs), inputs / "out")
    message = str(err.value)
    assert "\n" not in message and "download.jsonl" in message and "max_malformed_fraction" in message
    assert "curate.sources[web]" in message and "fine.jsonl" not in message
    assert not (inputs / "out" / "manifest.json").exists()  # not a finished stage


def test_an_accepted_file_of_dead_letters_gets_one_warning_line(inputs, capsys):
    run_curate(_config(inputs, max_malformed_fraction=1.0), inputs / "out")
    printed = capsys.readouterr().out
    warnings = [line for line in printed.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "web/download.jsonl" in warnings[0] and "(100%)" in warnings[0]
    stats = json.loads((inputs / "out" / "stats.json").read_text())
    (bad,) = stats["malformed_files"]
    assert (bad["source"], bad["file"], bad["fraction"]) == ("web", "download.jsonl", 1.0)
    assert bad["malformed"] == bad["records"] == stats["sources"]["web"]["docs"]["malformed"]


def test_max_malformed_fraction_is_validated():
    with pytest.raises(ValueError, match="max_malformed_fraction"):
        CurateConfig(sources=[{"name": "s", "max_malformed_fraction": 1.5}])


def _warc(path, page):
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for uri, ctype, body in [("http://t.test/a", "text/html", page.encode()),
                                 ("http://t.test/logo.png", "image/png", b"\x89PNG")]:
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(body),
                                                          length=len(body), http_headers=headers))


def test_rejected_and_kept_records_load_with_datasets(tmp_path):
    """Rejected records come from three places (read-time drops, rules, dedup), each with other signals."""
    datasets = pytest.importorskip("datasets")
    raw = tmp_path / "in"
    raw.mkdir()
    with gzip.open(raw / "mixed.jsonl.gz", "wt", encoding="utf-8") as fh:
        for i, text in enumerate([GOOD, "too short", GOOD, OTHER]):
            fh.write(json.dumps({"id": f"m{i}", "text": text}) + "\n")
    _warc(raw / "crawl.warc.gz", f"<html><body><article><p>{OTHER} The page ends here.</p></article></body></html>")
    cfg = CurateConfig(sources=[{"name": "mixed", "paths": [str(raw / "*")]}], direct_running_mode="in_memory",
                       direct_num_workers=1)
    out = tmp_path / "out"
    run_curate(cfg, out)

    rejected_files = sorted(str(p) for p in (out / "rejected").rglob("*.jsonl.gz"))
    assert {p.split("/")[-2] for p in rejected_files} == {"read", "rules", "dedup"}
    rejected = datasets.load_dataset("json", data_files=rejected_files, split="train", cache_dir=str(tmp_path / "c"))
    reasons = sorted(rejected["reason"])
    assert reasons == ["dedup/exact", "gopher/short_doc", "warc/not_html"]
    signals = {r["reason"]: json.loads(r["signals"]) for r in rejected}
    assert signals["warc/not_html"]["content_type"] == "image/png" and "duplicate_of" in signals["dedup/exact"]
    kept_files = sorted(str(p) for p in (out / "docs").rglob("*.jsonl.gz"))
    kept = datasets.load_dataset("json", data_files=kept_files, split="train", cache_dir=str(tmp_path / "c"))
    assert len(kept) == 3 and set(rejected.column_names) >= set(kept.column_names) - {"signals"}
