"""Quality selection: quality-model precision/recall on held-out labelled data, and kept vs target fractions.

Positives: the clean domain and general files of ../shared/corpus; negatives: the raw_web pages (HTML, main
text extracted with trafilatura). Both are split in halves: the *training* half trains the model through
``train_quality_model`` (which reports its own held-out split), the other half is a second, untouched test set
and the input of a real ``run_select`` (web at keep_token_fraction 0.03, the curated sources at 1.0).

Model choice: the same split scores a few linear alternatives (unigrams vs uni+bigrams, logistic regression vs
multinomial naive Bayes), so the default is justified by numbers.

    /work/venv/bin/python bench/bench_select.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dapt.pipeline.documents import Document, write_documents  # noqa: E402
from dapt.pipeline.select.config import QualityModelConfig, SelectConfig  # noqa: E402
from dapt.pipeline.select.main import run_select  # noqa: E402
from dapt.pipeline.select.quality_model import QualityModel, _record_text, train_quality_model  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
DOMAIN_PREFIXES = ("legal_", "medical_", "financial_", "general_")


def _records(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_positives(per_file: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(text, domain, file stem) from every clean corpus file, at most ``per_file`` each (balanced mix)."""
    out = []
    for path in sorted(CORPUS.glob("*.jsonl.gz")):
        if not path.name.startswith(DOMAIN_PREFIXES):
            continue
        recs = _records(path)
        rng.shuffle(recs)
        for obj in recs[:per_file]:
            text = " ".join(obj["text"].split(" ")[:3000])
            if len(text.split()) >= 20:
                out.append((text, obj["domain"], path.name.split(".")[0]))
    return out


def load_web(rng: random.Random, limit: int) -> list[str]:
    recs = []
    for path in sorted((CORPUS / "raw_web").glob("*.jsonl.gz")):
        recs.extend(_records(path))
    rng.shuffle(recs)
    texts = []
    for obj in recs[:limit]:
        text = _record_text(obj)  # trafilatura main-text extraction, as the training loader does
        if len(text.split()) >= 20:
            texts.append(text)
    return texts


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path


def _prf(y: np.ndarray, score: np.ndarray) -> dict:
    from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

    p, r, f, _ = precision_recall_fscore_support(y, score >= 0.5, average="binary", zero_division=0)
    return {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
            "roc_auc": round(float(roc_auc_score(y, score)), 4)}


