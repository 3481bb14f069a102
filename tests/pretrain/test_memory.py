"""Memory accounting pinned to the course table, the ZeRO paper and DeepSpeed's own estimators."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from deepspeed.runtime.zero.stage3 import (
    estimate_zero3_model_states_mem_needs, estimate_zero3_model_states_mem_needs_all_cold,
)
from deepspeed.runtime.zero.stage_1_and_2 import (
    estimate_zero2_model_states_mem_needs, estimate_zero2_model_states_mem_needs_all_cold,
)

from dapt.errors import UserError
from dapt.pretrain.memory import (
    GB, GPUS, activation_bytes, check_fits, course_table, estimate_memory, fits_table,
    model_state_bytes_per_param, recommend, saved_activation_bytes, storage_bytes,
)
from dapt.pretrain.shape import ModelShape, count_params, largest_layer_params, model_shape_for

SHAPE_1B = model_shape_for(1_000_000_000, 32000, 2048)
SHAPE_7B = model_shape_for(6_738_415_616, 32000, 2048)


def test_course_table_1b_fp32():
    t = course_table(1_000_000_000)
    assert t["store_gb"]["fp32"] == pytest.approx(4.0)
    assert t["store_gb"]["bf16"] == pytest.approx(2.0) and t["store_gb"]["int8"] == pytest.approx(1.0)
    assert t["train_fp32_adam_gb"] == pytest.approx(24.0)
    assert sum(t["bytes_per_param"].values()) == 24  # 4 + 8 + 4 + 8
    assert storage_bytes(10**9, "fp32") / GB == 4.0


def test_fp32_adam_model_states_are_16_bytes():
    per = model_state_bytes_per_param("fp32", 0, 1)
    assert (per["weights"], per["gradients"], per["optimizer"]) == (4, 4, 8)


@pytest.mark.parametrize("g", [1, 8, 64, 1024])
def test_zero_paper_mixed_precision_formulas(g):
    def total(stage):
        per = model_state_bytes_per_param("bf16", stage, g, accounting="zero_paper")
        return per["weights"] + per["gradients"] + per["optimizer"]

    # Rajbhandari et al. 2020, Fig. 1: baseline 2+2+K (K=12); P_os 4+K/G; P_os+g 2+14/G; P_os+g+p 16/G.
    assert total(0) == pytest.approx(16)
    assert total(1) == pytest.approx(4 + 12 / g)
    assert total(2) == pytest.approx(2 + 14 / g)
    assert total(3) == pytest.approx(16 / g)


def test_zero3_over_64_gpus_is_a_64th_of_model_states():
    base = estimate_memory(SHAPE_7B, zero_stage=0, num_gpus=1, accounting="zero_paper").model_states
    z3 = estimate_memory(SHAPE_7B, zero_stage=3, num_gpus=64, accounting="zero_paper").model_states
    assert z3 == pytest.approx(base / 64)
    # DeepSpeed's accounting (18 of its 20 bytes partitioned) is within ~10% of 1/64 too
    base_ds = estimate_memory(SHAPE_7B, zero_stage=0, num_gpus=1).model_states
    z3_ds = estimate_memory(SHAPE_7B, zero_stage=3, num_gpus=64).model_states
    assert 0.85 < z3_ds / (base_ds / 64) <= 1.0


@pytest.mark.parametrize("gpn, nodes", [(1, 1), (8, 1), (4, 1), (8, 4), (8, 16)])
@pytest.mark.parametrize("shape", [SHAPE_1B, SHAPE_7B, ModelShape(2, 64, 2, 2, 256, 512, 128)])
def test_zero2_agrees_with_deepspeed(shape, gpn, nodes):
    n = count_params(shape)
    for offload in (False, True):
        est = estimate_memory(shape, zero_stage=2, num_gpus=gpn * nodes, gpus_per_node=gpn, offload_optimizer=offload)
        cpu, gpu = estimate_zero2_model_states_mem_needs(n, gpn, nodes, cpu_offload=offload)
        assert int(est.model_states) == pytest.approx(gpu, abs=2)
        if nodes == 1:  # DeepSpeed counts all GPUs of all nodes in one node's fp32 load under offload
            assert int(est.host) == pytest.approx(cpu, abs=2)


@pytest.mark.parametrize("gpn, nodes", [(1, 1), (8, 1), (8, 8)])
@pytest.mark.parametrize("shape", [SHAPE_1B, SHAPE_7B])
def test_zero3_agrees_with_deepspeed(shape, gpn, nodes):
    n, largest = count_params(shape), largest_layer_params(shape)
    for off_opt, off_par in ((False, False), (True, False), (True, True)):
        est = estimate_memory(shape, zero_stage=3, num_gpus=gpn * nodes, gpus_per_node=gpn,
                              offload_optimizer=off_opt, offload_params=off_par)
        cpu, gpu, _ = estimate_zero3_model_states_mem_needs(n, largest, gpn, nodes, cpu_offload=off_opt,
                                                            cpu_offload_params=off_par, zero_init=True)
        assert int(est.model_states + est.buffers) == pytest.approx(gpu, abs=2)
        assert int(est.host) == pytest.approx(cpu, abs=2)


def _printed_gb(fn, *args) -> list[float]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn(*args)
    return [float(x) for x in re.findall(r"\|\s+([\d.]+)GB \|", buf.getvalue())]


def test_all_cold_printouts_match():
    n, largest = count_params(SHAPE_7B), largest_layer_params(SHAPE_7B)
    z2 = _printed_gb(estimate_zero2_model_states_mem_needs_all_cold, n, 8, 1)
    ours2 = [estimate_memory(SHAPE_7B, zero_stage=2, num_gpus=8, offload_optimizer=o).model_states / 2**30
             for o in (True, False)]
    assert z2 == pytest.approx([round(x, 2) for x in ours2], abs=0.01)
    z3 = _printed_gb(estimate_zero3_model_states_mem_needs_all_cold, n, largest, 8, 1)
    # DeepSpeed prints (offload opt+param, zero_init 1/0), (offload opt, 1/0), (none, 1/0): GPU side
    # does not depend on zero_init.
    ours3 = []
    for off_opt, off_par in ((True, True), (True, False), (False, False)):
        e = estimate_memory(SHAPE_7B, zero_stage=3, num_gpus=8, offload_optimizer=off_opt, offload_params=off_par)
        ours3 += [round((e.model_states + e.buffers) / 2**30, 2)] * 2
    assert z3 == pytest.approx(ours3, abs=0.01)


def _autograd_saved_bytes(shape: ModelShape, micro_batch: int, dtype, attn: str, checkpointing: bool) -> int:
    """Bytes of the distinct tensors autograd saves during one forward of the real HF model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**shape.llama_config_kwargs(), attn_implementation=attn, use_cache=False))
    model = model.to(dtype)
    if checkpointing:
        # transformers 5 renamed gradient_checkpointing_enable (deprecated alias kept until v6)
        (getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable)()
    model.train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    ids = torch.randint(0, shape.vocab_size, (micro_batch, shape.seq_len))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(input_ids=ids, labels=ids)
    return sum(saved.values())


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("checkpointing", [False, True])
def test_saved_activations_match_autograd(precision, attn, checkpointing):
    import torch

    shape = ModelShape(2, 128, 4, 2, 384, 512, 64)  # grouped-query attention, 2 layers
    dtype = torch.float32 if precision == "fp32" else torch.bfloat16
    measured = _autograd_saved_bytes(shape, 2, dtype, attn, checkpointing)
    ours = saved_activation_bytes(shape, 2, precision, checkpointing, flash_attention=(attn == "sdpa"))
    assert ours == pytest.approx(measured, rel=0.01)


