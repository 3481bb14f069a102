"""run_curate end to end on small temporary files: outputs exist and the stats reconcile exactly."""

import base64
import gzip
import json

import pytest

from dapt.errors import UserError
from pipeline.curate.config import CurateConfig
from pipeline.curate.main import run_curate
from pipeline.documents import iter_documents

GOOD = (
    "The river rises in the hills to the north of the town and flows slowly through farmland before it "
    "reaches the sea. In spring the water is high and cold, and the farmers wait for it to fall before they "
    "plant their fields. Most of the old mills along its banks have been turned into houses, but one still "
    "grinds flour for the bakery in the square. Visitors come in summer to walk the path that follows the "
    "water from the bridge to the harbour, and the cafes stay open late. In winter the town is quiet again."
)
OTHER = (
    "The council met on Tuesday evening to discuss the budget for the coming year. Members agreed that the "
    "library should stay open on Sundays and that the swimming pool needs a new roof before the winter. A "
    "proposal to raise parking fees in the centre was rejected after a long debate with local shop owners. "
    "The mayor said the town would apply for a national grant to repair the old railway station, which has "
    "been closed since the line was moved to the coast. The next meeting will be held in March."
)
GERMAN = (
    "Der Ausschuss hat am Dienstag den Haushalt für das kommende Jahr beraten und beschlossen, dass die "
    "Stadt mehr Geld für Schulen, Straßen und das neue Krankenhaus ausgeben wird. Die Bürger konnten ihre "
    "Fragen stellen, und viele sprachen über die Preise für Wohnungen in der Innenstadt und am Fluss. "
    "Der Bürgermeister versprach, im Herbst einen neuen Plan für den Verkehr vorzulegen."
)


def _write_inputs(tmp_path):
    web = tmp_path / "web.jsonl.gz"
    with gzip.open(web, "wb") as fh:
        for i, text in enumerate([GOOD, "short one", OTHER, GOOD]):
            fh.write(json.dumps({"id": f"w{i}", "text": text}).encode() + b"\n")
        fh.write(b"\xff\xfe not utf-8\n")
        fh.write(b'{"id": "w5"}\n')
    legal = tmp_path / "legal.jsonl"
    legal.write_text(json.dumps({"id": "l0", "text": "  " + GOOD}) + "\n" + "not json\n")
    return web, legal


def _reconciles(bucket):
    return bucket["in"] == (bucket["kept"] + sum(bucket["dropped"].values()) + bucket["duplicates"]
                            + bucket["malformed"])


def test_run_curate_reconciles_and_writes_outputs(tmp_path, capsys):
    web, legal = _write_inputs(tmp_path)
    cfg = CurateConfig(
        sources=[{"name": "web", "paths": [str(tmp_path / "*.jsonl.gz")]},
                 {"name": "legal", "domain": "legal", "paths": str(legal)}],
        direct_running_mode="in_memory", direct_num_workers=1,
    )
    out = tmp_path / "curated"
    summary = run_curate(cfg, out)
    stats = json.loads((out / "stats.json").read_text())

    for entry in [*stats["sources"].values(), stats["total"]]:
        for measure in ("docs", "chars", "words"):
            assert _reconciles(entry[measure]), (measure, entry)
    web_docs, legal_docs = stats["sources"]["web"]["docs"], stats["sources"]["legal"]["docs"]
    assert web_docs == {"in": 6, "kept": 1, "dropped": {"gopher/short_doc": 1}, "duplicates": 2, "malformed": 2}
    # GOOD appears in both sources; after normalization they are equal and "legal" < "web" wins.
    assert legal_docs == {"in": 2, "kept": 1, "dropped": {}, "duplicates": 0, "malformed": 1}
    assert stats["sources"]["legal"]["chars"]["kept"] == len(GOOD) + 2  # input chars, before normalization
    assert summary["docs_in"] == 8 and summary["docs_kept"] == 2

    kept = {d.id: d for d in iter_documents(out / "docs")}
    assert set(kept) == {"l0", "w2"}
    assert kept["l0"].text == GOOD.strip() and kept["l0"].domain == "legal"
    assert kept["w2"].signals["language"] == "en"
    rejected = [json.loads(line) for p in (out / "rejected").glob("*.jsonl.gz") for line in gzip.open(p, "rt")]
    assert sorted((r["id"], r["signals"]["reason"]) for r in rejected) == [
        ("w0", "dedup/exact"), ("w1", "gopher/short_doc"), ("w3", "dedup/exact")]
    dead = [json.loads(line) for p in (out / "dead_letter").glob("*.jsonl.gz") for line in gzip.open(p, "rt")]
    assert sorted((r["source"], r["line"]) for r in dead) == [("legal", 2), ("web", 5), ("web", 6)]
    assert b"\xff\xfe not utf-8" in [base64.b64decode(r["raw_b64"]).rstrip(b"\n") for r in dead]
    assert stats["beam_counters"]["dedup/exact"] == 2 and stats["beam_counters"]["malformed"] == 3

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "curate" and len(manifest["inputs"]) == 2
    assert "TOTAL" in capsys.readouterr().out


def test_run_curate_user_errors(tmp_path):
    with pytest.raises(UserError, match="curate.sources is empty"):
        run_curate(CurateConfig(), tmp_path / "out")
    cfg = CurateConfig(sources=[{"name": "x", "paths": [str(tmp_path / "nothing*.jsonl")]}])
    with pytest.raises(UserError, match=r"sources\[x\]\.paths"):
        run_curate(cfg, tmp_path / "out")
