"""Token file format and the Beam tokenize job (real tokenizers BPE, real DirectRunner)."""

from __future__ import annotations

import collections
import json
import random
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from dapt.errors import UserError
from dapt.pipeline.documents import Document, iter_documents, sha256_of, write_documents
from dapt.pipeline.tokens.config import TokenizeConfig
from dapt.pipeline.tokens.main import bucket_of, choose_val, run_tokenize, split_hash
from dapt.pipeline.tokens.shards import TokenFile, TokenFileWriter, dtype_for_vocab, write_token_file

WORDS = {
    "legal": "plaintiff defendant mens rea res judicata court statute appeal contract clause".split(),
    "medical": "myalgia patient dose tablet daily symptoms diagnosis therapy clinical trial".split(),
    "general": "the weather today city football music people story river morning".split(),
}


def make_docs(source: str, domain: str, n: int, seed: int) -> list[Document]:
    rnd = random.Random(seed)
    words = WORDS[domain]
    return [
        Document(id=f"{source}-{i:04d}", text=" ".join(rnd.choice(words) for _ in range(rnd.randint(5, 60))) + ".", source=source, domain=domain)
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny byte-level BPE (like the project's tokenizer stage writes), with manifest.json."""
    out = tmp_path_factory.mktemp("tokenizer")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    texts = [d.text for dom in WORDS for d in make_docs("t", dom, 50, 0)]
    tok.train_from_iterator(texts, trainer)
    tok.save(str(out / "tokenizer.json"))
    (out / "manifest.json").write_text(json.dumps({"eos_id": tok.token_to_id("<|endoftext|>"), "vocab_size": tok.get_vocab_size()}))
    return out


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[Document]]:
    return {
        "legal_a": make_docs("legal_a", "legal", 60, 1),
        "medical_b": make_docs("medical_b", "medical", 40, 2),
        "web_c": make_docs("web_c", "general", 50, 3),
        "tiny": make_docs("tiny", "general", 1, 4),
    }


def write_corpus(root: Path, corpus: dict[str, list[Document]], parts: int) -> Path:
    """Shards per source like the select stage writes (docs/<source>/part-*.jsonl.gz)."""
    for source, docs in corpus.items():
        shuffled = docs[:]
        random.Random(parts).shuffle(shuffled)  # a different order and sharding must not change the output
        for p in range(parts):
            write_documents(root / source / f"part-{p:05d}.jsonl.gz", shuffled[p::parts])
    return root


# -- the token file format -------------------------------------------------------------------------
def test_dtype_for_vocab() -> None:
    assert dtype_for_vocab(50_000) == np.uint16
    assert dtype_for_vocab(65_535) == np.uint16
    assert dtype_for_vocab(65_536) == np.uint32


@pytest.mark.parametrize("dtype, big", [("uint16", 65_534), ("uint32", 100_000)])
def test_token_file_round_trip(tmp_path: Path, dtype: str, big: int) -> None:
    docs = [[1, 2, 3], [], [big, 7]]
    assert write_token_file(tmp_path / "x", docs, dtype, eos_id=0) == (3 + 1 + 0 + 1 + 2 + 1, 3)
    tf = TokenFile(tmp_path / "x")
    assert tf.dtype == np.dtype(dtype) and len(tf) == 3 and tf.n_tokens == 8
    assert list(tf.offsets) == [0, 4, 5, 8]
    assert [tf.doc(i).tolist() for i in range(3)] == docs
    assert tf.tokens.tolist() == [1, 2, 3, 0, 0, big, 7, 0]  # every document closed by EOS


def test_token_file_rejects_out_of_range_ids_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="out of range"), TokenFileWriter(tmp_path / "x", "uint16", 0) as w:
        w.add([70_000])
    assert not list(tmp_path.iterdir())


def test_truncated_file_is_detected(tmp_path: Path) -> None:
    write_token_file(tmp_path / "x", [[1, 2, 3]], "uint16", 0)
    (tmp_path / "x.bin").write_bytes(b"\0\0")
    with pytest.raises(ValueError, match="index says"):
        TokenFile(tmp_path / "x")


def test_empty_token_file(tmp_path: Path) -> None:
    write_token_file(tmp_path / "x", [], "uint16", 0)
    tf = TokenFile(tmp_path / "x")
    assert tf.n_tokens == 0 and len(tf) == 0