def test_activations():
    tiny = ModelShape(2, 64, 2, 2, 256, 512, 128)
    full = activation_bytes(SHAPE_1B, 1, checkpointing=False)
    ckpt = activation_bytes(SHAPE_1B, 1, checkpointing=True)
    assert ckpt < full / 3
    assert activation_bytes(SHAPE_1B, 4, checkpointing=False) == 4 * full
    assert activation_bytes(SHAPE_1B, 1, checkpointing=False, flash_attention=False) > full
    assert activation_bytes(tiny, 1, "fp32", checkpointing=False) > activation_bytes(tiny, 1, checkpointing=False)
    assert full > saved_activation_bytes(SHAPE_1B, 1, checkpointing=False)  # + backward transients
    # Korthikanti et al. 2022: 34 s b h bytes per layer for a GPT layer (4h MLP) in 16-bit; the
    # SwiGLU layer with fp32 norm inputs lands in the same range.
    h, L, V = SHAPE_1B.d_model, SHAPE_1B.n_layers, SHAPE_1B.vocab_size
    layers_only = saved_activation_bytes(SHAPE_1B, 1, checkpointing=False) - 2048 * (4 * V + 8 * h)
    assert 0.8 < layers_only / (34 * 2048 * h * L) < 1.5


def test_recommend_lowest_stage_that_fits():
    a100_80 = GPUS["a100-80gb"].memory_bytes
    option, est = recommend(SHAPE_7B, a100_80, num_gpus=8)
    assert option == (1, False, False) and est.fits(a100_80)
    # 7B on one 24 GB card: only optimizer offload helps (partitioning over one GPU saves nothing)
    option, _ = recommend(SHAPE_7B, GPUS["rtx4090-24gb"].memory_bytes, num_gpus=1)
    assert option == (2, True, False)
    rows = {r["gpu"]: r for r in fits_table(SHAPE_1B, num_gpus=1)}
    assert set(rows) == set(GPUS)  # every card of the one GPU table the trainer reads its peak from too
    assert rows["h200-141gb"]["zero_stage"] == 0 and rows["a100-40gb"]["fits"]


