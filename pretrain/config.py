"""The pre-training config: model shape, optimisation, DeepSpeed, stopping, guards, checkpoints.

Every field has a default fit for a real run (a ~125M-parameter model, GPT-3 Small shape); the tiny
test config overrides a handful. Batch size and learning rate are stated here once; the DeepSpeed
config is built from them (`pretrain.engine.deepspeed_config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ModelConfig(BaseModel):
    """A Llama-style decoder (RoPE, RMSNorm, SwiGLU); None fields are derived from d_model."""

    model_config = ConfigDict(extra="forbid")

    # GPT-3 Small / Pythia-160M depth and width (Brown et al. 2020, Table 2.1).
    n_layers: int = Field(12, ge=1)
    d_model: int = Field(768, ge=8)
    n_heads: int = Field(12, ge=1)
    n_kv_heads: int | None = Field(None, ge=1)  # None: n_heads (no grouped-query attention)
    d_ff: int | None = Field(None, ge=1)  # None: Llama's 8d/3 rounded up to a multiple of 256
    seq_len: int = Field(1024, ge=8)
    tie_embeddings: bool = False
    # None: BloombergGPT §2.3's std = sqrt(1 / (3 d)) (0.0208 at d=768); set a number to override.
    init_std: float | None = Field(None, gt=0)
    rope_theta: float = Field(10000.0, gt=0)  # Llama 1/2 (Su et al. RoFormer base)
    rms_norm_eps: float = Field(1e-5, gt=0)

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelConfig:
        if self.d_model % self.n_heads:
            raise ValueError(f"pretrain.model.n_heads={self.n_heads} must divide d_model={self.d_model}; pick a divisor")
        kv = self.n_kv_heads or self.n_heads
        if self.n_heads % kv:
            raise ValueError(f"pretrain.model.n_kv_heads={kv} must divide n_heads={self.n_heads}")
        return self


class EarlyStoppingConfig(BaseModel):
    """Stop when the monitored validation loss stops improving (BloombergGPT stopped at 569B of 710B tokens)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # "mean": the mean of the domain and general validation losses; or one group's loss.
    monitor: Literal["mean", "domain", "general"] = "mean"
    min_delta: float = Field(0.0, ge=0)  # an improvement must beat the best by more than this
    patience: int = Field(5, ge=1)  # evaluations without improvement before stopping


class SpikeConfig(BaseModel):
    """Loss-spike handling as in PaLM §5.1 / OPT / BloombergGPT: skip, then roll back and skip data."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # A step is a spike when its loss (or gradient norm) exceeds factor x the running mean of recent
    # good steps. PaLM saw spikes of several x; 3 and 10 leave the normal noise of a small batch alone.
    loss_factor: float = Field(3.0, gt=1)
    grad_factor: float = Field(10.0, gt=1)
    window: int = Field(50, ge=2)  # steps in the running means
    warmup_steps: int = Field(20, ge=0)  # no spike test before the means have this many steps
    # This many spikes within `rollback_within` steps roll back to the last good checkpoint and skip
    # the data from there to the spike (PaLM restarted ~100 steps before and skipped 200-500 batches).
    rollback_after: int = Field(3, ge=1)
    rollback_within: int = Field(20, ge=1)
    max_rollbacks: int = Field(3, ge=0)  # then stop with reason "spikes"


class PretrainConfig(BaseModel):
    """Everything the trainer reads; `global_batch` (sequences) and `lr` are stated only here."""

    model_config = ConfigDict(extra="forbid")

    model: ModelConfig = ModelConfig()
    seed: int = 1234
    # None: the planner's token target (plan.json); a number overrides it.
    token_target: int | None = Field(None, ge=1)
    max_steps: int | None = Field(None, ge=1)  # an optional hard cap on optimizer steps

    # -- batch: 256 x 1024 = 0.26M tokens per step (GPT-3 Small used 0.5M at 2048)
    global_batch: int = Field(256, ge=1)  # sequences per optimizer step, all ranks together
    micro_batch: int = Field(8, ge=1)  # sequences per rank per forward; the rest is gradient accumulation
    # Optional batch-size warm-up (GPT-3 §B): start at this many sequences and grow linearly, in steps
    # of micro_batch x ranks, to global_batch over batch_warmup_tokens. 0 tokens: off.
    batch_warmup_start: int = Field(32, ge=1)
    batch_warmup_tokens: int = Field(0, ge=0)

    # -- optimisation: AdamW (0.9, 0.95, wd 0.1) as GPT-3/Llama/BloombergGPT
    lr: float = Field(6e-4, gt=0)  # GPT-3 Small's peak learning rate
    min_lr_ratio: float = Field(0.1, ge=0, le=1)  # cosine decays to 10 % of the peak (Chinchilla, Llama)
    warmup_fraction: float = Field(0.01, ge=0, lt=1)  # linear warm-up over this share of the token target
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.1, ge=0)
    grad_clip: float = Field(1.0, ge=0)  # 0: off; BloombergGPT used 0.3

    # -- DeepSpeed
    zero_stage: Literal[0, 1, 2, 3] = 2
    offload_optimizer: bool = False  # ZeRO-Offload: optimizer state and step on the CPU (stages 1-3)
    offload_params: bool = False  # ZeRO-Infinity-style parameter offload to CPU (stage 3 only)
    # "auto": bf16 on GPUs that support it, fp16 with dynamic loss scaling on older GPUs, fp32 on CPU.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    # A user's own DeepSpeed JSON instead of the built one; "auto" values are filled from this config,
    # and a batch size or learning rate that disagrees with it is refused.
    deepspeed_config: Path | None = None

    # -- evaluation, stopping, logging, checkpoints
    eval_interval: int = Field(200, ge=1)  # optimizer steps between validations
    eval_batches: int = Field(20, ge=1)  # validation batches per group
    eval_batch_size: int | None = Field(None, ge=1)  # None: micro_batch
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()
    spike: SpikeConfig = SpikeConfig()
    log_interval: int = Field(10, ge=1)
    checkpoint_interval: int = Field(500, ge=1)  # steps between periodic checkpoints
    keep_checkpoints: int = Field(2, ge=1)  # periodic checkpoints kept (the best one is kept apart)
    tensorboard: bool = True

    @model_validator(mode="after")
    def _check(self) -> PretrainConfig:
        if self.offload_params and self.zero_stage != 3:
            raise ValueError(f"pretrain.offload_params needs zero_stage 3 (it is {self.zero_stage}); set zero_stage: 3 or offload_params: false")
        if self.offload_optimizer and self.zero_stage == 0:
            raise ValueError("pretrain.offload_optimizer needs zero_stage 1, 2 or 3; raise zero_stage or set offload_optimizer: false")
        if self.global_batch % self.micro_batch:
            raise ValueError(
                f"pretrain.global_batch={self.global_batch} is not a multiple of micro_batch={self.micro_batch}; "
                "make global_batch = micro_batch x ranks x accumulation steps"
            )
        if self.batch_warmup_tokens and self.batch_warmup_start > self.global_batch:
            raise ValueError("pretrain.batch_warmup_start exceeds global_batch; lower it")
        return self