# -- the validation split ----------------------------------------------------------------------------
def test_split_is_deterministic_and_near_fraction() -> None:
    ids = [f"doc-{i}" for i in range(20_000)]
    assert [split_hash(i) for i in ids[:50]] == [split_hash(i) for i in ids[:50]]
    frac = np.mean([split_hash(i) < 0.1 for i in ids])
    assert 0.09 < frac < 0.11
    ten = ids[:10]
    two_smallest = set(sorted(ten, key=split_hash)[:2])
    assert choose_val(ten, TokenizeConfig(val_fraction=0.0, val_min_docs=2)) == two_smallest
    assert choose_val(ten[:2], TokenizeConfig(val_fraction=0.0, val_min_docs=2)) == set()  # too small: all training
    assert choose_val(ids, TokenizeConfig(val_fraction=0.1, val_min_docs=1)) == {i for i in ids if split_hash(i) < 0.1}


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="batch_min"):
        TokenizeConfig(batch_min=10, batch_max=5)
    with pytest.raises(ValueError):
        TokenizeConfig(val_fraction=0.9)
    with pytest.raises(ValueError):
        TokenizeConfig(unknown=1)


# -- the Beam job -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenized(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path, corpus: dict) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("tok")
    docs = write_corpus(root / "docs", corpus, parts=2)
    cfg = TokenizeConfig(val_fraction=0.1, batch_min=4, batch_max=16)
    return root, run_tokenize(cfg, docs, tokenizer_dir, root / "tokens")


def test_tokenize_round_trips_every_document(tokenized: tuple[Path, dict], tokenizer_dir: Path, corpus: dict) -> None:
    root, manifest = tokenized
    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    out = root / "tokens"
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert manifest["dtype"] == "uint16" and manifest["eos_id"] == tok.token_to_id("<|endoftext|>")
    for source, docs in corpus.items():
        s = manifest["sources"][source]
        assert s["group"] == ("general" if docs[0].domain == "general" else "domain") and s["domain"] == docs[0].domain
        assert s["train_docs"] + s["val_docs"] == len(docs)
        val_text = list(iter_documents(out / "val_text" / f"{source}.jsonl.gz"))
        assert [d.id for d in val_text] == sorted(d.id for d in docs if d.id in {v.id for v in val_text})
        by_id = {d.id: d.text for d in docs}
        train_ids = sorted(set(by_id) - {d.id for d in val_text})
        for split, ids in (("train", train_ids), ("val", [d.id for d in val_text])):
            tf = TokenFile(out / split / source)
            assert len(tf) == len(ids) and tf.n_tokens == s[f"{split}_tokens"]
            # sorted by document id, each decodes back to its text, EOS after each
            assert [tok.decode(tf.doc(i).tolist()) for i in range(len(tf))] == [by_id[i] for i in ids]
            assert all(tf.tokens[tf.offsets[i + 1] - 1] == manifest["eos_id"] for i in range(len(tf)))
    # every source with more than val_min_docs documents has validation text; a 1-doc source stays whole
    assert all(manifest["sources"][s]["val_docs"] >= 1 for s in ("legal_a", "medical_b", "web_c"))
    assert manifest["sources"]["tiny"]["val_docs"] == 0 and manifest["sources"]["tiny"]["train_docs"] == 1


def test_tokenize_output_is_independent_of_sharding(tokenized: tuple[Path, dict], tokenizer_dir: Path, corpus: dict, tmp_path: Path) -> None:
    root, manifest = tokenized
    docs = write_corpus(tmp_path / "docs", corpus, parts=3)  # other shards, other order
    again = run_tokenize(TokenizeConfig(val_fraction=0.1, batch_min=1, batch_max=7), docs, tokenizer_dir, tmp_path / "tokens")
    assert again["sources"] == manifest["sources"]
    assert again["tokenizer_hash"] == manifest["tokenizer_hash"]
    # one hashing scheme: the tokenizer file hashes alike here and in every other manifest (sha256_of)
    assert manifest["tokenizer_hash"] == sha256_of(tokenizer_dir / "tokenizer.json")
    for split in ("train", "val"):
        for f in sorted((root / "tokens" / split).iterdir()):
            assert f.read_bytes() == (tmp_path / "tokens" / split / f.name).read_bytes(), f.name


def test_tokenize_missing_inputs_are_user_errors(tmp_path: Path, tokenizer_dir: Path) -> None:
    with pytest.raises(UserError, match="dapt select"):
        run_tokenize(TokenizeConfig(), tmp_path / "nope", tokenizer_dir, tmp_path / "out")
    write_documents(tmp_path / "docs" / "a" / "part-0.jsonl.gz", make_docs("a", "legal", 2, 0))
    with pytest.raises(UserError, match="tokenizer.json"):
        run_tokenize(TokenizeConfig(), tmp_path / "docs", tmp_path, tmp_path / "out")


def test_sources_whose_file_names_clash_are_a_user_error(tmp_path: Path, tokenizer_dir: Path) -> None:
    for i, source in enumerate(("web/a", "web a")):  # both become the file name web_a
        write_documents(tmp_path / "docs" / f"s{i}" / "part-0.jsonl.gz", make_docs(source, "general", 3, i))
    with pytest.raises(UserError, match="share a token file name"):
        run_tokenize(TokenizeConfig(), tmp_path / "docs", tokenizer_dir, tmp_path / "out")


