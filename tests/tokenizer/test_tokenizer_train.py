"""Tokenizer training: loads in transformers, round-trips, special tokens, mixture sample, bad input."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from transformers import AutoTokenizer

from dapt.errors import UserError
from dapt.pipeline.documents import Document, write_documents
from dapt.tokenizer.config import TokenizerConfig
from dapt.tokenizer.train import load_tokenizer, train_tokenizer


def tiny_cfg(**overrides) -> TokenizerConfig:
    """The tiny settings the shared `trained` fixture uses (tests/tokenizer/conftest.py), with overrides."""
    return TokenizerConfig(**{"vocab_size": 512, "show_progress": False, "min_sample_bytes": 1000, **overrides})


ROUND_TRIP = [
    "§ 1983(a)(2)", "5 mg/kg q6h", "$1,234.56", "€", "¥", "res judicata", "EBITDA rose 12.5% y/y",
    "  two  spaces\n\nand\ttabs  ", "日本語のテキスト", "emoji 🙂👍🏽", "Ünïcödé façade naïve", "",
    "x </s> y <s> <pad> <unk>", "\u200b zero width \ufeff", "a\r\nb",
]


def test_loads_in_transformers_as_fast_tokenizer_with_special_tokens(trained):
    out, manifest = trained
    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.is_fast
    assert (tok.eos_token, tok.pad_token, tok.unk_token) == ("</s>", "<pad>", "<unk>")
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (
        manifest["bos_id"], manifest["eos_id"], manifest["pad_id"])
    assert len({manifest["eos_id"], manifest["pad_id"], manifest["unk_id"]}) == 3


def test_bos_is_the_document_boundary_the_token_files_use(trained):
    """lm-eval puts the tokenizer's BOS before every window; the model only ever saw EOS before a document."""
    out, manifest = trained
    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.bos_token == tok.eos_token == "</s>" and manifest["bos_id"] == manifest["eos_id"]
    assert "<s>" not in tok.get_vocab()  # no second, never-trained start token
    # the context length is the model's: the exported model/hf tokenizer states it, this folder names none
    assert tok.model_max_length > 10**12 and manifest["model_max_length"] is None
    assert len(tok) == manifest["vocab_size"] == 512
    # Special tokens are not added implicitly: later stages append eos as the document separator.
    assert tok("hello")["input_ids"] == tok.encode("hello", add_special_tokens=False)


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_round_trip_is_exact(trained, text):
    tok = load_tokenizer(trained[0])
    assert tok.decode(tok.encode(text)) == text


def test_domain_words_are_learned_as_few_pieces(trained):
    tok = load_tokenizer(trained[0])
    # Each word is repeated hundreds of times in the tiny corpus, so BPE must have merged it whole.
    for word in ["plaintiff", "hypertension", "dividends"]:
        assert len(tok.encode(" " + word)) == 1, tok.tokenize(" " + word)


def test_manifest_records_sample_config_and_corpus(trained):
    out, manifest = trained
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["stage"] == "tokenizer"
    assert manifest["config"] == tiny_cfg().model_dump(mode="json")
    assert len(manifest["sample_hash"]) == 64
    corpus = manifest["corpus"]
    assert set(corpus["domains"]) == {"legal", "medical", "financial", "general"}
    assert corpus["sample_bytes"] == sum(d["sampled_bytes"] for d in corpus["domains"].values())
    # The sample follows the 51/49 mixture by bytes within one document's size.
    groups = corpus["groups"]
    assert groups["domain"]["sampled_share"] == pytest.approx(0.51, abs=0.01)
    assert groups["general"]["sampled_share"] == pytest.approx(0.49, abs=0.01)
    # General text is the scarcer group here, so all of it is used and domain text is subsampled.
    assert corpus["domains"]["general"]["sampled_docs"] == corpus["domains"]["general"]["docs"]
    assert corpus["domains"]["legal"]["sampled_docs"] < corpus["domains"]["legal"]["docs"]


