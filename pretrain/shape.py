"""Llama-style decoder shapes: exact parameter counts and a shape for a target size.

`count_params` is the closed form of ``sum(p.numel() for p in LlamaForCausalLM(cfg).parameters())``
for the `transformers` Llama implementation (no biases, RMSNorm weights only, rotary embeddings are
a buffer, not a parameter), so the planner can size models of any size without instantiating them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from dapt.errors import UserError

# Vocabulary rows are padded to a multiple of 64 so the embedding and LM-head matmuls keep tensor-core
# friendly shapes (Megatron-LM `make_vocab_size_divisible_by`, nanoGPT's 50304 instead of 50257).
VOCAB_MULTIPLE = 64
# Llama's SwiGLU width: 2/3 of 4d, rounded up to a multiple of 256 (Touvron et al. 2023, `multiple_of`).
FFN_MULTIPLE = 256


@dataclass(frozen=True)
class ModelShape:
    """Hyper-parameters of a Llama-style decoder (names follow the planner, not `LlamaConfig`)."""

    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_ff: int
    vocab_size: int
    seq_len: int
    tie_embeddings: bool = False

    def __post_init__(self) -> None:
        for name in ("n_layers", "d_model", "n_heads", "n_kv_heads", "d_ff", "vocab_size", "seq_len"):
            if getattr(self, name) <= 0:
                raise UserError(
                    f"model shape: {name} must be positive, got {getattr(self, name)}; set a positive value")
        if self.d_model % self.n_heads:
            raise UserError(
                f"model shape: n_heads={self.n_heads} does not divide d_model={self.d_model}; "
                f"choose n_heads so that d_model / n_heads is a whole head dimension (e.g. 64 or 128)"
            )
        if self.n_heads % self.n_kv_heads:
            raise UserError(
                f"model shape: n_kv_heads={self.n_kv_heads} does not divide n_heads={self.n_heads}; "
                f"grouped-query attention needs n_heads to be a multiple of n_kv_heads"
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)

    def llama_config_kwargs(self) -> dict:
        """Keyword arguments for `transformers.LlamaConfig` building exactly this shape."""
        return {
            "hidden_size": self.d_model,
            "intermediate_size": self.d_ff,
            "num_hidden_layers": self.n_layers,
            "num_attention_heads": self.n_heads,
            "num_key_value_heads": self.n_kv_heads,
            "vocab_size": self.vocab_size,
            "tie_word_embeddings": self.tie_embeddings,
            "max_position_embeddings": self.seq_len,
        }


def layer_params(shape: ModelShape) -> int:
    """Parameters of one decoder layer: q/k/v/o projections, SwiGLU MLP, two RMSNorm weights."""
    d, hd = shape.d_model, shape.head_dim
    attn = d * (shape.n_heads * hd) * 2 + d * (shape.n_kv_heads * hd) * 2  # q, o + k, v
    mlp = 3 * d * shape.d_ff  # gate, up, down
    return attn + mlp + 2 * d


def count_params(shape: ModelShape) -> int:
    """Exact parameter count of `LlamaForCausalLM` with this shape (tied embeddings counted once)."""
    embed = shape.vocab_size * shape.d_model
    head = 0 if shape.tie_embeddings else embed
    return embed + shape.n_layers * layer_params(shape) + shape.d_model + head  # + final norm


def largest_layer_params(shape: ModelShape) -> int:
    """Largest parameter count held directly by one module, as DeepSpeed's ZeRO-3 estimator measures it.

    DeepSpeed (`stage3.model_to_params`) takes the max over modules of their own (non-recursive)
    parameters: for Llama the embedding / LM head, or one MLP projection for small vocabularies.
    """
    d = shape.d_model
    return max(shape.vocab_size * d, d * shape.d_ff, d * shape.n_heads * shape.head_dim)


def pad_vocab(vocab_size: int) -> int:
    return int(math.ceil(vocab_size / VOCAB_MULTIPLE) * VOCAB_MULTIPLE)


def ffn_width(d_model: int) -> int:
    """Llama's SwiGLU hidden width for a model width: 8d/3 rounded up to a multiple of 256."""
    return int(math.ceil(8 * d_model / 3 / FFN_MULTIPLE) * FFN_MULTIPLE)


def _head_dim_for(d_model: int) -> int:
    # Llama uses 128-dim heads from 7B up; small models keep 64 (GPT-2, Pythia small), so that a
    # 64-wide toy model still has one head.
    return 128 if d_model >= 2048 else 64


def _aspect_target(n_params: float) -> float:
    """Preferred width / depth: ~128 for Llama 7B-13B, ~100 at 65B, shallower-wider is fine for toys.

    Kaplan et al. 2020 (Fig. 5) find loss within a few percent over a wide range of d/L (~20-200),
    so the target only breaks ties between shapes of nearly the same size.
    """
    if n_params < 1e8:
        return 32.0 + 96.0 * (math.log10(max(n_params, 1e5)) - 5) / 3  # 32 at 100k -> 128 at 100M
    return 128.0 if n_params < 3e10 else 104.0


def model_shape_for(n_params: int, vocab_size: int, seq_len: int, tie_embeddings: bool = False) -> ModelShape:
    """A Llama-style shape whose exact parameter count is close to `n_params`.

    Widths are multiples of 64 (128 from 2048 up, a whole number of 128-dim heads), FFN widths
    multiples of 256, vocabulary padded to a multiple of 64; grouped-query attention (8 query heads
    per KV head, as Llama 2 70B's 64/8) from 30B up. Among shapes within ~3% of the target it picks the one nearest the
    preferred aspect ratio, else the nearest in size.
    """
    if n_params <= 0:
        raise UserError(f"plan: target parameters must be positive, got {n_params}; set plan.n_params")
    if vocab_size <= 0 or seq_len <= 0:
        raise UserError(f"plan: vocab_size ({vocab_size}) and seq_len ({seq_len}) must be positive")
    vocab = pad_vocab(vocab_size)
    aspect = _aspect_target(n_params)
    best: tuple[float, ModelShape] | None = None
    for d in range(64, 32768 + 1, 64):
        hd = _head_dim_for(d)
        if d % hd:
            continue
        heads = d // hd
        gqa = n_params >= 3e10
        if gqa and heads % 8:
            continue
        kv = heads // 8 if gqa else heads
        ff = ffn_width(d)
        probe = ModelShape(1, d, heads, kv, ff, vocab, seq_len, tie_embeddings)
        per_layer = layer_params(probe)
        fixed = count_params(probe) - per_layer
        if fixed > 1.5 * n_params and best is not None:
            break
        # The two depths whose counts bracket the target at this width.
        ideal = max((n_params - fixed) / per_layer, 1.0)
        for n_layers in {max(1, math.floor(ideal)), max(1, math.ceil(ideal))}:
            shape = ModelShape(n_layers, d, heads, kv, ff, vocab, seq_len, tie_embeddings)
            size_err = abs(math.log(count_params(shape) / n_params))
            aspect_err = abs(math.log((d / n_layers) / aspect))
            score = aspect_err + 3 * size_err if size_err < 0.03 else 10.0 + size_err
            if best is None or score < best[0]:
                best = (score, shape)
    assert best is not None
    return best[1]