def test_special_token_strings_in_documents_are_encoded_as_text(tmp_path):
    """A page that writes "<unk>" (WikiText's unknown word), "</s>", "<s>" or any other special token's string
    becomes those characters in the token files; the only special id is the EOS after each document."""
    from dapt.tokenizer.config import TokenizerConfig
    from dapt.tokenizer.train import train_tokenizer

    train_docs = [d for dom in WORDS for d in make_docs(f"t_{dom}", dom, 60, 5)]
    write_documents(tmp_path / "train_docs" / "part-0.jsonl.gz", train_docs)
    cfg = TokenizerConfig(vocab_size=1024, min_vocab_fill=0.2, min_sample_bytes=1000, show_progress=False,
                          extra_special_tokens=["<|doc|>"])
    manifest = train_tokenizer(cfg, tmp_path / "train_docs", tmp_path / "tok")
    added = Tokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json")).get_added_tokens_decoder()
    specials = {i: t.content for i, t in added.items() if t.special}
    assert {"<unk>", "</s>", "<pad>", "<|doc|>", "<|reserved_0|>"} <= set(specials.values())
    texts = [f"the court held that {s} is not a word" for s in specials.values()]
    texts += ["WikiText: the <unk> river </s><s> and " + " ".join(specials.values())]
    docs = [Document(id=f"d{i:03d}", text=t, source="web", domain="general") for i, t in enumerate(texts)]
    write_documents(tmp_path / "docs" / "web" / "part-0.jsonl.gz", docs)
    run_tokenize(TokenizeConfig(val_fraction=0.0, val_min_docs=0), tmp_path / "docs", tmp_path / "tok", tmp_path / "tokens")
    tokens = TokenFile(tmp_path / "tokens" / "train" / "web")
    assert tokens.n_docs == len(docs)
    decode = Tokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json"))
    for i, doc in enumerate(docs):  # the token file holds the source's documents in id order
        ids = [int(t) for t in tokens.doc(i, with_eos=True)]
        assert ids[-1] == manifest["eos_id"] and not set(ids[:-1]) & set(specials), doc.text
        assert decode.decode(ids[:-1], skip_special_tokens=False) == doc.text


def test_a_source_larger_than_a_shard_is_written_in_sorted_buckets(
    tokenized: tuple[Path, dict], tokenizer_dir: Path, corpus: dict, tmp_path: Path
) -> None:
    """Sharded by id hash: no worker holds a whole source, the split is unchanged, the bytes are stable."""
    root, whole = tokenized
    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    cfg = TokenizeConfig(val_fraction=0.1, batch_min=4, batch_max=16, shard_tokens=300)
    runs = []
    for parts in (2, 3):  # other input shards and batches: the same bytes
        docs = write_corpus(tmp_path / f"docs{parts}", corpus, parts=parts)
        runs.append(run_tokenize(cfg.model_copy(update={"batch_max": 16 + parts}), docs, tokenizer_dir, tmp_path / f"tokens{parts}"))
    manifest, out = runs[0], tmp_path / "tokens2"
    assert runs[0]["sources"] == runs[1]["sources"]
    for split in ("train", "val", "val_text"):
        for f in sorted((out / split).iterdir()):
            assert f.read_bytes() == (tmp_path / "tokens3" / split / f.name).read_bytes(), f.name
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "train", "val", "val_text"]  # no parts left

    legal = manifest["sources"]["legal_a"]
    assert 1 < legal["train_shards"] and legal["train_shard_tokens_max"] < legal["train_tokens"]
    by_id = {d.id: d.text for d in corpus["legal_a"]}
    # the held-out documents are the ones the single-bucket run holds out
    val_ids = {d.id for d in iter_documents(root / "tokens" / "val_text" / "legal_a.jsonl.gz")}
    for split, members in (("train", set(by_id) - val_ids), ("val", val_ids)):
        n_buckets = legal[f"{split}_shards"]
        ids = sorted(members, key=lambda i: (bucket_of(i, n_buckets), i))
        tf = TokenFile(out / split / "legal_a")
        # bucket after bucket, each sorted by document id; every document once, decoding to its text
        assert [tok.decode(tf.doc(k).tolist()) for k in range(len(tf))] == [by_id[i] for i in ids]
        sizes: collections.Counter[int] = collections.Counter()
        for k, i in enumerate(ids):
            sizes[bucket_of(i, n_buckets)] += len(tf.doc(k, with_eos=True))
        assert max(sizes.values()) == legal[f"{split}_shard_tokens_max"]
        if split == "val":
            assert [d.id for d in iter_documents(out / "val_text" / "legal_a.jsonl.gz")] == ids
