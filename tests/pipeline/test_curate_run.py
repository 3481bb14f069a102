"""run_curate end to end, in one Beam run: the sample corpus (scored against its ground truth) plus a mixed
input of JSONL, WARC and Parquet with every kind of bad input mixed in; the stats reconcile exactly."""

import base64
import gzip
import io
import json
import random
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from dapt.errors import StageFailed, UserError
from dapt.pipeline.curate.config import CurateConfig
from dapt.pipeline.curate.main import run_curate
from dapt.pipeline.documents import iter_documents
from dapt.pipeline.sample.corpus import SOURCE_DOMAIN, SampleConfig, write_sample_corpus

from curate_texts import GOOD, OTHER

CONTACT = " Questions about the walk go to guide@river-town.example or (202) 555-0143."
PAGE = f"<html><body><nav>Home | About</nav><article><h1>Council</h1><p>{OTHER}</p></article></body></html>"


def _mixed_inputs(root):
    """web.jsonl.gz (good, duplicate, short, bad lines), a truncated gzip, an empty file, a WARC and a Parquet."""
    root.mkdir()
    with gzip.open(root / "web.jsonl.gz", "wb") as fh:
        for i, text in enumerate([GOOD + CONTACT, "too short", GOOD + CONTACT]):
            fh.write(json.dumps({"id": f"w{i}", "text": text}).encode() + b"\n")
        fh.write(b'{"id": "w3", "text": "caf\xe9 au lait"}\n')  # invalid UTF-8
        fh.write(b"this is not json\n")
        fh.write(b'{"id": "w5"}\n')  # missing text
        fh.write(b'{"id": "w6", "text": ["a", "list"]}\n')  # non-string text
    whole = gzip.compress(b"".join(json.dumps({"id": f"t{i}", "text": OTHER + f" Item {i}."}).encode() + b"\n"
                                   for i in range(100)))
    (root / "cut.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (root / "empty.jsonl").write_bytes(b"")
    with open(root / "crawl.warc.gz", "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for uri, ctype, body in [("http://t.test/council", "text/html", PAGE.encode()),
                                 ("http://t.test/logo.png", "image/png", b"\x89PNG")]:
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(body),
                                                          length=len(body), http_headers=headers))
    pq.write_table(pa.table({"id": ["p0", "p1"], "text": [GOOD + CONTACT, None]}), root / "table.parquet")


def _reconciles(bucket):
    return bucket["in"] == (bucket["kept"] + sum(bucket["dropped"].values()) + bucket["duplicates"]
                            + bucket["malformed"])


def _gz_json(folder):
    return [json.loads(line) for p in sorted(folder.rglob("*.jsonl.gz")) for line in gzip.open(p, "rt")]