def test_check_fits_explains_and_recommends():
    big_host = 1024 * 2**30
    est = check_fits(SHAPE_1B, gpu_type="a100-80gb", host_bytes=big_host)
    assert est.total < GPUS["a100-80gb"].memory_bytes
    with pytest.raises(UserError, match=r"does not fit.*use ZeRO-2 \+ optimizer offload"):
        check_fits(SHAPE_7B, gpu_type="rtx4090-24gb", zero_stage=0, host_bytes=big_host)
    with pytest.raises(UserError, match="no ZeRO stage or offload fits"):
        check_fits(model_shape_for(70_000_000_000, 32000, 4096), gpu_memory_bytes=24 * 2**30, micro_batch=8,
                   host_bytes=big_host)
    # the tiny CPU model always fits a small card
    check_fits(ModelShape(2, 64, 2, 2, 256, 512, 128), gpu_memory_bytes=4 * 2**30)


def test_check_fits_counts_host_memory_for_offload():
    # 65B on one 24 GB card "fits" with ZeRO-3 + offload only if the host holds ~1.6 TB of offloaded states
    shape = model_shape_for(65_000_000_000, 32000, 2048)
    kw = dict(gpu_type="rtx4090-24gb", zero_stage=3, offload_optimizer=True, offload_params=True,
              activation_checkpointing=True)
    est = check_fits(shape, host_bytes=4 * 2**40, **kw)
    assert est.host > 1.4e12
    with pytest.raises(UserError, match=r"offloads \d+ GiB per node to host memory, but the host has 256 GiB"):
        check_fits(shape, host_bytes=256 * 2**30, **kw)
    # the same model's lowest fitting option on 8 x 80 GB respects the host too
    option, _ = recommend(SHAPE_7B, GPUS["rtx4090-24gb"].memory_bytes, host_bytes=64 * 2**30, num_gpus=1)
    assert option is None  # ZeRO-2 + offload needs ~150 GiB of host memory


def test_check_fits_on_a_cpu_run_checks_host_memory():
    # no GPU named and no CUDA device: everything lives in host memory, which is checked
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: its memory is checked instead")
    with pytest.raises(UserError, match="does not fit this machine's memory"):
        check_fits(SHAPE_7B, zero_stage=0, host_bytes=64 * 2**30)
    check_fits(ModelShape(2, 64, 2, 2, 256, 512, 128), host_bytes=2**30)  # the tiny CPU model fits 1 GiB


@pytest.mark.parametrize("call, words", [
    (lambda: check_fits(SHAPE_1B, gpu_type="v100-16gb"), "unknown GPU type"),
    (lambda: model_state_bytes_per_param("int8", 0, 1), "int8 weights can be stored"),
    (lambda: model_state_bytes_per_param("bf16", 0, 1, offload_optimizer=True), "optimizer offload needs ZeRO"),
    (lambda: model_state_bytes_per_param("bf16", 2, 8, True, True), "parameter offload needs ZeRO stage 3"),
    (lambda: model_state_bytes_per_param("bf16", 4, 8), "ZeRO stage must be"),
    (lambda: activation_bytes(SHAPE_1B, 0), "micro-batch"),
])
def test_bad_input_is_user_error(call, words):
    with pytest.raises(UserError, match=words):
        call()


def test_the_trainer_reads_its_mfu_peak_from_the_planner_gpu_table():
    """Issue 16: one GPU table for the planner (plan.gpu_type) and the trainer's MFU (by device name)."""
    from dapt.pretrain.model import device_peak_flops

    for spec in GPUS.values():
        assert device_peak_flops(f"NVIDIA {spec.device_name.title()} 80GB") == spec.peak_tflops * 1e12, spec.name
    assert device_peak_flops("NVIDIA GH200 480GB") == GPUS["gh200-96gb"].peak_tflops * 1e12
    assert device_peak_flops("NVIDIA H100 PCIe") == GPUS["h100-pcie-80gb"].peak_tflops * 1e12
