"""Real text end to end through this stage: corpus docs -> token files -> mixture plan -> sampler batches."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from dapt.pipeline.documents import Document, iter_documents, write_documents
from dapt.pipeline.tokens.config import TokenizeConfig
from dapt.pipeline.tokens.main import run_tokenize
from dapt.pipeline.tokens.shards import TokenFile
from dapt.pretrain.data import MixConfig, MixturePlan, MixtureSampler, run_mix, validation_batches

FILES = ("legal_dc_code_sections", "medical_medquad", "general_bbc_news", "general_wikitext2_articles")


def read_corpus(corpus: Path, name: str, n: int) -> list[Document]:
    with gzip.open(corpus / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in itertools.islice(fh, n)]
    return [Document(id=str(r["id"]), text=r["text"], source=name, domain=r["domain"]) for r in rows]


def test_real_corpus_tokens_mix_and_sample(shared_corpus: Path, tmp_path: Path) -> None:
    docs = {name: read_corpus(shared_corpus, name, 30) for name in FILES}
    for name, ds in docs.items():
        write_documents(tmp_path / "docs" / name / "part-00000.jsonl.gz", ds)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([d.text for ds in docs.values() for d in ds], trainer)
    (tmp_path / "tok").mkdir()
    tok.save(str(tmp_path / "tok" / "tokenizer.json"))
    eos = tok.token_to_id("<|endoftext|>")
    (tmp_path / "tok" / "manifest.json").write_text(json.dumps({"eos_id": eos, "vocab_size": tok.get_vocab_size()}))

    manifest = run_tokenize(TokenizeConfig(val_fraction=0.1), tmp_path / "docs", tmp_path / "tok", tmp_path / "tokens")
    assert {s["group"] for s in manifest["sources"].values()} == {"domain", "general"}
    for name, ds in docs.items():
        s = manifest["sources"][name]
        assert s["train_docs"] + s["val_docs"] == len(ds) and s["val_docs"] >= 1
        by_id = {d.id: d.text for d in ds}
        held_out = list(iter_documents(tmp_path / "tokens" / "val_text" / f"{name}.jsonl.gz"))
        assert all(d.text == by_id[d.id] for d in held_out)  # real text, unchanged
        val = TokenFile(tmp_path / "tokens" / "val" / name)
        assert tok.decode(val.doc(0).tolist()) == held_out[0].text  # byte-level BPE round-trips real text

    plan = run_mix(MixConfig(), tmp_path / "tokens", tmp_path / "mix", total_tokens=manifest["train_tokens"])
    domain_share = sum(r["share"] for r in plan["sources"] if r["group"] == "domain")
    assert domain_share == pytest.approx(0.51)
    sampler = MixtureSampler(MixturePlan.load(tmp_path / "mix" / "mix.json"), tmp_path / "tokens", seq_len=64, seed=0)
    batch = sampler.batch(0, 32)
    assert batch.shape == (32, 65) and batch.min() >= 0 and batch.max() < tok.get_vocab_size()
    groups = [sampler.sources[sampler.source_of(k)].group for k in range(200)]
    assert abs(groups.count("domain") - 0.51 * 200) <= 1
    for group in ("domain", "general"):
        val_batches = list(validation_batches(tmp_path / "tokens", group, seq_len=64, batch_size=8, max_batches=2))
        assert len(val_batches) >= 1 and all(b.shape[1] == 65 for b in val_batches)
        assert np.isin(eos, np.concatenate(val_batches))  # documents stay separated by EOS
