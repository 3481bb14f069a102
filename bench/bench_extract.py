"""Benchmark: HTML main-text extraction, trafilatura vs resiliparse (vs their cascade), side by side in one run.

For every raw_web set of ../shared/corpus with gold main text (SOURCES.md: scrapinghub's article-extraction
benchmark, human ground truth; Mozilla Readability's test pages, expected output; WCEB 2026 parts 1 and 2,
AI-generated then human-verified), each extractor runs through ``dapt.pipeline.curate.extract`` (the
function curate and the quality stage call) over the same pages, one process, one core:

- pages per CPU-second (process time of the extraction calls only; the first page is a warm-up, untimed);
- word-level precision / recall / F1 against the gold text, per page (bag of lower-cased ``\\w+`` words,
  multiset overlap, as scrapinghub's benchmark and trafilatura's evaluation score), then the mean over pages;
  a page with no output scores 0.

trafilatura's own evaluation set has no full gold text, only snippets that must (``with``) or must not
(``without``) appear; it is reported on that snippet metric (trafilatura's tests/comparison.py), apart.

    nice -n 10 python bench/bench_extract.py                 # all pages
    nice -n 10 python bench/bench_extract.py --max-pages 50  # a quick look
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import re
import sys
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RAW_WEB = REPO.parent / "shared" / "corpus" / "raw_web"
GOLD_SETS = {
    "scrapinghub_aeb": "web_raw_scrapinghub_aeb.jsonl.gz",
    "readability": "web_raw_readability_testpages.jsonl.gz",
    "wceb2026": "web_raw_wceb2026.jsonl.gz",
    "wceb2026_part2": "web_raw_wceb2026_part2.jsonl.gz",
}
SNIPPET_SET = ("trafilatura_eval", "web_raw_trafilatura_eval.jsonl.gz")
WORD = re.compile(r"\w+")

sys.path.insert(0, str(REPO))


def words(text: str) -> Counter:
    return Counter(WORD.findall(text.lower()))


def word_prf(predicted: str, gold: str) -> tuple[float, float, float]:
    """Word-level precision, recall, F1 of one page (multiset overlap)."""
    pred, ref = words(predicted), words(gold)
    overlap = sum((pred & ref).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    p, r = overlap / sum(pred.values()), overlap / sum(ref.values())
    return p, r, 2 * p * r / (p + r)


def load(path: Path, max_pages: int | None) -> list[dict]:
    pages = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            pages.append(json.loads(line))
            if max_pages and len(pages) >= max_pages:
                break
    return pages


def run_extractor(pages: list[dict], extractor: str) -> tuple[list[str], float, Counter]:
    """Outputs (\"\" where none), CPU seconds over all pages but the warm-up, reasons of pages without text."""
    from dapt.pipeline.curate.extract import extract_main_text

    extract_main_text(pages[0]["html"], extractor)  # imports and first-call set-up, not timed
    outputs, reasons = [], Counter()
    started = time.process_time()
    for page in pages:
        result = extract_main_text(page["html"], extractor)
        outputs.append(result.text or "")
        if result.reason:
            reasons[result.reason] += 1
    return outputs, time.process_time() - started, reasons


def snippet_scores(outputs: list[str], pages: list[dict]) -> tuple[float, float, float]:
    """trafilatura's evaluation: a `with` snippet found is a true positive, missed a false negative; a
    `without` snippet found a false positive. Precision / recall / F1 over all snippets of the set."""
    tp = fn = fp = 0
    for text, page in zip(outputs, pages):
        for snippet in page.get("gold_snippets_with") or []:
            tp, fn = (tp + 1, fn) if snippet in text else (tp, fn + 1)
        for snippet in page.get("gold_snippets_without") or []:
            fp += snippet in text
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def measure(name: str, pages: list[dict], extractors: list[str], snippets: bool) -> dict:
    row = {"set": name, "pages": len(pages), "html_mb": round(sum(len(p["html"]) for p in pages) / 1e6, 2)}
    for extractor in extractors:
        outputs, cpu, reasons = run_extractor(pages, extractor)
        if snippets:
            p, r, f = snippet_scores(outputs, pages)
        else:
            scores = [word_prf(out, page["gold_text"]) for out, page in zip(outputs, pages)]
            p, r, f = (sum(s[i] for s in scores) / len(scores) for i in range(3))
        row[extractor] = {"pages_per_cpu_s": round(len(pages) / cpu, 1), "cpu_s": round(cpu, 2),
                          "precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3),
                          "no_text": dict(reasons)}
        print(f"  {name:16s} {extractor:12s} {len(pages) / cpu:7.1f} pages/CPU-s  P {p:.3f} R {r:.3f} F1 {f:.3f}",
              flush=True)
    return row


def table(rows: list[dict], extractors: list[str]) -> str:
    from dapt.summary import format_table

    head = ["set", "pages", "metric"]
    for e in extractors:
        head += [f"{e} pages/CPU-s", f"{e} P", f"{e} R", f"{e} F1"]
    head += [f"speed {e}/{extractors[0]}" for e in extractors[1:]]
    body = []
    for row in rows:
        line = [row["set"], row["pages"], row["metric"]]
        for e in extractors:
            m = row[e]
            line += [m["pages_per_cpu_s"], f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}"]
        line += [f"{row[e]['pages_per_cpu_s'] / row[extractors[0]]['pages_per_cpu_s']:.1f}x" for e in extractors[1:]]
        body.append(line)
    return format_table(head, body, align="lrl" + "rrrr" * len(extractors) + "r" * (len(extractors) - 1),
                        markdown=True)


def main(argv: list[str] | None = None) -> None:
    from dapt.pipeline.curate.extract import (
        CASCADE_MIN_WORDS, DEFAULT_EXTRACTOR, EXTRACTORS, RESILIPARSE_SETTINGS, TRAFILATURA_SETTINGS,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-pages", type=int, default=None, help="first N pages of each set (default: all)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "extract.json"))
    args = ap.parse_args(argv)
    extractors = list(EXTRACTORS)
    rows = []
    for name, file in GOLD_SETS.items():
        rows.append({**measure(name, load(RAW_WEB / file, args.max_pages), extractors, snippets=False),
                     "metric": "word P/R/F1 vs gold_text"})
    name, file = SNIPPET_SET
    rows.append({**measure(name, load(RAW_WEB / file, args.max_pages), extractors, snippets=True),
                 "metric": "snippet P/R/F1 (no full gold)"})
    gold = [r for r in rows if r["set"] in GOLD_SETS]
    overall = {}
    for e in extractors:
        pages = sum(r["pages"] for r in gold)
        cpu = sum(r[e]["cpu_s"] for r in gold)
        weighted = {k: round(sum(r[e][k] * r["pages"] for r in gold) / pages, 3) for k in ("precision", "recall", "f1")}
        overall[e] = {"pages_per_cpu_s": round(pages / cpu, 1), **weighted}
    print(table(rows, extractors))
    print("all gold pages (page-weighted): " + "; ".join(
        f"{e} {m['pages_per_cpu_s']} pages/CPU-s F1 {m['f1']:.3f}" for e, m in overall.items()))
    if "cascade" in overall:
        ratio = overall["cascade"]["pages_per_cpu_s"] / overall["resiliparse"]["pages_per_cpu_s"]
        overall["cascade"]["speed_vs_resiliparse"] = round(ratio, 2)
        print(f"cascade: {ratio:.2f}x resiliparse's pages/CPU-s; its F1 per gold set: "
              + ", ".join(f"{r['set']} {r['cascade']['f1']:.3f}" for r in gold))
    result = {
        "bench": "extract",
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "versions": {pkg: version(pkg) for pkg in ("trafilatura", "resiliparse", "lxml")},
        "settings": {"trafilatura": TRAFILATURA_SETTINGS, "resiliparse": RESILIPARSE_SETTINGS,
                     "cascade_min_words": CASCADE_MIN_WORDS, "default": DEFAULT_EXTRACTOR,
                     "max_pages": args.max_pages, "timing": "time.process_time of the extraction calls, one process",
                     "word_metric": "per-page multiset overlap of lower-cased \\w+ words, mean over pages"},
        "sets": rows,
        "gold_overall": overall,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