def test_general_only_baseline_sees_no_domain_text(corpus, tmp_path):
    manifest = train_tokenizer(tiny_cfg(), corpus, tmp_path, domains={"general"})
    domains = manifest["corpus"]["domains"]
    assert set(domains) == {"general"}
    assert domains["general"]["sampled_docs"] == domains["general"]["docs"]
    assert manifest["corpus"]["skipped_other_domains"] == {"legal": 120, "medical": 120, "financial": 120}
    tok = load_tokenizer(tmp_path)
    assert len(tok.encode(" hypertension")) > 1  # never seen by the baseline


def test_same_sample_and_config_give_identical_tokenizer_file(corpus, tmp_path, trained):
    for model in ("bpe", "unigram"):
        a, b = tmp_path / f"{model}-a", tmp_path / f"{model}-b"
        ma = train_tokenizer(tiny_cfg(model=model), corpus, a)
        mb = train_tokenizer(tiny_cfg(model=model), corpus, b)
        assert ma["sample_hash"] == mb["sample_hash"] == trained[1]["sample_hash"]
        assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()
    # Another seed draws another sample.
    other = train_tokenizer(tiny_cfg(seed=1), corpus, tmp_path / "seed1")
    assert other["sample_hash"] != trained[1]["sample_hash"]


@pytest.fixture(scope="module")
def unigram(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("unigram")
    train_tokenizer(tiny_cfg(model="unigram", split_digits=True), corpus, out)
    return out


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_unigram_with_digit_splitting_round_trips(unigram, text):
    tok = load_tokenizer(unigram)
    assert tok.decode(tok.encode(text)) == text


def test_unigram_manifest_and_digit_splitting(unigram):
    manifest = json.loads((unigram / "manifest.json").read_text())
    assert manifest["model"] == "unigram"
    tok = load_tokenizer(unigram)
    assert len(tok) == manifest["vocab_size"] and len(tok) % 64 == 0
    assert json.loads((unigram / "tokenizer.json").read_text())["model"]["type"] == "Unigram"
    # Digits are pieces of their own: "1983" is four tokens whatever the corpus.
    pieces = tok.convert_ids_to_tokens(tok.encode("1983"))
    assert pieces == ["1", "9", "8", "3"]


def test_extra_special_tokens_and_vocab_padding(corpus, tmp_path):
    cfg = tiny_cfg(vocab_size=500, extra_special_tokens=["<|doc|>", "<|sep|>"], model_max_length=128)
    assert cfg.padded_vocab_size == 512
    manifest = train_tokenizer(cfg, corpus, tmp_path)
    tok = load_tokenizer(tmp_path)
    assert len(tok) == 512 == manifest["vocab_size"]
    assert tok.model_max_length == 128
    # The extras are special tokens to place by id; the same string in raw text stays text.
    doc_id = manifest["special_tokens"]["<|doc|>"]
    assert tok.convert_tokens_to_ids("<|doc|>") == doc_id and doc_id not in tok.encode("a <|doc|> b")
    assert {"<|doc|>", "<|sep|>"} <= set(tok.all_special_tokens)
    ids = tok.encode("a ") + [doc_id] + tok.encode(" b")
    assert tok.decode(ids, skip_special_tokens=True) == "a  b"


@pytest.mark.parametrize("extras", [[], ["<|doc|>"]])
def test_saved_config_loads_in_transformers_4_as_well_as_5(corpus, tmp_path, extras):
    """pyproject allows transformers>=4.46: 4.x looks tokenizer_class up by name (5.x writes
    "TokenizersBackend", which 4.x lacks) and calls .keys() on extra_special_tokens (5.x writes a list)."""
    from transformers import PreTrainedTokenizerFast

    train_tokenizer(tiny_cfg(extra_special_tokens=extras), corpus, tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"  # the one fast class both majors have
    assert not isinstance(config.get("extra_special_tokens"), list)
    assert config.get("additional_special_tokens", []) == extras  # 4.x's list key; 5.x reads it too
    direct, auto = PreTrainedTokenizerFast.from_pretrained(str(tmp_path)), AutoTokenizer.from_pretrained(str(tmp_path))
    assert direct.get_vocab() == auto.get_vocab()
    assert direct.all_special_tokens == auto.all_special_tokens and set(extras) <= set(auto.all_special_tokens)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
@example(text="§ 1983(a)(2)")
@example(text="5 mg/kg q6h")
@example(text="$1,234.56 € ¥")
def test_property_decode_encode_is_identity(trained, text):
    tok = cached_tokenizer(trained[0])
    assert tok.decode(tok.encode(text)) == text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("§$€¥0123456789.,()/ mgqhk\n")), max_size=60))
