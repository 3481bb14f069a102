"""The quality model: a hashed word n-gram logistic regression trained in the project (no download).

GPT-3 (Brown et al. 2020, App. A) and CCNet-style filters score web pages with a linear classifier on
hashed n-gram features, trained with curated reference text as positives and random raw web as negatives;
DCLM's fastText filter is the same model family (bigrams, hashing trick). scikit-learn's
HashingVectorizer is stateless, so the saved model is just the weight vector plus the vectorizer's
parameters (an .npz and a JSON beside it): no pickle, byte-stable, loadable in any worker's setup().
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from apache_beam.io.filesystems import FileSystems
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score
from tqdm import tqdm

from dapt.errors import UserError
from dapt.pipeline.curate.extract import DEFAULT_EXTRACTOR, extract_main_text, looks_like_html
from dapt.pipeline.documents import DOMAINS, shard_paths
from dapt.pipeline.storage import Location, use_pipeline_options
from dapt.manifest import write_manifest

log = logging.getLogger(__name__)

HTML_FIELDS = ("html",)


def _vectorizer(n_features: int, ngram_max: int) -> HashingVectorizer:
    # alternate_sign=False keeps counts non-negative; l2 norm makes long and short pages comparable.
    return HashingVectorizer(
        n_features=n_features,
        ngram_range=(1, ngram_max),
        alternate_sign=False,
        norm="l2",
        lowercase=True,
        token_pattern=r"(?u)\b\w+\b",
        dtype=np.float32,
    )


class QualityModel:
    """Scores a text in [0, 1]: the probability that it looks like the positive reference text.

    It may also hold a domain classifier (multinomial logistic regression over the same features, trained on
    the positives' ``domain`` labels) used for domain routing; ``domains`` is empty when it has none.
    """

    def __init__(
        self,
        coef: np.ndarray,
        intercept: float,
        n_features: int,
        ngram_max: int,
        max_chars: int,
        domains: Sequence[str] = (),
        domain_coef: np.ndarray | None = None,
        domain_intercept: np.ndarray | None = None,
    ):
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)
        self.n_features, self.ngram_max, self.max_chars = n_features, ngram_max, max_chars
        self.domains = list(domains)
        self.domain_coef = None if domain_coef is None else np.asarray(domain_coef, dtype=np.float64)
        self.domain_intercept = None if domain_intercept is None else np.asarray(domain_intercept, dtype=np.float64)
        self.vectorizer = _vectorizer(n_features, ngram_max)

    def _features(self, texts: Sequence[str]):
        return self.vectorizer.transform([t[: self.max_chars] for t in texts])

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self._features(texts) @ self.coef + self.intercept)))

    def score(self, text: str) -> float:
        return float(self.scores([text])[0])

    def domain_probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(domains)) softmax probabilities of the domain classifier."""
        if not self.domains:
            raise ValueError("this quality model has no domain classifier (trained on one domain only)")
        logits = self._features(texts) @ self.domain_coef.T + self.domain_intercept
        logits = np.asarray(logits - logits.max(axis=1, keepdims=True))
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def best_domain(self, text: str) -> tuple[str, float]:
        p = self.domain_probabilities([text])[0]
        i = int(np.argmax(p))
        return self.domains[i], float(p[i])

    def save(self, path: str | Path | Location) -> None:
        """Writes ``path`` (.npz weights) and :func:`params_location` beside it (vectorizer parameters)."""
        path = Location(path)
        arrays = {"coef": self.coef, "intercept": np.array([self.intercept])}
        if self.domains:
            arrays |= {"domain_coef": self.domain_coef, "domain_intercept": self.domain_intercept}
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        path.write_bytes(buf.getvalue())
        params = {
            "n_features": self.n_features,
            "ngram_max": self.ngram_max,
            "max_chars": self.max_chars,
            "domains": self.domains,
        }
        params_location(path).write_text(json.dumps(params, indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path | Location) -> QualityModel:
        """Reads a saved model from any Beam filesystem (workers call this in ``setup()``)."""
        path = Location(path)
        params = json.loads(params_location(path).read_text())
        with np.load(io.BytesIO(path.read_bytes())) as z:
            extra = {}
            if params.get("domains"):
                extra = {"domain_coef": z["domain_coef"], "domain_intercept": z["domain_intercept"]}
            return cls(z["coef"], float(z["intercept"][0]), **params, **extra)


def params_location(model: str | Path | Location) -> Location:
    """The JSON of vectorizer parameters beside a model's .npz (``model.npz`` -> ``model.json``)."""
    model = Location(model)
    stem = model.name.rsplit(".", 1)[0] if "." in model.name.lstrip(".") else model.name
    return model.parent / f"{stem}.json"


def _record_text(obj: dict[str, Any], extractor: str = DEFAULT_EXTRACTOR, skipped: Counter | None = None) -> str:
    """The text of a reference record: the main text of its ``html`` field, else its ``text`` (the main text
    when that is an HTML page); '' when there is none, with the reason counted in ``skipped``."""
    for field in HTML_FIELDS:
        if isinstance(obj.get(field), str):
            return _main_text(obj[field], extractor, skipped)
    text = obj.get("text")
    if not isinstance(text, str):
        return ""
    if looks_like_html(text):
        return _main_text(text, extractor, skipped)
    return text


def _main_text(html: str, extractor: str, skipped: Counter | None) -> str:
    extracted = extract_main_text(html, extractor)  # the function curate's readers call
    if extracted.text is None and skipped is not None:
        skipped[extracted.reason] += 1
    return extracted.text or ""


def _iter_records(path: Location) -> Iterator[dict[str, Any]]:
    """Records of a reference file; unreadable lines are skipped with a warning (reference text is a
    sample for the classifier, not data that flows to training, so nothing is lost by skipping)."""
    skipped = 0
    with path.open_read() as raw, (gzip.open(raw, "rb") if path.name.endswith(".gz") else raw) as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                skipped += 1
                continue
            if isinstance(obj, dict):
                yield obj
            else:
                skipped += 1
    if skipped:
        log.warning("quality reference %s: skipped %d unreadable line(s)", path, skipped)


def load_texts(
    locations: Sequence[str | Path], max_docs: int, seed: int, min_words: int = 20,
    extractor: str = DEFAULT_EXTRACTOR,
) -> list[tuple[str, str]]:
    """Up to ``max_docs`` (text, domain) pairs (a seeded sample, HTML extracted) from JSONL(.gz) files or
    shard folders; the domain is the record's ``domain`` field ('' when absent). Pages with no main text or
    broken markup are skipped and counted in one warning line, as curate drops them."""
    records = []
    for location in locations:
        try:
            paths = shard_paths(location)
        except FileNotFoundError:
            raise UserError(f"quality training input {location} does not exist; fix select.quality.positive/negative")
        for path in paths:
            records.extend(_iter_records(path))
    random.Random(seed).shuffle(records)
    texts, skipped = [], Counter()
    for obj in tqdm(records, desc="quality texts", disable=len(records) < 500, leave=False):
        text = _record_text(obj, extractor, skipped)
        if len(text.split()) >= min_words:
            texts.append((text, str(obj.get("domain") or "")))
            if len(texts) >= max_docs:
                break
    if skipped:
        log.warning("quality reference %s: skipped %s", ", ".join(str(p) for p in locations),
                    ", ".join(f"{n} page(s) {reason}" for reason, n in sorted(skipped.items())))
    return texts


def _split(n: int, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    n_test = max(int(round(test_fraction * n)), 2)
    return order[:n_test], order[n_test:]


def fit(cfg, pos: list[str], neg: list[str], rng: np.random.Generator) -> tuple[LogisticRegression, dict[str, Any]]:
    """Fits the quality classifier on a random split; returns it (refitted on all data) and held-out metrics."""
    texts = pos + neg
    labels = np.array([1] * len(pos) + [0] * len(neg))
    test, train = _split(len(texts), cfg.test_fraction, rng)
    vec = _vectorizer(cfg.n_features, cfg.ngram_max)
    x = vec.transform([t[: cfg.max_chars] for t in texts])
    clf = LogisticRegression(C=cfg.c, max_iter=2000, class_weight="balanced")
    clf.fit(x[train], labels[train])
    proba = clf.predict_proba(x[test])[:, 1]
    p, r, f, _ = precision_recall_fscore_support(labels[test], proba >= 0.5, average="binary", zero_division=0)
    metrics = {
        "train_docs": int(len(train)),
        "test_docs": int(len(test)),
        "precision": round(float(p), 4),
        "recall": round(float(r), 4),
        "f1": round(float(f), 4),
        "roc_auc": round(float(roc_auc_score(labels[test], proba)), 4) if len(set(labels[test])) == 2 else None,
    }
    clf.fit(x, labels)  # the saved model uses every labelled document
    return clf, metrics


def fit_domains(cfg, texts: list[str], domains: list[str], rng: np.random.Generator):
    """Multinomial domain classifier over the positives' domains; None with fewer than two domains."""
    labels = sorted(set(domains))
    if len(labels) < 2:
        return None, {"domains": labels}
    y = np.array([labels.index(d) for d in domains])
    test, train = _split(len(texts), cfg.test_fraction, rng)
    x = _vectorizer(cfg.n_features, cfg.ngram_max).transform([t[: cfg.max_chars] for t in texts])
    clf = LogisticRegression(C=cfg.c, max_iter=2000, class_weight="balanced")
    clf.fit(x[train], y[train])
    pred = clf.predict(x[test])
    p, r, f, _ = precision_recall_fscore_support(y[test], pred, labels=range(len(labels)), zero_division=0)
    metrics = {
        "domains": labels,
        "accuracy": round(float(np.mean(pred == y[test])), 4),
        "per_domain": {
            d: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4)}
            for i, d in enumerate(labels)
        },
    }
    clf.fit(x, y)
    if len(labels) == 2:  # sklearn stores one row for two classes; expand to a softmax over both
        coef = np.vstack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
        intercept = np.array([-clf.intercept_[0] / 2, clf.intercept_[0] / 2])
    else:
        coef, intercept = clf.coef_, clf.intercept_
    return (labels, coef, intercept), metrics


def _input(where: str | Path | Location) -> str | Path | Location:
    """A training input as given; a local path string as a Path (it prints as it did)."""
    if isinstance(where, str) and FileSystems.get_scheme(where) is None:
        return Path(where)
    return where


def train_quality_model(
    cfg,
    positive: list[str | Path | Location],
    negative: list[str | Path | Location],
    out_path: str | Path | Location,
    beam_args: Sequence[str] | None = None,
) -> dict:
    """Trains the quality model from positive/negative reference files and saves it at ``out_path`` (.npz on
    any Beam filesystem).

    ``cfg`` is a SelectConfig (its ``quality`` section is used) or a QualityModelConfig. ``beam_args`` (the
    S3 endpoint and keys, ...) reach the filesystems; None keeps the options the process already set.
    """
    if beam_args is not None:
        use_pipeline_options(beam_args)
    qcfg = getattr(cfg, "quality", cfg)
    positive = [_input(p) for p in (positive or qcfg.positive)]
    negative = [_input(p) for p in (negative or qcfg.negative)]
    if not positive or not negative:
        raise UserError("the quality model needs positive and negative files; set select.quality.positive/negative")
    pos = load_texts(positive, qcfg.max_docs_per_class, qcfg.seed)
    neg = load_texts(negative, qcfg.max_docs_per_class, qcfg.seed + 1)
    for name, texts in (("positive", pos), ("negative", neg)):
        if len(texts) < 5:
            raise UserError(f"only {len(texts)} usable {name} documents (>= 20 words); add more {name} files")
    clf, metrics = fit(qcfg, [t for t, _ in pos], [t for t, _ in neg], np.random.default_rng(qcfg.seed))
    labelled = [(t, d) for t, d in pos if d in DOMAINS]
    domain_clf, domain_metrics = fit_domains(
        qcfg, [t for t, _ in labelled], [d for _, d in labelled], np.random.default_rng(qcfg.seed + 2)
    )
    extra = {}
    if domain_clf is not None:
        extra = dict(zip(("domains", "domain_coef", "domain_intercept"), domain_clf))
    model = QualityModel(clf.coef_[0], clf.intercept_[0], qcfg.n_features, qcfg.ngram_max, qcfg.max_chars, **extra)
    out_path = Location(out_path)
    model.save(out_path)
    summary = {
        "model": str(out_path),
        "positive_docs": len(pos),
        "negative_docs": len(neg),
        "held_out": metrics,
        "domain_classifier": domain_metrics,
        "config": qcfg.model_dump(mode="json"),
        "inputs": {"positive": [str(p) for p in positive], "negative": [str(p) for p in negative]},
    }
    write_manifest(out_path.parent, summary, name="quality_model_manifest.json")
    log.info("quality model: held-out P %.3f R %.3f F1 %.3f", metrics["precision"], metrics["recall"], metrics["f1"])
    return summary
