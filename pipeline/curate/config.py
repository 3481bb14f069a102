"""The curate stage's typed config: sources to read and the rule settings (per domain, per source)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Domain = Literal["legal", "medical", "financial", "general"]


class RuleConfig(BaseModel):
    """Thresholds of every rule; defaults are the published ones (web text)."""

    model_config = ConfigDict(extra="forbid")

    # Gopher (Rae et al. 2021, App. A.1): 50 <= words <= 100,000.
    min_words: int = Field(50, ge=0)
    max_words: int = Field(100_000, ge=1)
    # Languages to keep (ISO 639-1; empty = keep all) and the minimum py3langid probability.
    # 0.65 is FineWeb's English threshold (Penedo et al. 2024).
    languages: list[str] = Field(default_factory=lambda: ["en"])
    language_threshold: float = Field(0.65, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _check_bounds(self) -> RuleConfig:
        if self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) > max_words ({self.max_words}); lower min_words")
        return self


# Per-domain departures from the web defaults (merged under a source's own `rules`).
DOMAIN_RULES: dict[str, dict[str, Any]] = {"general": {}, "legal": {}, "medical": {}, "financial": {}}


class SourceConfig(BaseModel):
    """One input: a name (the output folder), its domain, file globs and where the text and id are."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$")
    domain: Domain = "general"
    paths: list[str] = Field(default_factory=list)
    format: Literal["auto", "jsonl"] = "auto"
    text_field: str = "text"
    id_field: str = "id"
    # Overrides of RuleConfig fields for this source only (unknown keys are refused at load time).
    rules: dict[str, Any] = Field(default_factory=dict)

    @field_validator("paths", mode="before")
    @classmethod
    def _one_path_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class CurateConfig(BaseModel):
    """Curate settings. Every field has a default so an empty `curate:` section is valid."""

    model_config = ConfigDict(extra="forbid")

    sources: list[SourceConfig] = Field(default_factory=list)
    # Rule defaults for every source; domain defaults and then a source's `rules` override them.
    rules: RuleConfig = Field(default_factory=RuleConfig)
    dedup: bool = True
    write_rejected: bool = True
    # Dead letters keep at most this many raw bytes of the bad record (base64); the full size is noted.
    dead_letter_max_bytes: int = Field(1_000_000, ge=0)
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
            except ValueError as err:
                raise ValueError(f"curate.sources[{source.name}].rules: {err}") from None
        return self

    def rules_for(self, source: SourceConfig) -> RuleConfig:
        """Resolved rules of a source: published defaults < its domain's defaults < `curate.rules` keys the
        user set < the source's own `rules`."""
        merged = {**DOMAIN_RULES[source.domain], **self.rules.model_dump(exclude_unset=True), **source.rules}
        return RuleConfig(**merged)
