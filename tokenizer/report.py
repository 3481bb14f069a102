"""How well a tokenizer fits held-out domain text, compared with a baseline tokenizer.

Per domain: fertility (tokens per whitespace word; Rust et al. 2021, "How Good is Your Tokenizer?"),
UTF-8 bytes per token, the share of words cut into 3 or more pieces, and the tokens each tokenizer
needs for the same text; plus a table of how each tokenizer splits domain terms.
Writes report.md, report.json, report.png and manifest.json, and prints the tables.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

from dapt.errors import UserError
from dapt.pipeline.documents import iter_documents, sha256_of, shard_paths
from dapt.summary import format_table
from dapt.tokenizer.config import TokenizerConfig
from dapt.tokenizer.train import TOKENIZER_FILE, doc_key, load_tokenizer, train_tokenizer, validated
from dapt.manifest import read_manifest, write_manifest

log = logging.getLogger(__name__)

# Words for the split share: runs of letters and digits. Whitespace words would count "court." as
# split only because a byte-level pre-tokenizer always cuts punctuation off.
WORD = re.compile(r"[^\W_]+")
SPLIT_PIECES = 3
NAMES = ("tokenizer", "baseline")


def heldout_texts(heldout_dir: Path, max_bytes_per_domain: int, seed: int = 0) -> dict[str, list[str]]:
    """Held-out texts per domain, drawn evenly across sources up to max_bytes_per_domain each."""
    try:
        shard_paths(heldout_dir)
    except FileNotFoundError:
        raise UserError(f"no held-out documents at {heldout_dir}; run `dapt tokenize` first or fix the path") from None
    domain_bytes: Counter[str] = Counter()
    for doc in iter_documents(heldout_dir):
        domain_bytes[doc.domain] += len(doc.text.encode("utf-8"))
    if not domain_bytes:
        raise UserError(f"{heldout_dir} holds no held-out documents; run `dapt tokenize` first or fix the path")
    keep = {d: min(1.0, max_bytes_per_domain / n) if n else 0.0 for d, n in domain_bytes.items()}
    texts: dict[str, list[str]] = {d: [] for d in sorted(domain_bytes)}
    for doc in iter_documents(heldout_dir):
        if doc.text and doc_key(doc, seed) < keep[doc.domain]:
            texts[doc.domain].append(doc.text)
    return {d: t for d, t in texts.items() if t}


def measure(backend: Any, texts: list[str]) -> dict[str, float]:
    """Fertility, bytes/token, share of words in >= 3 pieces and token count of one tokenizer on texts."""
    n_tokens = sum(len(e.ids) for e in backend.encode_batch(texts, add_special_tokens=False))
    n_words = sum(len(t.split()) for t in texts)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    words = Counter(w for t in texts for w in WORD.findall(t))
    # Each distinct word once, with the leading space it carries inside running text.
    uniq = list(words)
    pieces = [len(e.ids) for e in backend.encode_batch([" " + w for w in uniq], add_special_tokens=False)]
    total = sum(words.values())
    split = sum(words[w] for w, n in zip(uniq, pieces) if n >= SPLIT_PIECES)
    return {
        "tokens": n_tokens,
        "words": n_words,
        "bytes": n_bytes,
        "docs": len(texts),
        "fertility": n_tokens / max(n_words, 1),
        "bytes_per_token": n_bytes / max(n_tokens, 1),
        "split_3plus_share": split / max(total, 1),
    }


# Terms are tokenized where they sit in running text: mid-sentence, after a space, followed by a space.
TERM_CONTEXT = "In the filing, {term} was noted twice."


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-to-unicode map, inverted: the byte each character of a byte-level token stands for."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


_BYTES = _byte_decoder()


def _piece(backend: Any, token_id: int) -> str:
    """A token as text; a token holding part of a multi-byte character is shown as its bytes (0xC2)."""
    text = backend.decode([token_id])
    if "\ufffd" not in text:
        return text
    raw = backend.id_to_token(token_id) or ""
    if raw and all(ch in _BYTES for ch in raw):
        return " ".join(f"0x{_BYTES[ch]:02X}" for ch in raw)
    return text


def split_term(backend: Any, term: str) -> list[str]:
    """The pieces of a term as it appears in running text (TERM_CONTEXT: after a space, inside a sentence).

    The tokens whose character offsets overlap the term are its pieces; the space before the term, which
    every term carries, is dropped from the first piece (or dropped outright when it is a token of its own).
    """
    text = TERM_CONTEXT.format(term=term)
    start = text.index(term)
    end = start + len(term)
    enc = backend.encode(text, add_special_tokens=False)
    pieces = [_piece(backend, i) for i, (a, b) in zip(enc.ids, enc.offsets) if a < end and b > start]
    if pieces and pieces[0].startswith(" "):
        pieces[0] = pieces[0][1:]
        if not pieces[0]:  # the space was a token of its own
            pieces = pieces[1:]
    return pieces


def _train_baseline(cfg: TokenizerConfig, tokenizer_dir: Path, out: Path) -> Path:
    """Trains a general-only tokenizer the same way and size as tokenizer_dir's (from its manifest)."""
    hint = "name a baseline tokenizer folder (--baseline DIR or tokenizer.report.baseline_dir)"
    manifest = read_manifest(tokenizer_dir, f"it is needed to train a general-only baseline; {hint}")
    docs_dir = Path(manifest["inputs"]["docs_dir"])
    if not docs_dir.exists():
        raise UserError(f"the tokenizer's training documents {docs_dir} are gone; {hint}")
    same = TokenizerConfig.model_validate({**manifest["config"], "show_progress": cfg.show_progress})
    log.info("tokenizer report: training a general-only baseline (vocab %d) on %s", same.vocab_size, docs_dir)
    train_tokenizer(same, docs_dir, out, domains={"general"})
    return out


