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

# Only runs that change: two or more blanks, or a tab (a single space is left alone, which is much faster).
_RUNS_OF_BLANKS = re.compile(r"[ \t]{2,}|\t")
_BLANKS_AT_LINE_ENDS = re.compile(r" \n ?|\n ")
_MANY_NEWLINES = re.compile(r"\n{3,}")


# Any character the two tables change: most documents hold none, and one regex scan is much cheaper than
# str.translate with a dict (a lookup per character).
_TRANSLATED = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted({*_SPACES, *_DROP_CHARS})) + "]")


def normalize_unicode(text: str) -> str:
    """NFC composition (so 'é' has one code point), unified newlines, spaces and no control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _TRANSLATED.search(text):
        text = text.translate(_SPACES).translate(_DROP_CHARS)
    return unicodedata.normalize("NFC", text)


def normalize_whitespace(text: str) -> str:
    """Collapses runs of blanks, strips every line, keeps at most one empty line between paragraphs."""
    # Whole-text substitutions (not a loop over lines): after collapsing, a line end has at most one blank
    # on each side.
    text = _BLANKS_AT_LINE_ENDS.sub("\n", _RUNS_OF_BLANKS.sub(" ", text))
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def normalize_text(text: str) -> str:
    """The full normalization every document gets before the rules see it."""
    return normalize_whitespace(normalize_unicode(text))


# A word broken across lines by a hyphen: lower-case letters, "-", newline, lower-case letters.
_HYPHEN_BREAK = re.compile(r"([^\W\d_]+)-\n([^\W\d_A-Z]+)(?=[^\w-]|$)", re.UNICODE)
_WORDS = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def dehyphenate(text: str) -> str:
    """Rejoins words broken by a hyphen at a line end, only where the document itself shows the answer.

    "inter-\\nnational" becomes "international" if "international" occurs elsewhere in the text, and
    "well-\\nknown" becomes "well-known" if that spelling occurs elsewhere. Without evidence the hyphen is kept
    and only the line break goes ("knowl-edge"): never a word glued that should not be, never text lost.
    """
    if "-\n" not in text:
        return text
    vocabulary = {w.lower() for w in _WORDS.findall(_HYPHEN_BREAK.sub(" ", text))}

    def join(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        if (left + right).lower() in vocabulary:
            return left + right
        return f"{left}-{right}"

    return _HYPHEN_BREAK.sub(join, text)


# A list item or a table row: such lines are not wrapped prose, whatever their length.
_STRUCTURED_LINE = re.compile(r"^(?:[-*•·]|\d{1,3}[.)]|\([a-z0-9]{1,4}\))\s|[|\t]")
_LINE_END = (".", "!", "?", '"', "'", "”", "’", ":", ";", ")")


def _is_hard_wrapped(lines: list[str]) -> bool:
    body = lines[:-1]  # the last line of a wrapped paragraph is as short as its text ends
    if len(lines) < 3 or any(_STRUCTURED_LINE.search(line) for line in lines):
        return False
    longest = max(len(line) for line in body)
    if not 60 <= longest <= 100:
        return False
    full = sum(len(line) >= 0.75 * longest for line in body)
    mid_sentence = sum(not line.endswith(_LINE_END) for line in body)
    return full >= 0.8 * len(body) and mid_sentence >= 0.5 * len(body)


# Where one sentence ends and the next begins inside a joined paragraph.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])([\"”’)]?) +(?=[\"“‘(]?[A-Z])")


def unwrap_lines(text: str) -> tuple[str, int]:
    """Re-flows each paragraph hard-wrapped at a fixed width (Project Gutenberg's ~70 columns, wire copy,
    e-mail, plain-text filings) to one sentence per line; returns (text, paragraphs re-flowed).

    C4's line rules judge every line as a sentence: on wrapped books they deleted 75–84 % of the words (a
    line that ends mid-sentence has no terminal punctuation). One sentence per line, not one line per
    paragraph, keeps the line statistics Gopher's rules use (lines ending in an ellipsis, duplicate lines)
    meaning what they mean on the web. A paragraph counts as wrapped when it has at least three lines, its
    lines (all but the last) are of one width of 60–100 characters, and most of them end mid-sentence;
    lists, tables, verse and one-sentence-per-line text are left as they are.
    """
    if "\n" not in text:
        return text, 0
    paragraphs = text.split("\n\n")
    joined = 0
    for i, paragraph in enumerate(paragraphs):
        lines = paragraph.split("\n")
        if _is_hard_wrapped(lines):
            paragraphs[i] = _SENTENCE_BREAK.sub(r"\1\n", " ".join(lines))
            joined += 1
    return ("\n\n".join(paragraphs), joined) if joined else (text, 0)


# Lines that are site furniture rather than content (matched on the whole line, case-insensitive). Sources:
# the C4 policy phrases (TFDS c4_utils) and common consent / navigation / copyright lines.
BOILERPLATE_LINES = [
    r"(?:this (?:web)?site|we) uses? cookies\b.*",
    r"(?:by (?:continuing|using) (?:to (?:use|browse) )?this (?:web)?site).*",
    r"(?:accept|allow|reject|manage) (?:all )?cookies.*",
    r"(?:©|\(c\)|copyright)\s*(?:\d{4}[-–]?)?\d{0,4}.{0,80}all rights reserved\.?",
    r"all rights reserved\.?",
    r"(?:skip to (?:main )?content|back to top|scroll to top|toggle navigation|main menu|jump to navigation)",
    r"(?:home|about(?: us)?|contact(?: us)?|login|log in|sign in|sign up|register|search|menu|subscribe)"
    r"(?:\s*[|/·•>»]\s*(?:home|about(?: us)?|contact(?: us)?|login|log in|sign in|sign up|register|search"
    r"|menu|subscribe|blog|news|faq|help|privacy(?: policy)?|terms(?: of (?:use|service))?))+",
    r"(?:share (?:this|on)|follow us on|like us on)\s*(?:facebook|twitter|x|linkedin|instagram|email)?.{0,40}",
    r"(?:click here|read more|continue reading|load more)(?: \W*)?",
    r"(?:privacy policy|terms of (?:use|service)|cookie policy)(?:\s*[|·•]\s*\w[\w ]{0,30})*",
]
_BOILERPLATE = re.compile(r"^(?:" + "|".join(BOILERPLATE_LINES) + r")$", re.IGNORECASE)


def remove_boilerplate_lines(text: str) -> tuple[str, int]:
    """Drops whole lines that are cookie banners, copyright footers or navigation; returns (text, lines removed)."""
    kept, removed = [], 0
    for line in text.split("\n"):
        if line and len(line) < 300 and _BOILERPLATE.match(line.strip()):
            removed += 1
        else:
            kept.append(line)
    return "\n".join(kept), removed
