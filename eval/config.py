"""The evaluation stage's one typed config (the `eval:` section of a run YAML)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EvalConfig(BaseModel):
    """How models are scored by lm-evaluation-harness; every field has a default that works offline on CPU."""

    model_config = ConfigDict(extra="forbid")

    # "auto" picks cuda when a GPU is visible, else cpu (the harness's own default is cuda, which fails here).
    device: str = "auto"
    # float32 on CPU; "auto" lets transformers use the dtype the checkpoint was saved in.
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    batch_size: int = Field(default=8, ge=1)
    # Context window for rolling log-likelihood; None = the model's own (max_position_embeddings).
    max_length: int | None = Field(default=None, ge=2)
    # Held-out documents scored per group (domain/general); None = all. 1,000 documents keep a
    # 1B model's intrinsic eval to minutes on one GPU while the corpus-level bits/byte is stable.
    max_docs: int | None = Field(default=1000, ge=1)
    # Intrinsic metrics: the harness's loglikelihood_rolling metrics (wikitext task's list).
    intrinsic: bool = True
    # Bootstrap resamples for the harness's standard errors of non-mean metrics (its default, 100,000, is slow).
    bootstrap_iters: int = Field(default=1000, ge=0)
    seed: int = 1234

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value not in ("auto", "cpu", "mps") and not value.startswith("cuda"):
            raise ValueError(f"eval.device must be auto, cpu, mps, cuda or cuda:N, got {value!r}")
        return value
