"""`SelectConfig`: the typed settings of the select stage (every field defaulted; an empty section works)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class NearDedupConfig(BaseModel):
    """MinHash-LSH near-duplicate removal: FineWeb's 5-grams, 22 bands x 5 rows (110 hashes), exact check.

    FineWeb's 14 x 8 finds a pair at Jaccard 0.6 with probability 0.30; 22 x 5 with 0.83 (0.5: 0.06 vs 0.50),
    and the candidates it adds below 0.5 are dropped by the exact Jaccard check against the survivor
    (bench/results/dedup.json: recall per edit rate and the trade-off of both bandings).
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    ngram: int = Field(5, ge=1, description="words per shingle (FineWeb: 5)")
    bands: int = Field(22, ge=1, description="LSH bands (FineWeb: 14)")
    rows: int = Field(5, ge=1, description="hashes per band (FineWeb: 8)")
    seed: int = Field(1, description="seed of the hash coefficients; fixed so runs are reproducible")
    verify_min_jaccard: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="a cluster member is removed only if the exact Jaccard of its word n-gram set to the kept "
        "document's is at least this (0 = remove every member, as datatrove); chance LSH collisions and long "
        "chains of edits stay",
    )
    template_domains: list[str] = Field(
        default_factory=lambda: ["legal", "medical", "financial"],
        description="domains whose signatures leave out the shingles held by more than template_max_docs "
        "documents of the source (a page template), so pages sharing a template are compared on their content; "
        "general sources get line dedup of the text itself before near-dedup",
    )
    template_max_docs: int = Field(
        50, ge=1, description="a shingle in more than this many documents of a source is template, not content"
    )
    template_min_fraction: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="a page with less than this fraction of its shingles left once the template is out keeps "
        "them all (a stub, or one of many copies), so its copies are still found",
    )
    # Kiveris et al. 2014's large-star/small-star; 20 rounds joined a simulated 100,000-node chain in path
    # order (17 needed), far longer than near-duplicate clusters get.
    component_rounds: int = Field(
        20,
        ge=1,
        description="rounds of the distributed connected-components job over candidate edges; a run whose "
        "clusters need more fails saying so",
    )


class LineDedupConfig(BaseModel):
    """Line-level boilerplate removal (CCNet / Dolma): lines found in more than K documents of a source."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    max_docs: int = Field(
        10, ge=1, description="K: a normalised line in more than K documents of one source is removed from all"
    )
    domains: list[str] = Field(
        default_factory=lambda: ["general"],
        description="domains whose sources get line dedup (web boilerplate); curated domain text keeps its "
        "recurring legal/medical formulae",
    )
    min_words_after: int = Field(
        5, ge=0, description="a document left with fewer words after line removal is dropped (boilerplate_only)"
    )


class BenchmarkFile(BaseModel):
    """One evaluation benchmark: JSONL(.gz) (fields, or every string value) or text with one example a line."""

    model_config = ConfigDict(extra="forbid")

    name: str
    path: str
    fields: list[str] = Field(default_factory=list)


class DecontamConfig(BaseModel):
    """Benchmark decontamination: documents sharing an n-gram (GPT-3: 13 words) with an eval example."""

    model_config = ConfigDict(extra="forbid")

    benchmarks: list[BenchmarkFile] = Field(default_factory=list)
    ngram: int = Field(13, ge=1, description="words per n-gram (GPT-3: 13)")
    mode: Literal["drop", "flag"] = Field("drop", description="drop the document, or keep it with a signal")


class RoutingConfig(BaseModel):
    """Domain routing (BloombergGPT's finance-relevant web): general pages scored as domain text move group."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    min_probability: float = Field(
        0.8, gt=0.0, le=1.0, description="domain classifier probability needed to move a general page"
    )
    keep_token_fraction: float | None = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="fraction of a source's routed pages kept by quality selection (1.0: all, as BloombergGPT kept "
        "its finance-relevant web in FinPile); null applies the source's own keep_token_fraction",
    )


class SelectionConfig(BaseModel):
    """Quality selection: keep the best-scoring fraction of each source's tokens."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["quantiles", "pareto"] = Field(
        "quantiles",
        description="quantiles: global per-source threshold from Beam's ApproximateQuantiles (token-weighted); "
        "pareto: GPT-3's stochastic rule, keep if pareto(alpha) > 1 - score (Brown et al. 2020, App. A)",
    )
    default_keep_token_fraction: float = Field(
        1.0, gt=0.0, le=1.0, description="fraction of tokens kept for sources not named in keep_token_fraction"
    )
    keep_token_fraction: dict[str, float] = Field(
        default_factory=dict,
        description="per source name: fraction of its whitespace words to keep (raw web ~0.01-0.03, curated 1.0)",
    )
    num_quantiles: int = Field(
        1001, ge=3, description="quantiles computed per source; 1001 gives a threshold resolution of 0.1 %"
    )
    pareto_alpha: float = Field(9.0, gt=0.0, description="GPT-3 used alpha = 9")
    seed: int = Field(0, description="seed of the per-document draws of the pareto method")

    @field_validator("keep_token_fraction")
    @classmethod
    def _fractions_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        for source, frac in value.items():
            if not 0.0 < frac <= 1.0:
                raise ValueError(
                    f"keep_token_fraction[{source!r}] = {frac}; set a fraction in (0, 1] (1.0 keeps everything)"
                )
        return value

    def fraction_for(self, source: str) -> float:
        return self.keep_token_fraction.get(source, self.default_keep_token_fraction)


class QualityModelConfig(BaseModel):
    """The quality classifier: hashed word n-grams + logistic regression (the GPT-3 / CCNet-style linear filter)."""

    model_config = ConfigDict(extra="forbid")

    positive: list[str] = Field(
        default_factory=list, description="JSONL(.gz) files or shard folders of high-quality reference text"
    )
    negative: list[str] = Field(default_factory=list, description="JSONL(.gz) files of random raw web (HTML or text)")
    n_features: int = Field(1 << 20, ge=1 << 10, description="hashing-trick dimensions (2^20, as fastText's buckets/2)")
    # Unigrams: on ../shared/corpus vs raw web, uni+bigrams gave no gain on held-out data (F1 0.952 vs 0.953,
    # bench/results/select.json) at twice the features per document; DCLM's fastText uses bigrams.
    ngram_max: int = Field(1, ge=1, le=3, description="word n-grams 1..ngram_max")
    c: float = Field(4.0, gt=0.0, description="inverse L2 regularisation strength of the logistic regression")
    max_docs_per_class: int = Field(5000, ge=10, description="documents sampled per class for training")
    max_chars: int = Field(20000, ge=100, description="characters of each document the model reads")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="held-out share for precision/recall")
    seed: int = 0


class SelectConfig(BaseModel):
    """Settings of `dapt select`: near-dup and line dedup, quality selection, routing, decontamination."""

    model_config = ConfigDict(extra="forbid")

    near_dedup: NearDedupConfig = Field(default_factory=NearDedupConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    quality: QualityModelConfig = Field(default_factory=QualityModelConfig)
    lines: LineDedupConfig = Field(default_factory=LineDedupConfig)
    decontam: DecontamConfig = Field(default_factory=DecontamConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    shards_per_source: int = Field(
        2, ge=1, description="output shards per source; documents go to a shard by a hash of their id"
    )
    write_removed: bool = Field(
        True,
        description="also write every removed document, with the signal saying why, to removed/<fate>/<source>/ "
        "(audit trail, as datatrove's exclusion writers); false writes only the counts",
    )
