"""The sample corpus's text: documents written from the project's templates, and the word edits and
n-gram Jaccard with which near-duplicates are made and recorded (pipeline/sample/corpus.py lays them out)."""

from __future__ import annotations

import random
import re
from typing import Any

from dapt.pipeline.sample.financial import FINANCIAL
from dapt.pipeline.sample.legal import LEGAL
from dapt.pipeline.sample.medical import MEDICAL
from dapt.pipeline.sample.terms import Genre
from dapt.pipeline.sample.web import EDIT_WORDS, FOREIGN, GENERAL, JUNK_TOKENS, SHORT_WEB_PAGES, WEB

# The templates each source's documents are written from (the other modules of pipeline/sample/ hold them).
GENRES: dict[str, list[Genre]] = {"legal": LEGAL, "medical": MEDICAL, "financial": FINANCIAL, "general": GENERAL,
                                  "web": WEB}

NGRAM = 5  # word 5-gram shingles, as in Lee et al. 2022 (NearDup); the Jaccard recorded in the ground truth


def fill(template: str, slots: dict[str, Any], rng: random.Random) -> str:
    """Picks each [a|b] alternative, then fills each {slot} independently from its list (or function)."""

    def one(match: re.Match[str]) -> str:
        value = slots[match.group(1)]
        return value(rng) if callable(value) else rng.choice(value)

    # "[a|b|c]" picks one phrasing, so documents sharing a template do not share all of its word n-grams.
    text = re.sub(r"\[([^\[\]]*)\]", lambda m: rng.choice(m.group(1).split("|")), template)
    text = re.sub(r"\{(\w+)\}", one, text)
    return text[0].upper() + text[1:]


def prose(genre: Genre, rng: random.Random, n_sentences: tuple[int, int], per_paragraph: tuple[int, int]) -> str:
    """Paragraphs (one a line) of distinct templates of one genre, so no template repeats inside a document."""
    pool = list(genre.templates)
    rng.shuffle(pool)
    n = min(rng.randint(*n_sentences), len(pool))
    sentences = [fill(t, genre.slots, rng) for t in pool[:n]]
    paragraphs, i = [], 0
    while i < len(sentences):
        k = rng.randint(*per_paragraph)
        if len(sentences) - (i + k) == 1:  # never leave a one-sentence paragraph at the end
            k += 1
        paragraphs.append(" ".join(sentences[i : i + k]))
        i += k
    return "\n".join(paragraphs)


def clean_doc(source: str, rng: random.Random) -> str:
    genre = rng.choice(GENRES[source])
    return prose(genre, rng, (8, 14), (2, 5))


def short_doc(source: str, rng: random.Random) -> str:
    """A page of one or two sentences (fewer than 50 words: Gopher's minimum, Rae et al. 2021 App. A)."""
    if source == "web" and rng.random() < 0.5:
        return rng.choice(SHORT_WEB_PAGES)
    genre = rng.choice(GENRES[source])
    return prose(genre, rng, (1, 2), (2, 2))


def non_english_doc(lang: str, rng: random.Random) -> str:
    return prose(FOREIGN[lang], rng, (7, 11), (2, 4))


def junk_doc(rng: random.Random) -> tuple[str, str]:
    """Number tables (cells without letters) or symbol soup (heavy in "#" and "..."); no sentence punctuation."""
    style = rng.choice(("numbers", "symbols"))
    lines = []
    for _ in range(rng.randint(10, 16)):
        if style == "numbers":
            cells = [rng.choice((f"{rng.randint(0, 99999)}", f"{rng.uniform(0, 999):.3f}", f"{rng.randint(1, 99)}%",
                                 f"0x{rng.randint(0, 65535):04X}", f"{rng.randint(1, 28)}/{rng.randint(1, 12)}"))
                     for _ in range(rng.randint(5, 9))]
            lines.append(" | ".join(cells))
        else:
            lines.append(" ".join(rng.choice(JUNK_TOKENS) for _ in range(rng.randint(8, 14))))
    return style, "\n".join(lines)


WORD_CORE = re.compile(r"^([^\w]*)([\w'’-]+)([^\w]*)$")


def edit_words(text: str, rate: float, rng: random.Random) -> str:
    """Replaces round(rate * words) distinct words with different words, keeping punctuation and case."""
    lines = [line.split(" ") for line in text.split("\n")]
    positions = [(i, j) for i, words in enumerate(lines) for j, w in enumerate(words) if WORD_CORE.match(w)]
    k = max(1, round(rate * sum(len(w) for w in lines)))
    for i, j in rng.sample(positions, min(k, len(positions))):
        pre, core, post = WORD_CORE.match(lines[i][j]).groups()
        new = rng.choice(EDIT_WORDS)
        while new.lower() == core.lower():
            new = rng.choice(EDIT_WORDS)
        if core[0].isupper():
            new = new.capitalize()
        lines[i][j] = pre + new + post
    return "\n".join(" ".join(words) for words in lines)


def word_ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(0, len(words) - n + 1))}


def jaccard(a: str, b: str, n: int = NGRAM) -> float:
    """Word n-gram Jaccard |A∩B| / |A∪B| over lowercased \\w+ words (the quantity MinHash estimates)."""
    sa, sb = word_ngrams(a, n), word_ngrams(b, n)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)