def _fmt_pieces(pieces: list[str]) -> str:
    # "▁" marks a piece's leading space (SentencePiece's convention), which Markdown would swallow.
    shown = " · ".join(p.replace(" ", "▁").replace("|", "\\|").replace("\n", "\\n") for p in pieces)
    return f"{shown} ({len(pieces)})"


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: the metrics table, then one term table per domain."""
    metrics = []
    for domain, row in report["domains"].items():
        t, b = row["tokenizer"], row["baseline"]
        metrics.append([domain, t["docs"], t["words"], f"{t['fertility']:.3f}", f"{b['fertility']:.3f}",
                        f"{t['bytes_per_token']:.2f}", f"{b['bytes_per_token']:.2f}", f"{t['split_3plus_share']:.1%}",
                        f"{b['split_3plus_share']:.1%}", t["tokens"], b["tokens"], f"{row['tokens_ratio']:.3f}"])
    lines = [
        "# Tokenizer report",
        "",
        f"- tokenizer: `{report['tokenizer']['path']}` (vocab {report['tokenizer']['vocab_size']})",
        f"- baseline: `{report['baseline']['path']}` (vocab {report['baseline']['vocab_size']})",
        f"- held-out text: `{report['heldout_dir']}`",
        "",
        "Fertility = tokens per whitespace word (lower is better); split ≥3 = share of words (letter/digit runs)"
        " cut into 3 or more pieces; tokens ratio = tokenizer tokens / baseline tokens for the same text.",
        "",
        format_table(["domain", "docs", "words", "fertility tok", "fertility base", "bytes/token tok",
                      "bytes/token base", "split ≥3 tok", "split ≥3 base", "tokens tok", "tokens base", "tokens ratio"],
                     metrics, align="l" + "r" * 11, markdown=True),
    ]
    for domain, rows in report["terms"].items():
        terms = [[row["term"].replace("|", "\\|"), _fmt_pieces(row["tokenizer"]), _fmt_pieces(row["baseline"])]
                 for row in rows]
        lines += ["", f"## {domain} terms", "",
                  f"Each term tokenized as it occurs in running text, inside the sentence \"{TERM_CONTEXT}\" "
                  "(so after a space, which the first piece carries and is not shown); ▁ marks a later piece's "
                  "leading space, 0xC2 a token that holds part of a multi-byte character.", "",
                  format_table(["term (in a sentence, after a space)", "tokenizer", "baseline"], terms, markdown=True)]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """Bar chart: fertility and split share per domain, tokenizer next to baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = list(report["domains"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in [(axes[0], "fertility", "tokens per word (lower is better)"),
                           (axes[1], "split_3plus_share", "share of words in ≥3 pieces")]:
        xs = range(len(domains))
        for k, name in enumerate(NAMES):
            vals = [report["domains"][d][name][key] for d in domains]
            ax.bar([x + (k - 0.5) * 0.38 for x in xs], vals, width=0.38, label=name)
        ax.set_xticks(list(xs), domains)
        ax.set_title(title)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report_tokenizer(
    cfg: TokenizerConfig, tokenizer_dir: Path, baseline_dir: Path | None, heldout_dir: Path, out_dir: Path
) -> dict:
    """Compares tokenizer_dir with a baseline on held-out documents; writes the report files to out_dir.

    baseline_dir None falls back to cfg.report.baseline_dir, then to a general-only tokenizer trained
    the same way and size on the tokenizer's own training documents (into out_dir/baseline).
    """
    cfg = validated(cfg)
    tokenizer_dir, heldout_dir, out_dir = Path(tokenizer_dir), Path(heldout_dir), Path(out_dir)
    tok = load_tokenizer(tokenizer_dir)
    baseline_dir = baseline_dir or cfg.report.baseline_dir
    texts = heldout_texts(heldout_dir, cfg.report.max_bytes_per_domain, cfg.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    if baseline_dir is None:
        baseline_dir = _train_baseline(cfg, tokenizer_dir, out_dir / "baseline")
    baseline_dir = Path(baseline_dir)
    base = load_tokenizer(baseline_dir)
    backends = {"tokenizer": tok.backend_tokenizer, "baseline": base.backend_tokenizer}

    domains: dict[str, Any] = {}
    for domain, domain_texts in texts.items():
        row = {name: measure(b, domain_texts) for name, b in backends.items()}
        row["tokens_ratio"] = row["tokenizer"]["tokens"] / max(row["baseline"]["tokens"], 1)
        row["fertility_ratio"] = row["tokenizer"]["fertility"] / max(row["baseline"]["fertility"], 1e-12)
        domains[domain] = row
    terms = {
        domain: [{"term": t, **{name: split_term(b, t) for name, b in backends.items()}} for t in term_list]
        for domain, term_list in cfg.report.terms.items()
    }
    report = {
        "stage": "tokenizer_report",
        "config": cfg.model_dump(mode="json"),
        "tokenizer": {"path": str(tokenizer_dir), "vocab_size": len(tok),
                      "hash": sha256_of(tokenizer_dir / TOKENIZER_FILE)},
        "baseline": {"path": str(baseline_dir), "vocab_size": len(base),
                     "hash": sha256_of(baseline_dir / TOKENIZER_FILE)},
        "heldout_dir": str(heldout_dir),
        "domains": domains,
        "fewer_tokens_per_word": {d: r["tokenizer"]["fertility"] < r["baseline"]["fertility"] for d, r in domains.items()},
        "terms": terms,
    }
    markdown = render_markdown(report)
    (out_dir / "report.md").write_text(markdown)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    plot(report, out_dir / "report.png")
    manifest = {k: report[k] for k in ("stage", "config", "tokenizer", "baseline", "fewer_tokens_per_word")}
    manifest["inputs"] = {"tokenizer_dir": str(tokenizer_dir), "baseline_dir": str(baseline_dir),
                          "heldout_dir": str(heldout_dir)}
    manifest["fertility"] = {d: {n: r[n]["fertility"] for n in NAMES} for d, r in domains.items()}
    write_manifest(out_dir, manifest)
    print(markdown)
    return report
