"""Configuration of the tokenize-and-pack stage (`dapt tokenize`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TokenizeConfig(BaseModel):
    """How selected documents become token files; every field has a default for real use."""

    model_config = ConfigDict(extra="forbid")

    # Fraction of each source's documents held out for validation and eval (by document-id hash,
    # so the split is stable across reruns and machines). 1-2 % is common at scale; small corpora
    # need a little more to give a usable validation loss.
    val_fraction: float = Field(0.05, ge=0.0, le=0.5)
    # At least this many documents of every source go to validation (the ones with the smallest
    # hashes), so each mixture group has validation text even when a source is small. A source
    # with no more than this many documents is kept whole for training.
    val_min_docs: int = Field(1, ge=0)
    # Documents per `encode_batch` call: large enough that the Rust tokenizer's thread pool is busy,
    # small enough to bound memory per bundle.
    batch_min: int = Field(64, ge=1)
    batch_max: int = Field(1024, ge=1)
    # Tokens per sorted bucket: a source is split by document-id hash into ceil(tokens / shard_tokens)
    # buckets, each sorted and written by one worker, so a worker's memory is about one bucket (50M
    # uint16 tokens is ~100 MB plus ~150 bytes per document), however large the source. A source of
    # at most this many tokens is one bucket: its file is sorted by document id as a whole.
    shard_tokens: int = Field(50_000_000, ge=1)

    @model_validator(mode="after")
    def _check_batches(self) -> TokenizeConfig:
        if self.batch_min > self.batch_max:
            raise ValueError(
                f"tokenize.batch_min ({self.batch_min}) exceeds tokenize.batch_max ({self.batch_max}); "
                "lower batch_min or raise batch_max"
            )
        return self
