"""The decoder: a `transformers` Llama model built from `ModelConfig`, plus the FLOPs it costs per token.

Llama-style (RoPE, RMSNorm, SwiGLU, no biases) through `LlamaForCausalLM`, so the export is a plain
Hugging Face folder that `AutoModelForCausalLM` and lm-evaluation-harness load without our code.
"""

from __future__ import annotations

import math

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from dapt.pretrain.config import ModelConfig
from dapt.pretrain.memory import gpu_for_device
from dapt.pretrain.shape import ModelShape, ffn_width, pad_vocab


def model_shape(cfg: ModelConfig, vocab_size: int) -> ModelShape:
    """The planner's shape of this config with a tokenizer of `vocab_size` (padded to a multiple of 64)."""
    return ModelShape(
        n_layers=cfg.n_layers,
        d_model=cfg.d_model,
        n_heads=cfg.n_heads,
        n_kv_heads=cfg.n_kv_heads or cfg.n_heads,
        d_ff=cfg.d_ff or ffn_width(cfg.d_model),
        vocab_size=pad_vocab(vocab_size),
        seq_len=cfg.seq_len,
        tie_embeddings=cfg.tie_embeddings,
    )


def init_std(cfg: ModelConfig) -> float:
    """BloombergGPT §2.3 (after Smith et al. 2022): weights ~ N(0, sqrt(1 / (3 d))) unless configured."""
    return cfg.init_std if cfg.init_std is not None else math.sqrt(1.0 / (3.0 * cfg.d_model))


def llama_config(cfg: ModelConfig, vocab_size: int, eos_id: int | None = None, pad_id: int | None = None) -> LlamaConfig:
    shape = model_shape(cfg, vocab_size)
    return LlamaConfig(
        **shape.llama_config_kwargs(),
        hidden_act="silu",
        rms_norm_eps=cfg.rms_norm_eps,
        rope_theta=cfg.rope_theta,
        initializer_range=init_std(cfg),  # LlamaPreTrainedModel._init_weights draws N(0, this)
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=eos_id,  # documents are separated by EOS only, so EOS is what starts a document
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        use_cache=False,  # training; the export re-enables it
    )


def build_model(cfg: ModelConfig, vocab_size: int, eos_id: int | None = None, pad_id: int | None = None, seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised model in fp32 with PyTorch SDPA attention (flash kernels on GPU)."""
    config = llama_config(cfg, vocab_size, eos_id, pad_id)
    config._attn_implementation = "sdpa"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the same weights on every rank and on resume-from-scratch
        model = LlamaForCausalLM(config)
    return model


def flops_per_token(shape: ModelShape) -> float:
    """Training FLOPs per token, PaLM Appendix B: 6N + 12 L H Q T (weights + attention scores).

    N counts the matmul weights: every parameter except the input embedding table (a lookup, not a
    matmul) unless it is tied to the LM head, which is a matmul. H Q = d_model (heads x head size).
    """
    from dapt.pretrain.shape import count_params

    n = count_params(shape)
    if not shape.tie_embeddings:
        n -= shape.vocab_size * shape.d_model
    return 6.0 * n + 12.0 * shape.n_layers * shape.d_model * shape.seq_len


def device_peak_flops(name: str) -> float | None:
    """Peak FLOP/s of a device by name from the planner's GPU table, None when unknown (CPUs: no MFU)."""
    spec = gpu_for_device(name)
    return spec.peak_tflops * 1e12 if spec else None
