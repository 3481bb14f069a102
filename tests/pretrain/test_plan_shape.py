"""count_params must equal the instantiated transformers Llama model; model_shape_for must hit its target."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from dapt.errors import UserError
from dapt.pretrain.shape import ModelShape, count_params, largest_layer_params, model_shape_for


def _hf_model(shape: ModelShape) -> LlamaForCausalLM:
    with torch.device("meta"):  # shapes only: no memory, no init time
        return LlamaForCausalLM(LlamaConfig(**shape.llama_config_kwargs()))


@pytest.mark.parametrize("shape", [
    ModelShape(2, 64, 1, 1, 256, 1000, 128, tie_embeddings=False),
    ModelShape(2, 64, 1, 1, 256, 1000, 128, tie_embeddings=True),
    ModelShape(3, 128, 4, 2, 384, 8192, 256, tie_embeddings=False),
    ModelShape(4, 256, 4, 4, 768, 32000, 2048, tie_embeddings=True),
    ModelShape(2, 512, 8, 1, 1408, 50304, 1024, tie_embeddings=False),
    ModelShape(1, 4096, 32, 8, 14336, 128256, 8192, tie_embeddings=False),  # one Llama-3-8B layer
])
def test_count_params_equals_transformers(shape):
    model = _hf_model(shape)
    assert count_params(shape) == sum(p.numel() for p in model.parameters())


def test_largest_layer_matches_deepspeed_definition():
    from deepspeed.runtime.zero.stage3 import model_to_params

    for shape in (ModelShape(2, 64, 1, 1, 256, 1000, 128), ModelShape(2, 256, 4, 4, 2048, 64, 128)):
        _, largest = model_to_params(_hf_model(shape))
        # model_to_params dedups shared tensors by data_ptr, which is 0 for every meta tensor: use numel.
        assert largest == largest_layer_params(shape)


@pytest.mark.parametrize("target, vocab", [(3e6, 8000), (1.2e8, 32000), (1e9, 32000), (6.7e9, 32000),
                                           (13e9, 32000), (50.6e9, 131072), (70e9, 32000)])
def test_model_shape_for_hits_target(target, vocab):
    shape = model_shape_for(int(target), vocab, 2048)
    assert abs(count_params(shape) / target - 1) < 0.03
    assert shape.d_model % 64 == 0 and shape.d_ff % 256 == 0 and shape.vocab_size % 64 == 0
    assert shape.head_dim in (64, 128)
    if target < 2e9:  # the exact count, checked on the real model at sizes that build fast on meta
        assert count_params(shape) == sum(p.numel() for p in _hf_model(shape).parameters())


def test_model_shape_for_llama_7b_like():
    shape = model_shape_for(6_738_415_616, 32000, 2048)  # LLaMA-7B's exact count
    assert (shape.d_model, shape.d_ff, shape.n_heads) == (4096, 11008, 32)
    assert shape.n_layers in (32, 33)


def test_vocab_is_padded():
    assert model_shape_for(10_000_000, 50257, 512).vocab_size == 50304


@pytest.mark.parametrize("kwargs, words", [
    (dict(n_layers=2, d_model=100, n_heads=3, n_kv_heads=3, d_ff=256, vocab_size=10, seq_len=8),
     "does not divide d_model"),
    (dict(n_layers=2, d_model=128, n_heads=4, n_kv_heads=3, d_ff=256, vocab_size=10, seq_len=8), "n_kv_heads"),
    (dict(n_layers=0, d_model=128, n_heads=4, n_kv_heads=4, d_ff=256, vocab_size=10, seq_len=8), "n_layers"),
])
def test_bad_shape_is_user_error(kwargs, words):
    with pytest.raises(UserError, match=words):
        ModelShape(**kwargs)