def compare_models(train: tuple[list[str], np.ndarray], test: tuple[list[str], np.ndarray]) -> dict:
    """Linear alternatives on the same split: held-out P/R/F1/AUC and fit time."""
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB

    out = {}
    for name, ngram, clf in (
        ("hashed 1gram + logistic (default)", 1, LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")),
        ("hashed 1-2gram + logistic", 2, LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")),
        ("hashed 1-2gram + multinomial NB", 2, MultinomialNB(alpha=0.1)),
    ):
        vec = HashingVectorizer(n_features=1 << 20, ngram_range=(1, ngram), alternate_sign=False,
                                token_pattern=r"(?u)\b\w+\b", norm="l2")
        start = time.perf_counter()
        clf.fit(vec.transform([t[:20000] for t in train[0]]), train[1])
        fit_s = time.perf_counter() - start
        score = clf.predict_proba(vec.transform([t[:20000] for t in test[0]]))[:, 1]
        out[name] = {**_prf(test[1], score), "fit_s": round(fit_s, 2)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-file", type=int, default=400, help="positive documents per corpus file")
    ap.add_argument("--web", type=int, default=2200, help="raw web pages read (before extraction)")
    ap.add_argument("--web-fraction", type=float, default=0.03, help="keep_token_fraction of the web source")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "select.json")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="bench_select_"))

    start = time.perf_counter()
    pos = load_positives(args.per_file, rng)
    web = load_web(rng, args.web)
    load_s = time.perf_counter() - start
    rng.shuffle(pos)
    pos_train, pos_test = pos[: len(pos) // 2], pos[len(pos) // 2 :]
    web_train, web_test = web[: len(web) // 2], web[len(web) // 2 :]
    pos_file = _write_jsonl(work / "pos.jsonl.gz", [{"text": t, "domain": d} for t, d, _ in pos_train])
    neg_file = _write_jsonl(work / "neg.jsonl.gz", [{"text": t} for t in web_train])

    qcfg = QualityModelConfig(max_docs_per_class=10**6)
    start = time.perf_counter()
    trained = train_quality_model(qcfg, [pos_file], [neg_file], work / "quality.npz")
    train_s = time.perf_counter() - start
    model = QualityModel.load(work / "quality.npz")
    test_texts = [t for t, _, _ in pos_test] + web_test
    y_test = np.array([1] * len(pos_test) + [0] * len(web_test))
    start = time.perf_counter()
    scores = model.scores(test_texts)
    score_rate = len(test_texts) / (time.perf_counter() - start)
    second_test = _prf(y_test, scores)
    alternatives = compare_models(
        ([t for t, _, _ in pos_train] + web_train, np.array([1] * len(pos_train) + [0] * len(web_train))),
        (test_texts, y_test),
    )

    # Selection on the untouched halves: curated sources at 1.0, web at the target fraction.
    docs_dir = work / "curated"
    by_domain: dict[str, list[Document]] = {}
    for i, (text, domain, _) in enumerate(pos_test):
        by_domain.setdefault(domain, []).append(Document(id=f"{domain}-{i:05d}", text=text, source=domain, domain=domain))
    for domain, docs in by_domain.items():
        write_documents(docs_dir / domain / "part-00000.jsonl.gz", docs)
    write_documents(docs_dir / "web" / "part-00000.jsonl.gz",
                    [Document(id=f"web-{i:05d}", text=t, source="web", domain="general") for i, t in enumerate(web_test)])
    selection = {}
    for method in ("quantiles", "pareto"):
        cfg = SelectConfig(selection={"method": method, "keep_token_fraction": {"web": args.web_fraction}})
        start = time.perf_counter()
        summary = run_select(cfg, docs_dir, work / f"selected_{method}", quality_model=work / "quality.npz")
        wall = time.perf_counter() - start
        stats = json.loads((work / f"selected_{method}" / "stats.json").read_text())
        selection[method] = {
            "wall_s": round(wall, 2),
            "routed": stats["routed"],
            "routed_kept": {s: v["routed_kept"] for s, v in stats["sources"].items() if v["routed_kept"]},
            "per_source": {
                s: {"target": v["selection"]["target_token_fraction"], "achieved": v["selection"]["achieved_token_fraction"],
                    "kept_token_fraction": v["kept_token_fraction"], "threshold": v["selection"]["threshold"],
                    "docs_in": v["in"]["docs"], "docs_kept": v["kept"]["docs"]}
                for s, v in stats["sources"].items()
            },
            "reconciled": summary["reconciled"],
        }

    print(f"\nquality model: {len(pos_train)} positive / {len(web_train)} negative training docs "
          f"(texts loaded in {load_s:.0f}s, trained in {train_s:.1f}s, scores {score_rate:.0f} docs/s)")
    print(f"{'evaluation':<42} {'P':>7} {'R':>7} {'F1':>7} {'AUC':>7}")
    h = trained["held_out"]
    print(f"{'held-out split of the training half':<42} {h['precision']:>7.4f} {h['recall']:>7.4f} {h['f1']:>7.4f} {h['roc_auc']:>7.4f}")
    print(f"{'untouched half (second test set)':<42} {second_test['precision']:>7.4f} {second_test['recall']:>7.4f} "
          f"{second_test['f1']:>7.4f} {second_test['roc_auc']:>7.4f}")
    for name, r in alternatives.items():
        print(f"{'  ' + name:<42} {r['precision']:>7.4f} {r['recall']:>7.4f} {r['f1']:>7.4f} {r['roc_auc']:>7.4f}")
    print(f"domain classifier accuracy (held out): {trained['domain_classifier'].get('accuracy')}")
    for method, r in selection.items():
        print(f"selection ({method}): routed {r['routed']['docs']} web pages {r['routed']['by_source']}, "
              f"of which kept {r['routed_kept']}")
        for s, v in r["per_source"].items():
            print(f"  {s:<10} target {v['target']:.3f} achieved {v['achieved']:.4f}  docs {v['docs_kept']}/{v['docs_in']}")

    payload = {
        "bench": "select",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {"numpy": np.__version__, "scikit_learn": __import__("sklearn").__version__},
        "settings": {"per_file": args.per_file, "web_pages_read": args.web, "web_fraction": args.web_fraction,
                     "seed": args.seed, "quality": qcfg.model_dump(), "corpus": str(CORPUS)},
        "data": {"positive_train": len(pos_train), "negative_train": len(web_train),
                 "positive_test": len(pos_test), "negative_test": len(web_test)},
        "quality_model": {"held_out": trained["held_out"], "second_test": second_test,
                          "domain_classifier": trained["domain_classifier"], "train_s": round(train_s, 2),
                          "score_docs_per_s": round(score_rate, 1)},
        "alternatives": alternatives,
        "selection": selection,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