def test_property_unigram_round_trips_citation_and_currency_alphabet(unigram, text):
    tok = cached_tokenizer(unigram)
    assert tok.decode(tok.encode(text)) == text


@functools.lru_cache(maxsize=None)
def cached_tokenizer(path: Path):
    return load_tokenizer(path)


# ---------------------------------------------------------------- bad input


def test_empty_folder_is_a_user_error(tmp_path):
    (tmp_path / "docs").mkdir()
    with pytest.raises(UserError, match="no \\*.jsonl.gz document shards"):
        train_tokenizer(tiny_cfg(), tmp_path / "docs", tmp_path / "tok")
    with pytest.raises(UserError, match="no document shards at"):
        train_tokenizer(tiny_cfg(), tmp_path / "missing", tmp_path / "tok")


def test_empty_and_tiny_corpus_are_user_errors(tmp_path):
    write_documents(tmp_path / "empty" / "part-0.jsonl.gz", [])
    with pytest.raises(UserError, match="min_sample_bytes"):
        train_tokenizer(tiny_cfg(), tmp_path / "empty", tmp_path / "tok")
    tiny = [Document(id=str(i), text="short text here", source="s", domain="general") for i in range(3)]
    write_documents(tmp_path / "tiny" / "part-0.jsonl.gz", tiny)
    with pytest.raises(UserError, match="give the tokenizer more documents"):
        train_tokenizer(tiny_cfg(), tmp_path / "tiny", tmp_path / "tok")


def test_corpus_too_small_for_the_vocabulary_is_a_user_error(tmp_path):
    docs = [Document(id=str(i), text="alpha beta gamma delta " * 50, source="s", domain="general") for i in range(20)]
    write_documents(tmp_path / "docs" / "part-0.jsonl.gz", docs)
    with pytest.raises(UserError, match="lower tokenizer.vocab_size"):
        train_tokenizer(tiny_cfg(vocab_size=4096), tmp_path / "docs", tmp_path / "tok")


def test_vocab_smaller_than_byte_alphabet_plus_specials_is_refused(corpus, tmp_path):
    with pytest.raises(ValidationError, match="vocab_size >= 260"):
        TokenizerConfig(vocab_size=200)
    with pytest.raises(ValidationError, match="vocab_size >= 262"):
        TokenizerConfig(vocab_size=260, extra_special_tokens=["<a>", "<b>"])
    # A config that skipped validation is caught at the stage boundary, as a UserError.
    cfg = TokenizerConfig.model_construct(**{**tiny_cfg().__dict__, "vocab_size": 100})
    with pytest.raises(UserError, match="vocab_size"):
        train_tokenizer(cfg, corpus, tmp_path)


def test_unknown_domain_and_duplicate_specials_are_refused(corpus, tmp_path):
    with pytest.raises(UserError, match="unknown tokenizer domains"):
        train_tokenizer(tiny_cfg(), corpus, tmp_path, domains={"finance"})
    with pytest.raises(ValidationError, match="distinct"):
        TokenizerConfig(extra_special_tokens=["</s>"])
    with pytest.raises(ValidationError, match="extra_forbidden|Extra inputs"):
        TokenizerConfig(vocab=4096)


def test_corrupt_or_missing_tokenizer_folder_is_a_user_error(trained, tmp_path):
    with pytest.raises(UserError, match="run `dapt tokenizer` first"):
        load_tokenizer(tmp_path)
    for name, content in [("tokenizer.json", '{"version": "1.0", "trunc'),
                          ("tokenizer_config.json", "garbage{")]:
        bad = tmp_path / name
        bad.mkdir()
        for f in trained[0].iterdir():
            (bad / f.name).write_bytes(f.read_bytes())
        (bad / name).write_text(content)
        with pytest.raises(UserError, match="cannot load the tokenizer"):
            load_tokenizer(bad)
