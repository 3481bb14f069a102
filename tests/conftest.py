"""Shared fixtures: where the real corpus lives (../shared beside the checkout), tiny-sized settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPUS = REPO.parent / "shared" / "corpus"

# Nothing may be fetched at run time: make the HF libraries fail fast instead of retrying a network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """The real corpus in ../shared/corpus; tests that need it are skipped where it is absent."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"real corpus not found at {SHARED_CORPUS}")
    return SHARED_CORPUS
