"""The curate stage's typed config: sources to read and the rule settings (per domain, per source).

Rule settings resolve in four layers: the published defaults in the models below < the per-domain defaults
in ``DOMAIN_RULES`` < the keys the user set under ``curate.rules`` < a source's own ``rules``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel, ConfigDict, Field, SerializationInfo, ValidationError, field_validator, model_serializer,
    model_validator,
)

from dapt.pipeline.curate.extract import DEFAULT_EXTRACTOR, Extractor

Domain = Literal["legal", "medical", "financial", "general"]
PiiKind = Literal["email", "phone", "ip", "card", "ssn"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NormalizeRules(_Strict):
    """Text clean-up before the rules: NFC, whitespace and control characters always; these two optional."""

    dehyphenate: bool = True
    # Join paragraphs hard-wrapped at a fixed width before the line rules judge lines (rules/normalize.py).
    unwrap_lines: bool = True
    boilerplate_lines: bool = True


class LanguageRules(_Strict):
    """Languages to keep (ISO 639-1; empty = keep all) and the minimum py3langid probability."""

    enabled: bool = True
    languages: list[str] = Field(default_factory=lambda: ["en"])
    # FineWeb keeps English pages with a language score >= 0.65 (Penedo et al. 2024, §3.3).
    threshold: float = Field(0.65, ge=0.0, le=1.0)
    # Identify the language on the lower-cased words of letters only (rules/language.py letters_of), not on
    # figures, tickers and capitals; FineWeb identifies the raw text, so the web default is off.
    letters_only: bool = False


class TableRules(_Strict):
    """Numeric tables (rules/tables.py): a document whose lines are mostly short rows with figures is judged
    as a table, not as prose: a low language score keeps it (only a confident other language drops it) and
    Gopher's stop-word check is skipped. Off by default (the published web rules know no tables)."""

    enabled: bool = False
    min_row_fraction: float = Field(0.5, ge=0.0, le=1.0)
    min_lines: int = Field(3, ge=1)


class GopherQualityRules(_Strict):
    """Gopher quality filter (Rae et al. 2021, App. A.1.1); None switches one check off."""

    enabled: bool = True
    min_words: int = Field(50, ge=0)
    max_words: int = Field(100_000, ge=1)
    min_mean_word_length: float | None = 3.0
    max_mean_word_length: float | None = 10.0
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    min_alpha_words_ratio: float | None = 0.8
    min_stop_words: int | None = 2
    # A tuple: the rule's compiled pattern is cached on it, so no document copies the list.
    extra_stop_words: tuple[str, ...] = Field(
        (), description="words counted as stop words beside Gopher's eight (the, be, to, of, and, that, have, with)")

    @model_validator(mode="after")
    def _check_bounds(self) -> GopherQualityRules:
        if self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) > max_words ({self.max_words}); lower min_words")
        return self


class GopherRepetitionRules(_Strict):
    """Gopher repetition filter thresholds (Rae et al. 2021, Table A1)."""

    enabled: bool = True
    max_dup_line_frac: float | None = 0.30
    max_dup_para_frac: float | None = 0.30
    max_dup_line_char_frac: float | None = 0.20
    max_dup_para_char_frac: float | None = 0.20
    max_top_ngram_char_frac: dict[int, float] = Field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    max_dup_ngram_char_frac: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )


class C4Rules(_Strict):
    """C4 line and page rules (Raffel et al. 2020, §2.2; TFDS c4_utils)."""

    enabled: bool = True
    # Line rules (they remove lines; `clean_lines: false` keeps every line and applies only the page rules).
    clean_lines: bool = True
    terminal_punct: bool = True
    min_words_per_line: int = Field(3, ge=0)
    max_word_length: int = Field(1000, ge=0)
    remove_javascript: bool = True
    remove_policy: bool = True
    remove_citations: bool = True
    # Page rules.
    min_sentences: int = Field(5, ge=0)
    lorem_ipsum: bool = True
    curly_bracket: bool = True


