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
    # torch CPU threads while scoring; None = torch's default. On a shared or small CPU, 1 avoids threads
    # spinning against each other (measured here: a 2-thread forward 20x slower than 1 under load).
    cpu_threads: int | None = Field(default=None, ge=1)
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

    # Benchmark tasks: names or tags of YAML tasks in eval/tasks (or eval.include_path). The tags
    # dapt_domain and dapt_general hold the finance/medicine/law and general-format tasks.
    tasks: list[str] = Field(default_factory=lambda: ["dapt_domain", "dapt_general"])
    # Local benchmark files in the released format, per task and split, e.g.
    # {"dapt_fpb": {"test": "/data/fpb/test.jsonl", "train": "/data/fpb/train.jsonl"}}. A task not named
    # here reads the project's synthetic examples (eval/tasks/data), which only show the plumbing.
    task_data: dict[str, dict[str, str]] = Field(default_factory=dict)
    # Extra folders of harness task YAMLs (the user's own tasks).
    include_path: list[str] = Field(default_factory=list)
    # k in k-shot; examples come from the task's few-shot split (train), never the scored one.
    num_fewshot: int = Field(default=0, ge=0)
    # Scored examples per task; None = all (the harness's --limit, for quick looks only).
    limit: int | None = Field(default=None, ge=1)
    # Contamination check against the training documents: word n-gram size (13 as GPT-3, App. C) and the
    # shortest example checked.
    contamination_ngram: int = Field(default=13, ge=1)
    contamination_min_words: int = Field(default=8, ge=1)

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value not in ("auto", "cpu", "mps") and not value.startswith("cuda"):
            raise ValueError(f"eval.device must be auto, cpu, mps, cuda or cuda:N, got {value!r}")
        return value

    @field_validator("task_data")
    @classmethod
    def _known_splits(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for task, splits in value.items():
            bad = set(splits) - {"train", "validation", "test"}
            if bad:
                raise ValueError(f"eval.task_data.{task}: splits must be train, validation or test, got {sorted(bad)}")
        return value
