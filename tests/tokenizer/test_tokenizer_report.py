"""Tokenizer report: metrics against a baseline, term table, files written, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dapt.errors import UserError
from dapt.tokenizer.config import TokenizerConfig
from dapt.tokenizer.report import heldout_texts, measure, report_tokenizer, split_term
from dapt.tokenizer.train import load_tokenizer, train_tokenizer

TERMS = {"legal": ["plaintiff", "res judicata"], "medical": ["hypertension"], "financial": ["EBITDA", "$1,234.56"]}


def tiny_cfg(**overrides) -> TokenizerConfig:
    """Same settings as the shared `trained` fixture, with the test's term lists."""
    base = {"vocab_size": 512, "show_progress": False, "min_sample_bytes": 1000, "report": {"terms": TERMS}}
    return TokenizerConfig(**{**base, **overrides})


@pytest.fixture(scope="module")
def baseline(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("baseline")
    train_tokenizer(tiny_cfg(), corpus, out, domains={"general"})
    return out


@pytest.fixture(scope="module")
def report(trained, baseline, heldout, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("report")
    return out, report_tokenizer(tiny_cfg(), trained[0], baseline, heldout, out)


def test_mixture_tokenizer_needs_fewer_tokens_per_word_on_domain_text(report):
    _, rep = report
    assert set(rep["domains"]) == {"legal", "medical", "financial", "general"}
    for domain in ("legal", "medical", "financial"):
        row = rep["domains"][domain]
        assert row["tokenizer"]["fertility"] < row["baseline"]["fertility"], domain
        assert row["tokenizer"]["split_3plus_share"] <= row["baseline"]["split_3plus_share"], domain
        assert row["tokens_ratio"] < 1
        assert rep["fewer_tokens_per_word"][domain]
    # Both tokenizers saw the same text: same words and bytes, only the token counts differ.
    for row in rep["domains"].values():
        assert row["tokenizer"]["words"] == row["baseline"]["words"] > 0
        assert row["tokenizer"]["bytes"] == row["baseline"]["bytes"]
        assert row["tokens_ratio"] == pytest.approx(row["tokenizer"]["tokens"] / row["baseline"]["tokens"])


def test_term_table_shows_each_tokenizers_split(report):
    _, rep = report
    legal = {row["term"]: row for row in rep["terms"]["legal"]}
    assert legal["plaintiff"]["tokenizer"] == ["plaintiff"]
    assert len(legal["plaintiff"]["baseline"]) > 1  # the general-only baseline never saw it
    for rows in rep["terms"].values():
        for row in rows:
            # The pieces put back together are the term itself.
            assert "".join(row["tokenizer"]) == row["term"] == "".join(row["baseline"])


def test_report_files_are_written_and_table_printed(report, capsys):
    out, rep = report
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(rep))
    md = (out / "report.md").read_text()
    assert "| legal |" in md and "## financial terms" in md and "EBITDA" in md
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "tokenizer_report"
    assert manifest["fertility"]["legal"]["tokenizer"] == rep["domains"]["legal"]["tokenizer"]["fertility"]


def test_report_prints_the_table(trained, baseline, heldout, tmp_path, capsys):
    report_tokenizer(tiny_cfg(), trained[0], baseline, heldout, tmp_path)
    printed = capsys.readouterr().out
    assert "| medical |" in printed and "| hypertension |" in printed


def test_measure_counts_are_consistent(trained):
    backend = load_tokenizer(trained[0]).backend_tokenizer
    texts = ["plaintiff plaintiff court.", "EBITDA rose to $1,234.56 this quarter"]
    m = measure(backend, texts)
    assert m["words"] == 3 + 6
    assert m["tokens"] == sum(len(backend.encode(t, add_special_tokens=False).ids) for t in texts)
    assert m["bytes_per_token"] * m["tokens"] == pytest.approx(sum(len(t.encode()) for t in texts))
    assert m["fertility"] == pytest.approx(m["tokens"] / 9)
    assert 0 <= m["split_3plus_share"] <= 1
    assert split_term(backend, "plaintiff") == ["plaintiff"]


def test_default_baseline_is_general_only_and_same_size(trained, heldout, tmp_path):
    rep = report_tokenizer(tiny_cfg(report={"terms": TERMS, "max_bytes_per_domain": 20_000}),
                           trained[0], None, heldout, tmp_path)
    manifest = json.loads((tmp_path / "baseline" / "manifest.json").read_text())
    assert manifest["inputs"]["domains"] == ["general"]
    assert manifest["vocab_size"] == trained[1]["vocab_size"] == rep["baseline"]["vocab_size"]
    assert manifest["config"]["vocab_size"] == trained[1]["config"]["vocab_size"]
    # The held-out cap applies per domain (whole documents, drawn evenly).
    assert all(row["tokenizer"]["bytes"] <= 25_000 for row in rep["domains"].values())


def test_heldout_cap_draws_documents_from_every_source(heldout):
    texts = heldout_texts(heldout, max_bytes_per_domain=5_000)
    assert set(texts) == {"legal", "medical", "financial", "general"}
    assert all(0 < sum(len(t.encode()) for t in ts) < 10_000 for ts in texts.values())


def test_bad_inputs_are_user_errors(trained, baseline, heldout, tmp_path):
    with pytest.raises(UserError, match="no held-out documents"):
        report_tokenizer(tiny_cfg(), trained[0], baseline, tmp_path / "missing", tmp_path / "out")
    with pytest.raises(UserError, match="run `dapt tokenizer` first"):
        report_tokenizer(tiny_cfg(), tmp_path / "nothing", baseline, heldout, tmp_path / "out")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for f in baseline.iterdir():
        (corrupt / f.name).write_bytes(f.read_bytes())
    (corrupt / "tokenizer.json").write_text('{"model": {"type": "Nope"}}')
    with pytest.raises(UserError, match="cannot load the tokenizer"):
        report_tokenizer(tiny_cfg(), trained[0], corrupt, heldout, tmp_path / "out")
    # No baseline named and no manifest to train one from.
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in trained[0].iterdir():
        if f.name != "manifest.json":
            (bare / f.name).write_bytes(f.read_bytes())
    with pytest.raises(UserError, match="name a baseline tokenizer folder"):
        report_tokenizer(tiny_cfg(), bare, None, heldout, tmp_path / "out")


def test_special_token_strings_in_heldout_text_are_measured_as_text(trained):
    """The report's counts are of text: "</s>" or "<unk>" written in a document are its characters."""
    out, manifest = trained
    tok = load_tokenizer(out)
    backend = tok.backend_tokenizer
    specials = set(manifest["special_tokens"].values())
    for token in manifest["special_tokens"]:
        text = f"the court {token} held"
        ids = backend.encode(text, add_special_tokens=False).ids
        assert not set(ids) & specials and backend.decode(ids) == text
        assert not set(tok(text)["input_ids"]) & specials
        assert measure(backend, [text])["tokens"] == len(ids) > len(tok("the court  held")["input_ids"]) + 1


def test_terms_are_tokenized_as_in_running_text_and_the_table_says_so(report, baseline):
    """A term's pieces are the tokens it gets inside a sentence after a space, and the table says so; a token
    holding half of "§" (two UTF-8 bytes) is shown as its byte, not as a replacement character."""
    from dapt.tokenizer.report import TERM_CONTEXT

    out, rep = report
    md = (out / "report.md").read_text()
    assert md.count("| term (in a sentence, after a space) |") == len(rep["terms"])
    assert TERM_CONTEXT.format(term="{term}") in md
    backend = load_tokenizer(baseline).backend_tokenizer
    sentence = TERM_CONTEXT.format(term="res judicata")
    in_text = [backend.decode([i]) for i in backend.encode(sentence, add_special_tokens=False).ids]
    pieces = split_term(backend, "res judicata")
    start = in_text.index(" " + pieces[0]) if " " + pieces[0] in in_text else in_text.index(pieces[0])
    assert [in_text[start].lstrip(" "), *in_text[start + 1:start + len(pieces)]] == pieces
    section = split_term(backend, "§ 1983(a)(2)")  # the general-only baseline never merged "§"
    assert not any("\ufffd" in p for p in section) and section[:2] == ["0xC2", "0xA7"]