class FineWebRules(_Strict):
    """FineWeb's extra rules (Penedo et al. 2024, §3.3)."""

    enabled: bool = True
    min_line_punct_ratio: float | None = 0.12
    max_short_line_ratio: float | None = 0.67
    short_line_length: int = Field(30, ge=1)
    # The paper: "fraction of characters in duplicated lines >= 0.1" (datatrove's default is 0.01).
    max_dup_line_char_ratio: float | None = 0.1
    max_newline_word_ratio: float | None = 0.3


class PiiRules(_Strict):
    """PII redaction of kept documents: typed placeholders, counts per type."""

    enabled: bool = True
    kinds: list[PiiKind] = Field(default_factory=lambda: ["email", "phone", "ip", "card", "ssn"])


class RuleConfig(_Strict):
    """Every rule's settings; defaults are the published ones (tuned on web text)."""

    # Documents longer than this are dropped (`size/too_long`) before any rule looks at them, which bounds
    # the work and memory per document; 2M characters is far above Gopher's 100,000-word cap.
    max_chars: int = Field(2_000_000, ge=1)
    normalize: NormalizeRules = Field(default_factory=NormalizeRules)
    language: LanguageRules = Field(default_factory=LanguageRules)
    tables: TableRules = Field(default_factory=TableRules)
    gopher_quality: GopherQualityRules = Field(default_factory=GopherQualityRules)
    gopher_repetition: GopherRepetitionRules = Field(default_factory=GopherRepetitionRules)
    c4: C4Rules = Field(default_factory=C4Rules)
    fineweb: FineWebRules = Field(default_factory=FineWebRules)
    pii: PiiRules = Field(default_factory=PiiRules)


class RuleOverrides(RuleConfig):
    """Rule settings a user wrote (``curate.rules``, a source's ``rules``), checked like RuleConfig; only
    the keys set apply. Dumped, compared and fingerprinted as those keys, so stating a published default
    (which may undo a domain default) counts, and a resolved config read back sets nothing more."""

    @model_serializer(mode="wrap")
    def _only_set_keys(self, handler: Any, info: SerializationInfo) -> dict[str, Any]:
        # RuleConfig's own serializer: every value, whatever the caller excludes, then only the set ones
        return _set_keys(self, RuleConfig.__pydantic_serializer__.to_python(self, mode=info.mode))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleOverrides) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]


def _set_keys(model: BaseModel, dumped: dict[str, Any]) -> dict[str, Any]:
    """The part of ``dumped`` (a dump of ``model``) that was set, nested models included."""
    out = {}
    for key in model.model_fields_set:
        value = getattr(model, key)
        out[key] = _set_keys(value, dumped[key]) if isinstance(value, BaseModel) else dumped[key]
    return {k: out[k] for k in dumped if k in out}


