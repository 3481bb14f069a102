"""Contamination: word n-gram overlap between each task's scored examples and the training documents.

An example counts as contaminated when any of its word n-grams occurs in a training document
(GPT-3's test, Brown et al. 2020 App. C, with its N = 13; lm-evaluation-harness's decontamination
also uses 13-grams). Words and hashed n-grams come from pipeline/rules/ngrams.py, the definition the
curation stage's decontamination uses, so both stages agree on what "the same 13 words" means.
The task n-grams are small and held in memory; the training shards are streamed once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dapt.pipeline.documents import iter_documents
from dapt.pipeline.rules.ngrams import ngram_hashes, words

log = logging.getLogger(__name__)


def example_ngrams(text: str, n: int, min_words: int) -> tuple[int, np.ndarray] | None:
    """(width, distinct n-gram hashes) of one example; an example shorter than n words is one n-gram of
    all its words; one shorter than min_words is not checked (a few words match common phrases)."""
    toks = words(text)
    if len(toks) < min_words:
        return None
    width = min(n, len(toks))
    return width, np.unique(ngram_hashes(toks, width))


def contamination(task_texts: dict[str, list[str]], train_docs: Path | Iterable[Path], n: int = 13,
                  min_words: int = 8) -> dict:
    """Per task: examples, examples checked, examples with an n-gram seen in training, and that fraction."""
    per_example: dict[str, list[tuple[int, np.ndarray] | None]] = {
        task: [example_ngrams(t, n, min_words) for t in texts] for task, texts in task_texts.items()
    }
    # All example n-grams of one width, sorted, so each training document is checked with one np.isin.
    wanted: dict[int, np.ndarray] = {}
    for grams in per_example.values():
        for item in grams:
            if item is not None:
                wanted.setdefault(item[0], []).append(item[1])  # type: ignore[arg-type]
    wanted = {w: np.unique(np.concatenate(arrs)) for w, arrs in wanted.items()}
    seen: dict[int, set[int]] = {w: set() for w in wanted}
    n_docs = 0
    if wanted:
        for doc in tqdm(iter_documents(train_docs), desc="contamination", unit="doc", mininterval=5):
            n_docs += 1
            toks = words(doc.text)
            for width, grams in wanted.items():
                if len(toks) < width:
                    continue
                hashes = ngram_hashes(toks, width)
                hits = hashes[np.isin(hashes, grams)]
                if hits.size:
                    seen[width].update(int(h) for h in hits)
    report = {}
    for task, grams in per_example.items():
        checked = [g for g in grams if g is not None]
        dirty = sum(1 for w, h in checked if any(int(x) in seen[w] for x in h))
        report[task] = {
            "examples": len(grams),
            "checked": len(checked),
            "contaminated": dirty,
            "fraction": dirty / len(checked) if checked else None,
        }
    log.info("contamination | %d training documents scanned | %d tasks", n_docs, len(report))
    return {"ngram": n, "min_words": min_words, "train_docs_scanned": n_docs, "tasks": report}
