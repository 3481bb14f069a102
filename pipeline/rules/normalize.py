"""Text normalization: Unicode NFC, whitespace and control characters (pure functions, no Beam)."""

from __future__ import annotations

import re
import unicodedata

# Control characters (Unicode category Cc) other than tab and newline carry no text; format characters that
# are invisible and break word matching (zero-width space, BOM, soft hyphen, word joiner) go too. ZWJ/ZWNJ
# (U+200C/U+200D) stay: they are meaningful in Indic/Arabic scripts and emoji.
_DROP_CHARS = {c: None for c in range(0x20) if c not in (0x09, 0x0A)}
_DROP_CHARS.update({0x7F: None, **{c: None for c in range(0x80, 0xA0)}})
_DROP_CHARS.update({0x200B: None, 0xFEFF: None, 0x00AD: None, 0x2060: None})
# Unicode space separators (NBSP, en/em spaces, ideographic space …) become a plain space; line and paragraph
# separators become a newline.
_SPACES = {c: " " for c in (0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)}
_SPACES.update({0x2028: "\n", 0x2029: "\n", 0x0B: "\n", 0x0C: "\n"})

_RUNS_OF_BLANKS = re.compile(r"[ \t]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalize_unicode(text: str) -> str:
    """NFC composition (so 'é' has one code point), unified newlines, spaces and no control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(_SPACES).translate(_DROP_CHARS)
    return unicodedata.normalize("NFC", text)


def normalize_whitespace(text: str) -> str:
    """Collapses runs of blanks, strips every line, keeps at most one empty line between paragraphs."""
    lines = [_RUNS_OF_BLANKS.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def normalize_text(text: str) -> str:
    """The full normalization every document gets before the rules see it."""
    return normalize_whitespace(normalize_unicode(text))