# Per-domain departures from the web defaults. Each one is there because real domain text in
# ../shared/corpus failed the web rule while being exactly the text the domain model must see
# (bench/results/survival.json has the per-source survival and drop reasons, before and after;
# tests/pipeline/test_rules_domains.py the cases).
# Domain text repeats itself for good reasons (statutes restate defined terms and enumerate "(a)", "(b)" on
# their own lines; amendment acts repeat "is amended by striking ... and inserting ..."; reports repeat table
# labels). Measured on ../shared/corpus: the dup 5-gram character fraction of such documents is 0.15-0.50.
# Duplicated lines and paragraphs: the NCI PDQ pages of MedQuAD hold several questions whose answers share
# whole sections ("This summary section describes treatments that are being studied in clinical trials ...",
# the risk-factor sections of the prevention pages), repeated lines of 65 to 5,971 characters that make up
# 10-47 % of the page; a page that is mostly repeats (link farms: ~0.8) still fails at 0.5.
_DOMAIN_REPETITION = {
    "max_dup_line_frac": None,
    "max_dup_para_frac": None,
    "max_dup_line_char_frac": 0.5,
    "max_dup_para_char_frac": 0.5,
    "max_top_ngram_char_frac": {2: 0.30, 3: 0.28, 4: 0.26},
    "max_dup_ngram_char_frac": {5: 0.40, 6: 0.39, 7: 0.38, 8: 0.37, 9: 0.36, 10: 0.35},
}
# Line-oriented domain text (numbered clauses ending in ";" or ":", prescriptions, table rows): C4's line
# rules would delete most of it and FineWeb's line rules call it list-like, so they are off; C4's page rules
# (lorem ipsum, curly bracket) and one sentence at least stay. FineWeb's duplicated-line characters get the
# same 0.5 as Gopher's above (FineWeb's 0.1 dropped 15 MedQuAD pages for the shared sections).
_DOMAIN_LINES = {
    "c4": {"clean_lines": False, "min_sentences": 1},
    "fineweb": {"min_line_punct_ratio": None, "max_short_line_ratio": None, "max_newline_word_ratio": None,
                "max_dup_line_char_ratio": 0.5},
}
# Language ID on the letter words (no figures, tickers or capitals), and numeric tables judged as tables:
# Reuters earnings wires ("Shr 27 cts vs 29 cts / Net 13,555,000 vs 14,635,000") were 627 language drops.
_DOMAIN_TEXT = {
    "language": {"letters_only": True},
    "tables": {"enabled": True},
}
# English function words (articles, prepositions, pronouns, auxiliaries, "vs") beside Gopher's eight.
_WIRE_FUNCTION_WORDS = ("a", "an", "are", "as", "at", "by", "for", "from", "in", "is", "it", "its", "not",
                        "on", "vs", "was", "were")
