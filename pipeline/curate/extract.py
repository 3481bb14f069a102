"""HTML main-text extraction: the one function curate's readers and the quality model's loader both call.

Two extractors, chosen per source (``html_extractor``): trafilatura (Barbaresi 2021; FineWeb's choice) and
resiliparse (Bevendorff et al. 2018; DCLM's choice), about ten times faster per CPU-second.
bench/bench_extract.py measures both on the raw_web sets with gold main text (bench/results/extract.json).

A page either gives text, or a stable reason it gives none: ``html/no_main_text`` (the extractor found no
main content) or ``html/unparseable`` (the parser raised on the markup). Callers count the reason and drop
or skip the page; a broken page never raises out of here.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Extractor = Literal["trafilatura", "resiliparse"]
EXTRACTORS: tuple[str, ...] = ("trafilatura", "resiliparse")
# Chosen by bench/results/extract.json (see DEFAULT's note in the README section of issue 15's note).
DEFAULT_EXTRACTOR: Extractor = "trafilatura"

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


def _resiliparse(html: str | bytes) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import detect_encoding
    from resiliparse.parse.html import HTMLTree

    if isinstance(html, str):
        # lexbor parses bytes; "replace" keeps a page with a lone surrogate (seen in JSON-escaped crawls).
        tree = HTMLTree.parse_from_bytes(html.encode("utf-8", errors="replace"), "utf-8")
    else:
        tree = HTMLTree.parse_from_bytes(html, detect_encoding(html))
    return extract_plain_text(tree, **RESILIPARSE_SETTINGS)


_EXTRACT = {"trafilatura": _trafilatura, "resiliparse": _resiliparse}


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
