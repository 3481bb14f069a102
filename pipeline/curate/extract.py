"""HTML main-text extraction: the one function curate's readers and the quality model's loader both call.

Chosen per source (``html_extractor``): trafilatura (Barbaresi 2021; FineWeb's choice), resiliparse
(Bevendorff et al. 2018; DCLM's choice), about twelve times faster per CPU-second, or ``cascade``:
resiliparse, with trafilatura's second opinion on the pages where resiliparse finds almost nothing.
bench/bench_extract.py measures both on the raw_web sets with gold main text (bench/results/extract.json).

A page either gives text, or a stable reason it gives none: ``html/no_main_text`` (the extractor found no
main content) or ``html/unparseable`` (the parser raised on the markup). Callers count the reason and drop
or skip the page; a broken page never raises out of here.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Extractor = Literal["trafilatura", "resiliparse", "cascade"]
EXTRACTORS: tuple[str, ...] = ("trafilatura", "resiliparse", "cascade")
# bench/results/extract.json: trafilatura has the best word-F1 on three of the four gold sets (and on
# trafilatura's snippet set); resiliparse is ~12x faster and 3-6 points lower; the cascade is ~0.5x
# resiliparse's speed, 1-3 points below trafilatura. Domain text is scarce, so precision is the default.
DEFAULT_EXTRACTOR: Extractor = "trafilatura"
# The cascade asks trafilatura for a second opinion when resiliparse finds fewer words than this: such a
# page would fall to Gopher's 50-word minimum (Rae et al. 2021, App. A.1.1) anyway, and in the bench they
# are where resiliparse loses most (5.5 % of the gold pages).
CASCADE_MIN_WORDS = 50

NO_MAIN_TEXT = "html/no_main_text"
UNPARSEABLE = "html/unparseable"

# The settings both benches and stages use; bench/results/extract.json records them.
TRAFILATURA_SETTINGS = {"include_comments": False, "include_tables": True, "deduplicate": False}
RESILIPARSE_SETTINGS = {"main_content": True, "alt_texts": False, "list_bullets": False, "links": False,
                        "form_fields": False, "noscript": False, "comments": False}


@dataclasses.dataclass(frozen=True)
class Extraction:
    """The main text of a page, or None and the reason there is none."""

    text: str | None
    reason: str | None = None


def _trafilatura(html: str | bytes) -> str:
    import trafilatura  # heavy import: only where there is HTML to read

    return trafilatura.extract(html, **TRAFILATURA_SETTINGS) or ""


# resiliparse's main-content pass is quadratic in nesting depth (measured: 10,000 nested unclosed <div> take
# 2.3 CPU-s, 20,000 about a minute); lxml caps depth at 256, so trafilatura takes such a page instead.
MAX_UNCLOSED_DIVS = 1000


def _too_deep(html: str | bytes) -> bool:
    """A page with more unclosed <div> than MAX_UNCLOSED_DIVS (two substring counts, ~2 % of an extraction)."""
    opened, closed = ("<div", "</div") if isinstance(html, str) else (b"<div", b"</div")
    return html.count(opened) - html.count(closed) > MAX_UNCLOSED_DIVS


def _resiliparse(html: str | bytes) -> str:
    if _too_deep(html):
        return _trafilatura(html)
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import detect_encoding
    from resiliparse.parse.html import HTMLTree

    if isinstance(html, str):
        # lexbor parses bytes; "replace" keeps a page with a lone surrogate (seen in JSON-escaped crawls).
        tree = HTMLTree.parse_from_bytes(html.encode("utf-8", errors="replace"), "utf-8")
    else:
        tree = HTMLTree.parse_from_bytes(html, detect_encoding(html))
    return extract_plain_text(tree, **RESILIPARSE_SETTINGS)


def _cascade(html: str | bytes) -> str:
    """resiliparse, then trafilatura where resiliparse finds fewer than CASCADE_MIN_WORDS words."""
    text = _resiliparse(html)
    if len(text.split()) >= CASCADE_MIN_WORDS:
        return text
    return _trafilatura(html) or text


_EXTRACT = {"trafilatura": _trafilatura, "resiliparse": _resiliparse, "cascade": _cascade}


def _parser_errors() -> tuple[type[BaseException], ...]:
    """What the parsers raise on broken markup (trafilatura returns None for most bad pages)."""
    from lxml import etree

    return (ValueError, TypeError, RecursionError, UnicodeError, LookupError, etree.LxmlError)


def extract_main_text(html: str | bytes, extractor: str = DEFAULT_EXTRACTOR) -> Extraction:
    """Main text of an HTML page (boilerplate, menus and ads removed) with the named extractor."""
    try:
        run = _EXTRACT[extractor]
    except KeyError:
        raise ValueError(f"unknown html extractor {extractor!r}; use one of {', '.join(EXTRACTORS)}") from None
    if not (html.strip() if isinstance(html, (str, bytes)) else None):
        return Extraction(None, NO_MAIN_TEXT)
    try:
        text = run(html)
    except _parser_errors():
        return Extraction(None, UNPARSEABLE)
    return Extraction(text, None) if text.strip() else Extraction(None, NO_MAIN_TEXT)


def looks_like_html(text: str | bytes) -> bool:
    """A document that starts like an HTML page (a doctype or an <html> tag after optional space/BOM)."""
    head = text[:256].lstrip() if isinstance(text, str) else text[:256].decode("utf-8", "replace").lstrip()
    head = head.lstrip("\ufeff").lstrip().lower()
    return head.startswith(("<!doctype html", "<html"))