DOMAIN_RULES: dict[str, dict[str, Any]] = {
    "general": {},
    "legal": {
        **_DOMAIN_LINES,
        **_DOMAIN_TEXT,
        "gopher_repetition": _DOMAIN_REPETITION,
        # Citations, section numbers and years ("D.C. Code § 2-1401.02 (2001)") are words without letters.
        # A contract clause or a short statute section is one sentence of 10-50 words (LegalBench's CUAD
        # clauses: 39 % of the source are under Gopher's 50); below 10 are table-of-contents leaders. Gopher's
        # two stop words assume 50 words at least: a one-sentence clause may hold one ("... of any ...").
        "gopher_quality": {"min_alpha_words_ratio": 0.6, "max_bullet_lines_ratio": None, "min_words": 10,
                           "min_stop_words": 1},
    },
    "medical": {
        **_DOMAIN_LINES,
        **_DOMAIN_TEXT,
        "gopher_repetition": _DOMAIN_REPETITION,
        # Prescription shorthand ("Sig: 1 tab po qid pc & hs") is short words, numbers and symbols.
        "gopher_quality": {"min_mean_word_length": 2.0, "min_alpha_words_ratio": 0.6, "min_stop_words": 1,
                           "max_bullet_lines_ratio": None},
    },
    "financial": {
        **_DOMAIN_LINES,
        **_DOMAIN_TEXT,
        "gopher_repetition": _DOMAIN_REPETITION,
        # Tables rendered as "Revenue | 1,234 | 1,456" (each "|" and "$" a word without letters: TAT-QA's are
        # 0.37-0.49) and rate sheets ("us/uk 1.6180 - 1.6190": 0.36) are mostly words without letters. Wire
        # items ("Qtly div 25 cts vs 25 cts / Pay April 24 / Record March 31") are 10-50 words (2,492 Reuters
        # items) and, short, hold one of Gopher's stop words or none: wire English drops "the" and "of" ("Qtly
        # div five cts vs five cts prior", "said it purchased X Inc, a software company in Dallas"), so its own
        # function words count too. One was needed, and missing, in 171 clean Reuters wires; 165 hold one of
        # these (the rest are calendars and freight fixtures); a navigation menu holds none.
        "gopher_quality": {"min_alpha_words_ratio": 0.35, "max_bullet_lines_ratio": None, "min_words": 10,
                           "min_stop_words": 1, "extra_stop_words": _WIRE_FUNCTION_WORDS},
    },
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``, merging nested dicts key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class SourceConfig(_Strict):
    """One input: a name (the output folder), its domain, where to read it and its own rule overrides."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$")
    domain: Domain = "general"
    # Globs (absolute, or relative to the cwd); for format "hf", save_to_disk folders.
    paths: list[str] = Field(default_factory=list)
    # "auto" picks the reader from the file name (.jsonl/.json/.ndjson[.gz|.zst], .parquet, .txt[.gz],
    # .html/.htm[.gz], .warc[.gz], .wet[.gz], a save_to_disk folder).
    format: Literal["auto", "jsonl", "parquet", "text", "html", "warc", "hf"] = "auto"
    text_field: str = "text"
    id_field: str = "id"
    # The text holds HTML (raw crawl dumps in JSONL, Parquet or text files): extract its main text. A record
    # or text file that starts like a page (`<!doctype html`, `<html`) is extracted whatever this says.
    html: bool = False
    # Main-text extractor of HTML pages (html files, WARC responses, `html: true`): trafilatura, resiliparse
    # (~12x faster per CPU-second, less precise) or cascade (resiliparse, trafilatura where it finds < 50
    # words); bench/results/extract.json compares them on the raw_web gold sets.
    html_extractor: Extractor = DEFAULT_EXTRACTOR
    # A file with more than this fraction of its records dead-lettered fails the stage (a binary file named
    # .jsonl, the wrong text_field); 1.0 accepts any file, with a warning line in the summary.
    max_malformed_fraction: float = Field(0.9, ge=0.0, le=1.0)
    # Plain text: one document per file, per paragraph (blank-line separated) or per line.
    text_unit: Literal["file", "paragraph", "line"] = "file"
    # A Hugging Face hub dataset name, read with datasets.load_dataset(..., streaming=True) where a network
    # is available; `hf_split` picks the split (also for a save_to_disk DatasetDict).
    hf_dataset: str | None = None
    hf_config: str | None = None
    hf_split: str = "train"
    # Overrides of RuleConfig for this source only, nested like it.
    rules: RuleOverrides = Field(default_factory=RuleOverrides)

    @field_validator("paths", mode="before")
    @classmethod
    def _one_path_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class CurateConfig(_Strict):
    """Curate settings. Every field has a default so an empty `curate:` section is valid."""

    sources: list[SourceConfig] = Field(default_factory=list)
    # Rule settings for every source; only the keys given here are applied, on top of the per-domain defaults.
    rules: RuleOverrides = Field(default_factory=RuleOverrides)
    dedup: bool = True
    write_rejected: bool = True
    # Dead letters keep at most this many raw bytes of the bad record (base64); the full size is noted.
    dead_letter_max_bytes: int = Field(1_000_000, ge=0)
    # A file larger than this is read as ranges of about this size by several workers: an uncompressed JSONL
    # file as byte ranges (each reads the lines that start inside it), a WARC file as ranges of whole
    # records; other compressed files cannot be entered midway.
    split_bytes: int = Field(64 * 2**20, ge=1024)
    # Local DirectRunner: "multi_processing" uses `direct_num_workers` processes (0 = every core);
    # tests use "in_memory". Ignored when beam_args name another --runner.
    direct_running_mode: Literal["in_memory", "multi_threading", "multi_processing"] = "multi_processing"
    direct_num_workers: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _check_sources(self) -> CurateConfig:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; rename {dupes} in curate.sources")
        for source in self.sources:
            try:
                self.rules_for(source)
            except ValidationError as err:  # each part is valid alone but not with the others
                first = err.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"curate.sources[{source.name}].rules{'.' + where if where else ''} once "
                                 f"merged with curate.rules: {first['msg']}") from None
        return self

    def rules_for(self, source: SourceConfig) -> RuleConfig:
        """Resolved rules of a source: published < domain defaults < `curate.rules` < the source's `rules`."""
        merged = deep_merge(deep_merge(DOMAIN_RULES[source.domain], self.rules.model_dump()), source.rules.model_dump())
        return RuleConfig(**merged)
