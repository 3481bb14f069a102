"""Fixtures for eval tests: two tiny random model folders and small held-out document shards."""

from __future__ import annotations

from pathlib import Path

import pytest

from dapt.eval.tiny import build_tiny_model
from dapt.pipeline.documents import Document, write_documents

DOMAIN_TEXTS = [
    "The court held that res judicata barred the second claim, and mens rea was not shown.",
    "EBITDA rose 12% in the quarter while net interest margin narrowed to 2.1%.",
    "Patient reports myalgia and fatigue. Sig: 1 tab po qid pc & hs for seven days.",
    "The appellant argued the statute of limitations had run before the complaint was filed.",
    "Operating cash flow covered capital expenditure twice over, the CFO said on the call.",
]
GENERAL_TEXTS = [
    "The river flooded the lower town twice last spring, and the bridge was closed for a week.",
    "She baked bread every Sunday morning, and the whole street smelled of it.",
    "Tickets for the summer concert sold out within an hour of going on sale.",
    "A small dog followed the hikers all the way to the top of the hill.",
]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Two different random models (same tokenizer) standing in for a domain model and a baseline."""
    root = tmp_path_factory.mktemp("models")
    texts = (DOMAIN_TEXTS + GENERAL_TEXTS) * 5
    return {
        "domain": build_tiny_model(root / "domain", texts, seed=0),
        "general": build_tiny_model(root / "general", texts, seed=1),
    }


@pytest.fixture(scope="session")
def heldout(tmp_path_factory) -> dict[str, list[Path]]:
    """Held-out text as Document shards, grouped the way tokens/val_text is (domain, general)."""
    root = tmp_path_factory.mktemp("val_text")
    dom = [Document(f"d{i}", t, "legal" if i % 2 else "financial", "legal" if i % 2 else "financial",
                    {"quality": 0.5}) for i, t in enumerate(DOMAIN_TEXTS)]
    gen = [Document(f"g{i}", t, "web", "general", {"lang": "en"}) for i, t in enumerate(GENERAL_TEXTS)]
    gen.append(Document("g-empty", "   ", "web", "general"))
    write_documents(root / "legal.jsonl.gz", dom)
    write_documents(root / "web.jsonl.gz", gen)
    return {"domain": [root / "legal.jsonl.gz"], "general": [root / "web.jsonl.gz"]}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread in eval tests: on the shared 2-core machine two threads spin against other jobs
    (a tiny-model forward measured 20x slower); restored afterwards for other packages' tests."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
