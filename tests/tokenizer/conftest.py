"""Tiny synthetic document shards and tokenizers shared by the tokenizer tests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dapt.pipeline.documents import Document, write_documents
from dapt.tokenizer.config import TokenizerConfig
from dapt.tokenizer.train import train_tokenizer

WORDS = {
    "legal": "plaintiff defendant res judicata mens rea habeas corpus statute § 1983(a)(2) tort estoppel "
             "indemnification hereinafter notwithstanding court appeal jurisdiction".split(),
    "medical": "myalgia hypertension tachycardia 5 mg/kg q6h qid dyspnea metformin acetaminophen patient "
               "dose contraindicated therapy clinical symptoms".split(),
    "financial": "EBITDA $1,234.56 dividends shareholders liquidity amortization revenue quarter 10-K "
                 "earnings margin debentures basis points".split(),
    "general": "the a of and to in is was it for on with as he she they weather music football "
               "garden holiday family village river morning".split(),
}


def make_corpus(root: Path, docs_per_domain: int = 120, words_per_doc: int = 150, seed: int = 0) -> Path:
    """Tiny synthetic shards: one per domain, sentences drawn from that domain's words (seeded)."""
    rng = random.Random(seed)
    for domain, words in WORDS.items():
        docs = []
        for i in range(docs_per_domain):
            text = " ".join(rng.choice(words) for _ in range(words_per_doc)) + "."
            docs.append(Document(id=f"{domain}-{i}", text=text, source=f"tiny_{domain}", domain=domain))
        write_documents(root / f"tiny_{domain}" / "part-00000.jsonl.gz", docs)
    return root


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("docs"))


def tiny_cfg(**overrides) -> TokenizerConfig:
    return TokenizerConfig(**{"vocab_size": 512, "show_progress": False, "min_sample_bytes": 1000, **overrides})


@pytest.fixture(scope="session")
def trained(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("tok")
    return out, train_tokenizer(tiny_cfg(), corpus, out)




@pytest.fixture(scope="session")
def heldout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Held-out documents from the same tiny distributions, drawn with another seed."""
    return make_corpus(tmp_path_factory.mktemp("heldout"), docs_per_domain=20, seed=1)
