"""The embedded sample corpus: a seeded generator of a small raw corpus with planted, recorded noise.

``dapt run`` starts from this corpus, so the whole chain runs offline on a laptop. Everything here is
the project's own: sentence templates and term lists written for dapt (``terms.py``, shared, and
``legal.py``, ``medical.py``, ``financial.py``, ``web.py``), filled by a seeded RNG
(``text.py``); this module lays the documents out into files and records their expected outcomes.

Output (``out_dir``):
  ``<source>.jsonl.gz``  one record a line: {"id", "text", "domain", "source"} (web pages add "url");
                         sources legal, medical, financial (domain text), general (clean prose) and
                         web (domain "general", crawl-like with most of the noise).
  ``ground_truth.json``  "docs": {id: {source, line, outcome, kinds}} for every line of every file, the
                         outcome one of ``OUTCOMES``; "defects": one entry per planted defect {id, source,
                         line, kind, ...}: exact_duplicate and near_duplicate add "duplicate_of" (near
                         ones also "band" light|hard, "edit_rate", "jaccard"), boilerplate adds "lines",
                         non_english "language", junk "style", malformed "detail"; "boilerplate_lines";
                         "counts" per kind; "outcomes" per outcome.
  ``manifest.json``      stage, resolved config, file hashes, the summary.

Malformed records are written raw into the gzip stream (a line cut off mid-record, a line with invalid
UTF-8 bytes inside its text, a record without "text", a record whose "text" is not a string), so a reader
must open the files in binary, decode each line itself and dead-letter what fails.

Near-duplicates come in two bands: "light" (1-3% of words replaced, word-5-gram Jaccard with the original
at least ``near_duplicate_threshold``; expected outcome near_duplicate) and "hard" (10-30% replaced,
Jaccard far below it; expected outcome keep, there for dedup benchmarks that sweep the threshold).

Duplicates follow one convention: the original always precedes its copy in (file name, line) order.
Copies go into the same file after the original, or into ``web.jsonl.gz``, whose name sorts after
every other source's.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dapt.errors import UserError
from dapt.pipeline.sample.text import (
    GENRES, NGRAM, clean_doc, edit_words, jaccard, junk_doc, non_english_doc, prose, short_doc,
)
from dapt.pipeline.sample.web import BOILERPLATE_FOOT, BOILERPLATE_HEAD, FOREIGN, URL_WORDS, WEB_HOSTS
from dapt.manifest import write_manifest

log = logging.getLogger(__name__)

DOMAIN_SOURCES = ("legal", "medical", "financial")
SOURCES = (*DOMAIN_SOURCES, "general", "web")
SOURCE_DOMAIN = {"legal": "legal", "medical": "medical", "financial": "financial", "general": "general",
                 "web": "general"}
# Expected outcome of each document once the pipeline has run (ground_truth.json "docs"[id]["outcome"]).
OUTCOMES = ("keep", "short", "non_english", "junk", "exact_duplicate", "near_duplicate", "malformed")
MALFORMED_KINDS = ("not_json", "invalid_utf8", "missing_text", "non_string_text")


class SampleConfig(BaseModel):
    """How big the sample corpus is and how much noise it carries. Rates are fractions of a source's records."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    docs_per_domain: int = Field(200, ge=1, description="records in each of legal.jsonl.gz, medical…, financial…")
    general_docs: int = Field(300, ge=1, description="records in general.jsonl.gz (clean prose)")
    web_docs: int = Field(400, ge=1, description="records in web.jsonl.gz (crawl-like, noisy)")

    web_exact_duplicate_rate: float = Field(0.06, ge=0, le=1)
    web_near_duplicate_rate: float = Field(0.05, ge=0, le=1)
    web_hard_near_duplicate_rate: float = Field(0.03, ge=0, le=1)
    web_short_rate: float = Field(0.05, ge=0, le=1)
    web_non_english_rate: float = Field(0.06, ge=0, le=1)
    web_junk_rate: float = Field(0.04, ge=0, le=1)
    web_boilerplate_rate: float = Field(0.5, ge=0, le=1, description="share of clean web pages given boilerplate lines")
    web_malformed: int = Field(4, ge=0, description="malformed lines in web (cycling through the four kinds)")

    other_duplicate_rate: float = Field(0.02, ge=0, le=1, description="exact duplicates inside each non-web source")
    other_short_rate: float = Field(0.01, ge=0, le=1)
    other_malformed: int = Field(1, ge=0, description="malformed lines in each non-web source")

    # "A few percent of words changed" (light) and the 10-30% band dedup benchmarks need (hard).
    near_duplicate_edit_rate: tuple[float, float] = (0.01, 0.03)
    hard_near_duplicate_edit_rate: tuple[float, float] = (0.10, 0.30)
    # A copy is expected to be removed as a near-duplicate when its word-5-gram Jaccard with the original
    # is at least this; light copies are re-drawn until they reach it, so the two bands never blur.
    near_duplicate_threshold: float = Field(0.7, gt=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> SampleConfig:
        for name in ("near_duplicate_edit_rate", "hard_near_duplicate_edit_rate"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi < 1:
                raise ValueError(f"{name} must be [low, high] with 0 < low <= high < 1, got [{lo}, {hi}]")
        web = (self.web_exact_duplicate_rate + self.web_near_duplicate_rate + self.web_hard_near_duplicate_rate
               + self.web_short_rate + self.web_non_english_rate + self.web_junk_rate)
        if web > 0.8:
            raise ValueError(f"the web_*_rate defect rates add up to {web:.2f}; keep their sum at or below 0.8 "
                             "so most web pages stay clean")
        if self.other_duplicate_rate + self.other_short_rate > 0.5:
            raise ValueError("other_duplicate_rate + other_short_rate must be at most 0.5")
        if self.web_malformed > self.web_docs // 2:
            raise ValueError(f"web_malformed={self.web_malformed} is more than half of web_docs={self.web_docs}; "
                             "lower web_malformed or raise web_docs")
        if self.other_malformed > min(self.docs_per_domain, self.general_docs) // 2:
            raise ValueError(f"other_malformed={self.other_malformed} is more than half of the smaller of "
                             "docs_per_domain and general_docs; lower it or raise those counts")
        return self


# ----------------------------------------------------------------------------- records


@dataclasses.dataclass(eq=False)
class _Entry:
    """One line of a source file before ids are given. ``key`` orders the file; a copy's key exceeds its
    original's, so originals always come first. ``malformed`` names the defect of a broken line."""

    text: Any
    key: float
    outcome: str = "keep"
    defects: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    original: _Entry | None = None
    malformed: str | None = None
    url: str | None = None
    id: str = ""
    line: int = 0
    boilerplate: bool = False


def _url(rng: random.Random) -> str:
    return f"https://{rng.choice(WEB_HOSTS)}/{rng.choice(URL_WORDS)}/{rng.randint(1000, 99999)}"


def _counts(source: str, n_records: int, cfg: SampleConfig) -> dict[str, int]:
    """How many records of each defect a source gets (rates are fractions of the source's records)."""

    def rate(r: float) -> int:
        return round(r * n_records)

    if source == "web":
        return {
            "exact_duplicate": rate(cfg.web_exact_duplicate_rate),
            "near_duplicate": rate(cfg.web_near_duplicate_rate),
            "hard_near_duplicate": rate(cfg.web_hard_near_duplicate_rate),
            "short": rate(cfg.web_short_rate),
            "non_english": rate(cfg.web_non_english_rate),
            "junk": rate(cfg.web_junk_rate),
            "malformed": cfg.web_malformed,
        }
    return {"exact_duplicate": rate(cfg.other_duplicate_rate), "short": rate(cfg.other_short_rate),
            "malformed": cfg.other_malformed}


def _near_copy(orig: _Entry, band: str, cfg: SampleConfig, rng: random.Random) -> tuple[str, float, float]:
    """Edits a copy of ``orig`` in the band's edit-rate range; light copies are re-drawn until their Jaccard
    reaches the threshold. Returns (text, edit rate, Jaccard)."""
    lo, hi = cfg.near_duplicate_edit_rate if band == "light" else cfg.hard_near_duplicate_edit_rate
    for _ in range(200):
        edit_rate = rng.uniform(lo, hi)
        text = edit_words(orig.text, edit_rate, rng)
        jac = jaccard(orig.text, text)
        if band == "hard" or jac >= cfg.near_duplicate_threshold:
            return text, edit_rate, jac
    raise UserError(
        f"sample: light near-duplicates edited at {lo:.0%}-{hi:.0%} of words never reach the word-5-gram "
        f"Jaccard of near_duplicate_threshold={cfg.near_duplicate_threshold}; lower the threshold or the "
        "near_duplicate_edit_rate range")


def _build_source(
    source: str, n_records: int, cfg: SampleConfig, pool: list[_Entry], rng: random.Random
) -> list[_Entry]:
    """All records of one source, defects placed among clean documents; ``pool`` holds earlier sources' clean docs."""
    web = source == "web"
    counts = _counts(source, n_records, cfg)
    n_clean = max(1, n_records - sum(counts.values()))
    seen = {e.text for e in pool}

    def fresh(make: Callable[[], str]) -> str:
        text = make()
        while text in seen:  # templates can collide on tiny docs; only planted duplicates may repeat
            text = make()
        seen.add(text)
        return text

    def after(orig: _Entry, mine: set[int]) -> float:
        """A key after the original's when it sits in this file; anywhere otherwise."""
        return rng.uniform(orig.key, 1.0) if id(orig) in mine else rng.random()

    entries = []
    for _ in range(n_clean):
        entry = _Entry(text=fresh(lambda: clean_doc(source, rng)), key=rng.random())
        if web:
            entry.url = _url(rng)
            if rng.random() < cfg.web_boilerplate_rate:
                head = rng.sample(BOILERPLATE_HEAD, rng.randint(1, 2))
                foot = rng.sample(BOILERPLATE_FOOT, rng.randint(1, 3))
                entry.text = "\n".join([*head, entry.text, *foot])
                entry.boilerplate = True
                entry.defects.append({"kind": "boilerplate", "lines": [*head, *foot]})
        entries.append(entry)
    mine = {id(e) for e in entries}

    # Originals for copies: clean documents of this source, and for web also of every earlier source.
    # Near-duplicates copy only pages without boilerplate, so line removal cannot move their Jaccard.
    candidates = entries + (pool if web else [])
    originals = rng.sample(candidates, min(len(candidates), counts["exact_duplicate"]))
    for orig in originals:
        copy = _Entry(text=orig.text, key=after(orig, mine), outcome="exact_duplicate", original=orig,
                      boilerplate=orig.boilerplate)
        copy.defects = [{"kind": "exact_duplicate"}] + [d for d in orig.defects if d["kind"] == "boilerplate"]
        entries.append(copy)

    taken = {id(e) for e in originals}
    plain = [e for e in candidates if not e.boilerplate and id(e) not in taken]
    n_light, n_hard = counts.get("near_duplicate", 0), counts.get("hard_near_duplicate", 0)
    for k, orig in enumerate(rng.sample(plain, min(len(plain), n_light + n_hard))):
        band = "light" if k < n_light else "hard"
        text, edit_rate, jac = _near_copy(orig, band, cfg, rng)
        seen.add(text)
        outcome = "near_duplicate" if jac >= cfg.near_duplicate_threshold else "keep"
        defect = {"kind": "near_duplicate", "band": band, "edit_rate": round(edit_rate, 4), "jaccard": round(jac, 4)}
        entries.append(_Entry(text=text, key=after(orig, mine), outcome=outcome, original=orig, defects=[defect]))

    for _ in range(counts["short"]):
        entries.append(_Entry(text=fresh(lambda: short_doc(source, rng)), key=rng.random(), outcome="short",
                              defects=[{"kind": "short"}]))
    for k in range(counts.get("non_english", 0)):
        lang = sorted(FOREIGN)[k % len(FOREIGN)]  # round robin, so every language shows up
        entries.append(_Entry(text=fresh(lambda: non_english_doc(lang, rng)), key=rng.random(),
                              outcome="non_english", defects=[{"kind": "non_english", "language": lang}]))
    for _ in range(counts.get("junk", 0)):
        style, text = junk_doc(rng)
        entries.append(_Entry(text=text, key=rng.random(), outcome="junk", defects=[{"kind": "junk", "style": style}]))
    first_kind = 0 if web else SOURCES.index(source)
    for k in range(counts["malformed"]):
        kind = MALFORMED_KINDS[(first_kind + k) % len(MALFORMED_KINDS)]
        text = prose(rng.choice(GENRES[source]), rng, (3, 4), (3, 4))
        entries.append(_Entry(text=text, key=rng.random(), outcome="malformed", malformed=kind,
                              defects=[{"kind": "malformed", "detail": kind}]))

    entries.sort(key=lambda e: e.key)
    for line, entry in enumerate(entries, start=1):
        entry.id, entry.line = f"{source}-{line:06d}", line
        if web and entry.url is None and entry.malformed is None:
            entry.url = _url(rng)
    return entries


def _record_bytes(entry: _Entry, source: str) -> bytes:
    record: dict[str, Any] = {"id": entry.id, "text": entry.text, "domain": SOURCE_DOMAIN[source], "source": source}
    if entry.url is not None:
        record["url"] = entry.url
    if entry.malformed is None:
        return json.dumps(record, ensure_ascii=False).encode("utf-8")
    line = json.dumps(record, ensure_ascii=False).encode("utf-8")
    if entry.malformed == "not_json":  # a record cut off mid-string, as a truncated download leaves it
        return line[: len(line) // 2]
    if entry.malformed == "invalid_utf8":  # bytes 0xFE and 0xFF never occur in UTF-8 (RFC 3629, section 1)
        at = line.index(b'"text": "') + len(b'"text": "')  # inside the string: only the bytes are wrong
        return line[:at] + b"\xff\xfe" + line[at:]
    if entry.malformed == "missing_text":
        record["body"] = record.pop("text")
    else:  # non_string_text: what a careless export writes (a list of paragraphs, a number)
        record["text"] = entry.text.split("\n") if entry.line % 2 else len(entry.text)
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def _write_gzip(path: Path, lines: Sequence[bytes]) -> None:
    """Gzip with mtime=0 and no file name in the header, so the same seed gives byte-identical files."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        for line in lines:
            gz.write(line + b"\n")
    path.write_bytes(buf.getvalue())


def _dump_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def write_sample_corpus(cfg: SampleConfig, out_dir: Path) -> dict:
    """Writes ``<source>.jsonl.gz``, ``ground_truth.json`` and ``manifest.json`` into ``out_dir``; returns a summary."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = {s: cfg.docs_per_domain for s in DOMAIN_SOURCES} | {"general": cfg.general_docs, "web": cfg.web_docs}

    pool: list[_Entry] = []  # clean documents of the sources written so far (originals for web copies)
    per_source: dict[str, list[_Entry]] = {}
    for source in SOURCES:
        # One RNG stream per source (string seeds hash with SHA-512: stable across runs and platforms).
        rng = random.Random(f"dapt-sample/{cfg.seed}/{source}")
        entries = _build_source(source, sizes[source], cfg, pool, rng)
        per_source[source] = entries
        pool.extend(e for e in entries if e.outcome == "keep" and not e.defects)

    docs: dict[str, dict[str, Any]] = {}
    defects: list[dict[str, Any]] = []
    files: dict[str, dict[str, Any]] = {}
    for source, entries in per_source.items():
        lines = [_record_bytes(e, source) for e in entries]
        path = out_dir / f"{source}.jsonl.gz"
        _write_gzip(path, lines)
        data = path.read_bytes()
        files[path.name] = {"records": len(lines), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for e in entries:
            docs[e.id] = {"source": source, "line": e.line, "outcome": e.outcome,
                          "kinds": [d["kind"] for d in e.defects]}
            for d in e.defects:
                extra = {"duplicate_of": e.original.id} if e.original is not None else {}
                defects.append({"id": e.id, "source": source, "line": e.line, **d, **extra})

    boilerplate_lines = sorted({line for d in defects if d["kind"] == "boilerplate" for line in d["lines"]})
    summary = {
        "files": {s: f"{s}.jsonl.gz" for s in SOURCES},
        "docs": {s: len(per_source[s]) for s in SOURCES},
        "total_docs": len(docs),
        "defects": dict(sorted(Counter(d["kind"] for d in defects).items())),
        "malformed": dict(sorted(Counter(d["detail"] for d in defects if d["kind"] == "malformed").items())),
        "outcomes": {o: sum(1 for d in docs.values() if d["outcome"] == o) for o in OUTCOMES},
        "bytes": sum(f["bytes"] for f in files.values()),
    }
    _dump_json(out_dir / "ground_truth.json", {
        "seed": cfg.seed,
        "ngram": NGRAM,
        "jaccard": "word 5-gram sets over lowercased \\w+ words",
        "near_duplicate_threshold": cfg.near_duplicate_threshold,
        "docs": docs,
        "defects": defects,
        "boilerplate_lines": boilerplate_lines,
        "counts": summary["defects"],
        "outcomes": summary["outcomes"],
    })
    write_manifest(out_dir, {
        "stage": "sample",
        "config": cfg.model_dump(mode="json"),
        "inputs": {},
        "files": files,
        "summary": summary,
    })
    log.info("sample corpus: %d records in %d files, %.2f MB -> %s", len(docs), len(files),
             summary["bytes"] / 1e6, out_dir)
    return summary