def test_run_curate_mixed_inputs_and_sample_corpus(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_sample_corpus(SampleConfig(docs_per_domain=15, general_docs=20, web_docs=100), raw)
    _mixed_inputs(tmp_path / "mixed")
    sources = [{"name": name, "domain": domain, "paths": [str(raw / f"{name}.jsonl.gz")]}
               for name, domain in SOURCE_DOMAIN.items()]
    sources.append({"name": "mixed", "paths": [str(tmp_path / "mixed" / "*")]})
    cfg = CurateConfig(sources=sources, direct_running_mode="in_memory", direct_num_workers=1)
    out = tmp_path / "curated"
    summary = run_curate(cfg, out)
    stats = json.loads((out / "stats.json").read_text())

    # Exactly one outcome per record, per source and in total, for docs, characters and words.
    for entry in [*stats["sources"].values(), stats["total"]]:
        for measure in ("docs", "chars", "words"):
            assert _reconciles(entry[measure]), (measure, entry)
    assert summary["docs_in"] == stats["total"]["docs"]["in"]

    # The mixed source: 7 JSONL lines + what the truncated gzip gave + 2 WARC responses + 2 Parquet rows.
    mixed = stats["sources"]["mixed"]["docs"]
    cut_docs = mixed["in"] - 7 - 2 - 2 - 1  # the truncated gzip also adds one dead letter
    assert 0 < cut_docs < 100
    assert mixed["malformed"] == 4 + 1 + 1  # four bad JSONL lines, the truncated gzip, the null Parquet text
    assert mixed["dropped"] == {"gopher/short_doc": 1, "warc/not_html": 1}
    # GOOD + CONTACT is in w0, w2 and Parquet row p0: the lowest (source, id), p0, survives.
    assert mixed["duplicates"] == 2 and mixed["kept"] == cut_docs + 1 + 1  # cut docs, p0, the WARC page
    assert stats["sources"]["mixed"]["pii"] == {"email": 1, "phone": 1}
    kept = {d.id: d for d in iter_documents(out / "docs" / "mixed")}
    assert "<EMAIL>" in kept["p0"].text and "<PHONE>" in kept["p0"].text and "@" not in kept["p0"].text
    assert kept["p0"].signals["pii"] == {"email": 1, "phone": 1} and "w0" not in kept and "w2" not in kept
    warc_doc = next(d for d in kept.values() if d.signals.get("url") == "http://t.test/council")
    assert "railway station" in warc_doc.text and "Home | About" not in warc_doc.text

    dead = [r for r in _gz_json(out / "dead_letter") if r["source"] == "mixed"]
    errors = sorted(r["error"].split(":")[0] for r in dead)
    assert errors == ["invalid UTF-8", "not JSON", "text field 'text' is a list, not a string",
                      "text field 'text' is missing", "text field 'text' is missing",
                      f"unreadable after line {cut_docs}"]
    assert any(base64.b64decode(r["raw_b64"]).startswith(b'{"id": "w3", "text": "caf\xe9') for r in dead)
    rejected = {(r["id"], r["reason"]) for r in _gz_json(out / "rejected") if r["source"] == "mixed"}
    assert {("w1", "gopher/short_doc"), ("w0", "dedup/exact"), ("w2", "dedup/exact")} <= rejected

    # The sample corpus against its ground truth.
    truth = json.loads((raw / "ground_truth.json").read_text())["docs"]
    outcome = {}
    for name in SOURCE_DOMAIN:
        outcome.update({d.id: "kept" for d in iter_documents(out / "docs" / name)})
    outcome.update({r["id"]: r["reason"] for r in _gz_json(out / "rejected") if r["source"] != "mixed"})
    expected_prefix = {"keep": "kept", "near_duplicate": "kept", "exact_duplicate": "dedup/exact",
                       "short": "gopher/short_doc", "non_english": "language/"}
    for doc_id, info in truth.items():
        if info["outcome"] == "malformed":
            continue
        got = outcome.get(doc_id)
        if info["outcome"] == "junk":
            assert got not in (None, "kept"), doc_id
        else:
            assert got and got.startswith(expected_prefix[info["outcome"]]), (doc_id, info, got)
    sample_malformed = sum(stats["sources"][n]["docs"]["malformed"] for n in SOURCE_DOMAIN)
    assert sample_malformed == sum(1 for info in truth.values() if info["outcome"] == "malformed")

    # Counters name the reasons; the manifest and the summary table are written.
    assert stats["beam_counters"]["dedup/exact"] == stats["total"]["docs"]["duplicates"]
    assert stats["beam_counters"]["malformed"] == stats["total"]["docs"]["malformed"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "curate" and len(manifest["inputs"]) == len(SOURCE_DOMAIN) + 5
    printed = capsys.readouterr().out
    assert "TOTAL" in printed and "gopher/short_doc" in printed
    assert not list(out.glob(".temp*")) and not (out / ".staging").exists()


def test_run_curate_user_errors(tmp_path):
    with pytest.raises(UserError, match="curate.sources is empty"):
        run_curate(CurateConfig(), tmp_path / "out")
    cfg = CurateConfig(sources=[{"name": "x", "paths": [str(tmp_path / "nothing*.jsonl")]}])
    with pytest.raises(UserError, match=r"sources\[x\]\.paths"):
        run_curate(cfg, tmp_path / "out")
    (tmp_path / "data.xlsx").write_bytes(b"x")
    cfg = CurateConfig(sources=[{"name": "x", "paths": [str(tmp_path / "data.xlsx")]}])
    with pytest.raises(UserError, match="set format"):
        run_curate(cfg, tmp_path / "out")


def test_beam_args_pass_through_and_local_defaults():
    from apache_beam.options.pipeline_options import DirectOptions, SetupOptions, StandardOptions

    from dapt.pipeline.storage import pipeline_options

    defaults = {"direct_running_mode": "multi_processing", "direct_num_workers": 0}
    local = pipeline_options([], **defaults)
    assert local.view_as(DirectOptions).direct_running_mode == "multi_processing"
    assert local.view_as(DirectOptions).direct_num_workers == 0  # every core
    cluster = pipeline_options(["--runner=FlinkRunner", "--setup_file=./setup.py", "--direct_num_workers=4"],
                               **defaults)
    assert cluster.view_as(StandardOptions).runner == "FlinkRunner"
    assert cluster.view_as(SetupOptions).setup_file == "./setup.py"
    assert cluster.view_as(DirectOptions).direct_num_workers == 4  # the user's flag wins


def test_a_job_that_reads_nothing_fails_instead_of_succeeding_empty(tmp_path):
    """Inputs the workers cannot open (as on a cluster whose workers do not see the launcher's disk) end as
    dead letters; a job whose every record is one must fail with one line, not exit 0 with 0 documents."""
    (tmp_path / "a.jsonl.gz").write_bytes(b"this is not gzip")
    (tmp_path / "b.jsonl").write_bytes(b"")
    cfg = CurateConfig(sources=[{"name": "x", "paths": [str(tmp_path / "b.jsonl")]}], direct_running_mode="in_memory")
    with pytest.raises(StageFailed, match="read no records from 1 input files"):
        run_curate(cfg, tmp_path / "out")

    config = tmp_path / "one.yaml"
    config.write_text(f"curate:\n  direct_running_mode: in_memory\n  sources:\n"
                      f"    - {{name: x, domain: general, paths: ['{tmp_path / 'a.jsonl.gz'}']}}\n")
    proc = subprocess.run([sys.executable, "-m", "dapt", "curate", str(config), "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("dapt: failed: curate could not read any input: all 1 records of 1 files are dead")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run" / "curated" / "_SUCCESS.json").exists()


def test_a_file_read_in_byte_ranges_gives_the_same_documents(tmp_path):
    """split_bytes spreads one large JSONL file over workers; what curate keeps does not depend on it."""
    from dapt.pipeline.sample.text import clean_doc

    rng = random.Random(5)
    path = tmp_path / "one.jsonl"
    rows = [{"id": i, "text": clean_doc("legal", rng)} for i in range(40)]
    rows += [{"id": 40, "text": GOOD}, {"id": 41, "text": GOOD}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kept = {}
    for split in (1024, 64 * 2**20):
        cfg = CurateConfig(sources=[{"name": "x", "domain": "legal", "paths": [str(path)]}], split_bytes=split,
                           direct_running_mode="in_memory")
        summary = run_curate(cfg, tmp_path / f"out{split}")
        assert summary["docs_in"] == 42 and summary["duplicates"] == 1
        kept[split] = sorted(d.text for d in iter_documents(tmp_path / f"out{split}" / "docs"))
    assert kept[1024] == kept[64 * 2**20] and len(kept[1024]) > 30


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_failed_rerun_leaves_the_previous_outputs_intact_and_a_good_one_replaces_them(tmp_path):
    """Outputs are replaced only by a job that finished: a rerun that fails keeps the last good documents,
    stats and manifest byte for byte; a rerun that succeeds leaves nothing of the old outputs behind."""
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate([GOOD, OTHER, "short"])))
    out = tmp_path / "out"
    source = {"name": "x", "domain": "legal", "paths": [str(good)]}
    run_curate(CurateConfig(sources=[source], direct_running_mode="in_memory"), out)
    before = _files(out)
    assert "stats.json" in before and any(name.startswith("rejected/") for name in before)

    (tmp_path / "bad.jsonl.gz").write_bytes(b"this is not gzip")
    broken = CurateConfig(sources=[{**source, "paths": [str(tmp_path / "bad.jsonl.gz")]}],
                          direct_running_mode="in_memory")
    with pytest.raises(StageFailed, match="could not read any input"):
        run_curate(broken, out)
    assert {k: v for k, v in _files(out).items() if not k.startswith(".staging/")} == before
    assert (out / ".staging" / "dead_letter").is_dir()  # the failed attempt, left for inspection

    run_curate(CurateConfig(sources=[source], write_rejected=False, direct_running_mode="in_memory"), out)
    after = _files(out)
    assert not any(name.startswith(("rejected/", ".staging/")) for name in after)  # nothing stale left
    assert json.loads(after["stats.json"])["total"]["docs"]["kept"] == json.loads(before["stats.json"])["total"]["docs"]["kept"]
