"""GPU memory planning: weights, gradients, optimizer states and activations per GPU, by precision and
ZeRO stage, and the check the trainer runs before it allocates anything on a GPU.

Two accountings of the model states (bytes per parameter, Adam):
- ``zero_paper``: Rajbhandari et al. 2020 (ZeRO, §3.1 and Fig. 1): mixed precision keeps 2 (16-bit
  weights) + 2 (16-bit gradients) + 12 (fp32 master weights, momentum, variance) = 16 bytes; stage 1
  partitions the 12 over G GPUs (4 + 12/G), stage 2 the gradients too (2 + 14/G), stage 3 everything (16/G).
- ``deepspeed``: what DeepSpeed's own estimators count (`stage_1_and_2.estimate_zero2_model_states_mem_needs`,
  `stage3.estimate_zero3_model_states_mem_needs`): its optimizer also keeps an fp32 copy of the gradient
  partition (4 more bytes, "18 = 2 grads16 + 4 grads32 + 4 params32 + 8 optimizer states"), ZeRO-3 reduces
  16-bit gradients straight into that fp32 partition and holds the largest layer gathered (4 bytes per
  parameter of it). The trainer runs DeepSpeed, so `check_fits` uses this one.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Literal

from dapt.errors import UserError
from dapt.pretrain.shape import ModelShape, count_params, largest_layer_params

Precision = Literal["fp32", "bf16", "fp16", "int8"]
Accounting = Literal["zero_paper", "deepspeed"]
GB = 1e9  # decimal gigabytes, as GPU vendors and the course table quote them
GIB = 2**30
MIB = 2**20


@dataclass(frozen=True)
class GPUSpec:
    name: str
    memory_bytes: int  # nvidia-smi memory.total
    peak_tflops: float  # dense bf16/fp16 tensor-core peak, vendor datasheet (no sparsity)
    device_name: str  # the part of torch.cuda.get_device_name() that names this card (upper case)


# The one GPU table: the planner sizes with it (plan.gpu_type) and the trainer reads its MFU peak from
# it by device name (`gpu_for_device`). Memory: `nvidia-smi --query-gpu=memory.total` of each card
# (V100, GH200: the nominal GiB); peaks: NVIDIA datasheets, dense 16-bit tensor cores (A100: 312;
# H100 SXM / H200 / GH200: 989.4; H100 PCIe: 756; RTX 4090: 165.2 BF16 with FP32 accumulate; V100: fp16).
# Device names are matched longest first, so "H100 PCIE" wins over "H100" and "GH200" over "H200".
GPUS: dict[str, GPUSpec] = {
    "a100-40gb": GPUSpec("a100-40gb", 40960 * MIB, 312.0, "A100"),
    "a100-80gb": GPUSpec("a100-80gb", 81920 * MIB, 312.0, "A100"),
    "gh200-96gb": GPUSpec("gh200-96gb", 96 * 1024 * MIB, 989.4, "GH200"),
    "h100-pcie-80gb": GPUSpec("h100-pcie-80gb", 81559 * MIB, 756.0, "H100 PCIE"),
    "h100-80gb": GPUSpec("h100-80gb", 81559 * MIB, 989.4, "H100"),
    "h200-141gb": GPUSpec("h200-141gb", 143771 * MIB, 989.4, "H200"),
    "l40s-48gb": GPUSpec("l40s-48gb", 46068 * MIB, 362.0, "L40S"),
    "l4-24gb": GPUSpec("l4-24gb", 23034 * MIB, 121.0, "L4"),
    "rtx4090-24gb": GPUSpec("rtx4090-24gb", 24564 * MIB, 165.2, "RTX 4090"),
    "v100-32gb": GPUSpec("v100-32gb", 32 * 1024 * MIB, 125.0, "V100"),
    "t4-16gb": GPUSpec("t4-16gb", 15360 * MIB, 65.0, "T4"),
}
# CUDA context, NCCL and DeepSpeed communication buckets: ~1-2 GB in practice; reserve it plus 10%
# of the card for allocator fragmentation before declaring that a plan fits.
FRAMEWORK_OVERHEAD_BYTES = int(1.5 * GB)
FRAGMENTATION_HEADROOM = 0.10
# DeepSpeed's host-memory estimate multiplies by this (`additional_buffer_factor`).
HOST_BUFFER_FACTOR = 1.5


def gpu_spec(name: str) -> GPUSpec:
    key = name.strip().lower()
    if key not in GPUS:
        raise UserError(f"unknown GPU type {name!r}; use one of {', '.join(GPUS)} (or give plan.flops directly)")
    return GPUS[key]


def gpu_for_device(device_name: str) -> GPUSpec | None:
    """The table's card for a `torch.cuda.get_device_name()` string, None when it is not in the table."""
    key = device_name.upper()
    for spec in sorted(GPUS.values(), key=lambda g: -len(g.device_name)):  # "H100 PCIE" before "H100"
        if spec.device_name in key:
            return spec
    return None


def bytes_per_element(precision: str) -> int:
    return {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1}[precision]


def storage_bytes(n_params: int, precision: str) -> int:
    """Bytes to store (or serve) the weights alone: 1B parameters = 4 GB fp32, 2 GB 16-bit, 1 GB int8."""
    if precision not in ("fp32", "bf16", "fp16", "int8"):
        raise UserError(f"unknown precision {precision!r}; use fp32, bf16, fp16 or int8")
    return n_params * bytes_per_element(precision)


# The course rule of thumb ("Generative AI with LLMs", week 1, computational challenges): fp32 Adam
# training needs weights 4 + Adam states 8 + gradients 4 + activations and temporaries ~8 = 24 bytes
# per parameter, so 1B parameters take 4 GB to store and ~24 GB to train.
COURSE_TRAIN_BYTES = {"weights": 4, "optimizer": 8, "gradients": 4, "activations_and_temp": 8}


def course_table(n_params: int) -> dict:
    """Memory rule of thumb: storage by precision and fp32 Adam training at 24 bytes per parameter."""
    return {
        "store_gb": {p: storage_bytes(n_params, p) / GB for p in ("fp32", "bf16", "int8")},
        "train_fp32_adam_gb": n_params * sum(COURSE_TRAIN_BYTES.values()) / GB,
        "bytes_per_param": dict(COURSE_TRAIN_BYTES),
    }


@dataclass
class MemoryEstimate:
    """Bytes per GPU (and per node of host memory) for one training configuration."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    buffers: float  # ZeRO-3: the largest layer gathered
    overhead: float  # CUDA context, communication buckets
    host: float  # per node: offloaded states or the fp32 model load
    settings: dict = field(default_factory=dict)

    @property
    def model_states(self) -> float:
        return self.weights + self.gradients + self.optimizer

    @property
    def total(self) -> float:
        return self.model_states + self.activations + self.buffers + self.overhead

    @property
    def offloads(self) -> bool:
        return bool(self.settings.get("offload_optimizer") or self.settings.get("offload_params"))

    def fits(self, capacity_bytes: int, host_bytes: int | None = None) -> bool:
        """Fits the GPU, and (when it offloads and the host's memory is known) the host's memory too."""
        gpu_ok = self.total <= capacity_bytes * (1 - FRAGMENTATION_HEADROOM)
        return gpu_ok and self.fits_host(host_bytes)

    def fits_host(self, host_bytes: int | None) -> bool:
        return host_bytes is None or not self.offloads or self.host <= host_bytes * (1 - FRAGMENTATION_HEADROOM)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model_states"] = self.model_states
        d["total"] = self.total
        return d

    def describe(self) -> str:
        return (
            f"weights {self.weights / GIB:.2f} + grads {self.gradients / GIB:.2f}"
            f" + optimizer {self.optimizer / GIB:.2f}"
            f" + activations {self.activations / GIB:.2f} + buffers {self.buffers / GIB:.2f}"
            f" + overhead {self.overhead / GIB:.2f} = {self.total / GIB:.2f} GiB/GPU"
        )


def model_state_bytes_per_param(
    precision: str,
    zero_stage: int,
    num_gpus: int,
    offload_optimizer: bool = False,
    offload_params: bool = False,
    accounting: Accounting = "deepspeed",
) -> dict[str, float]:
    """GPU bytes per parameter for weights / gradients / optimizer, and bytes per parameter offloaded.

    Mixed precision (bf16/fp16): 2 + 2 + 12 (ZeRO paper, K = 12), +4 fp32 gradient partition under
    ``deepspeed``. fp32: 4 weights + 4 gradients + 8 Adam states (the course table without activations).
    """
    if precision == "int8":
        raise UserError(
            "int8 weights can be stored or served (1 byte per parameter) but not trained with Adam here; "
            "set precision to bf16 (mixed precision) or fp32"
        )
    if precision not in ("fp32", "bf16", "fp16"):
        raise UserError(f"unknown precision {precision!r}; use fp32, bf16 or fp16")
    if zero_stage not in (0, 1, 2, 3):
        raise UserError(f"ZeRO stage must be 0, 1, 2 or 3, got {zero_stage}")
    if num_gpus < 1:
        raise UserError(f"number of GPUs must be at least 1, got {num_gpus}")
    if offload_optimizer and zero_stage == 0:
        raise UserError("optimizer offload needs ZeRO stage 1, 2 or 3; raise zero_stage or turn offload off")
    if offload_params and (zero_stage != 3 or not offload_optimizer):
        raise UserError("parameter offload needs ZeRO stage 3 with optimizer offload on (DeepSpeed ZeRO-Infinity)")
    g = float(num_gpus)
    if precision == "fp32":
        w, gr, opt, grad32 = 4.0, 4.0, 8.0, 0.0
    else:
        w, gr, opt = 2.0, 2.0, 12.0
        grad32 = 4.0 if accounting == "deepspeed" else 0.0
    if accounting == "deepspeed" and zero_stage == 3 and precision != "fp32":
        gr = 0.0  # reduced straight into the fp32 partition (DeepSpeed's 18 bytes/param at stage 3)
    opt_total = opt + grad32
    gpu = {
        "weights": w / g if zero_stage >= 3 else w,
        "gradients": gr / g if zero_stage >= 2 else gr,
        "optimizer": opt_total / g if zero_stage >= 1 else opt_total,
    }
    offloaded = 0.0
    if offload_optimizer:
        # ZeRO-Offload keeps only the 16-bit weights on the GPU: gradients stream to the host as they
        # are reduced. DeepSpeed accumulates them straight into its fp32 gradient partition there
        # (16 host bytes/param); the ZeRO paper's accounting keeps the 16-bit gradients (2 + 12).
        offloaded += opt_total + (gr if accounting == "zero_paper" else 0.0)
        gpu["optimizer"] = 0.0
        gpu["gradients"] = 0.0
    if offload_params:
        offloaded += w
        gpu["weights"] = 0.0
    gpu["offloaded_total"] = offloaded
    return gpu


def saved_activation_bytes(shape: ModelShape, micro_batch: int, precision: str = "bf16",
                           checkpointing: bool = False, flash_attention: bool = True) -> int:
    """Bytes autograd saves for backward in one forward of a `transformers` Llama (with labels).

    Counted op by op for HF Llama (checked against `torch.autograd.graph.saved_tensors_hooks` in the
    tests), per token, b bytes per element:
    - each layer: b (6h + 2 h_kv + 4 d_ff) — normed inputs, rotated q and k, v, attention output,
      SwiGLU gate, act(gate), up and their product — plus the two RMSNorm inputs kept in fp32 (8h) and
      per-token fp32 scalars (RMSNorm rsqrt, attention log-sum-exp per head). This is Korthikanti et al.
      2022's 34 sbh bookkeeping redone for SwiGLU, RMSNorm and grouped-query attention.
    - eager attention (no fused kernel) instead keeps the fp32 softmax (4 a s), its 16-bit copy, and
      the repeated K/V heads of grouped-query attention.
    - outside the layers: the final RMSNorm (4h fp32 + 2 b h), rotary cos/sin (2 b head_dim), token ids
      (8) and the fp32 log-softmax of the loss (4 V).
    With activation checkpointing (HF `gradient_checkpointing_enable`) a layer keeps only its input (b h).
    """
    if micro_batch < 1:
        raise UserError(f"micro-batch size must be at least 1, got {micro_batch}")
    b = 4 if precision == "fp32" else 2
    h, f, s, a = shape.d_model, shape.d_ff, shape.seq_len, shape.n_heads
    h_kv = shape.n_kv_heads * shape.head_dim
    if checkpointing:
        per_layer = b * h
    else:
        per_layer = b * (6 * h + 2 * h_kv + 4 * f) + 8 * h + 8
        if flash_attention:
            per_layer += 4 * a
        else:
            per_layer += 4 * a * s + (b * a * s if b != 4 else 0)
            if 1 < shape.n_kv_heads < a:
                per_layer += 2 * b * (h - h_kv)
    rotary = 0 if checkpointing else 2 * b * shape.head_dim  # cos/sin enter checkpointed layers as inputs
    outside = 4 * h + 2 * b * h + rotary + 8 + 4 * shape.vocab_size
    return int(micro_batch * s * (shape.n_layers * per_layer + outside))


def activation_bytes(shape: ModelShape, micro_batch: int, precision: str = "bf16",
                     checkpointing: bool = True, flash_attention: bool = True) -> int:
    """Peak activation memory of one micro-batch: what is saved for backward, plus the transients of
    backward — the loss gradient w.r.t. the logits (fp32 and its 16-bit cast, (4 + b) V per token) and,
    with checkpointing, one layer's recomputed activations."""
    b = 4 if precision == "fp32" else 2
    saved = saved_activation_bytes(shape, micro_batch, precision, checkpointing, flash_attention)
    transient = micro_batch * shape.seq_len * (4 + b) * shape.vocab_size
    if checkpointing:
        one = ModelShape(1, shape.d_model, shape.n_heads, shape.n_kv_heads, shape.d_ff, 1, shape.seq_len)
        transient += saved_activation_bytes(one, micro_batch, precision, False, flash_attention) \
            - micro_batch * shape.seq_len * (4 * shape.d_model + 2 * b * shape.d_model + 2 * b * shape.head_dim + 12)
    return saved + transient


def estimate_memory(
    shape: ModelShape,
    *,
    precision: str = "bf16",
    zero_stage: int = 0,
    num_gpus: int = 1,
    gpus_per_node: int = 8,
    micro_batch: int = 1,
    activation_checkpointing: bool = True,
    flash_attention: bool = True,
    offload_optimizer: bool = False,
    offload_params: bool = False,
    accounting: Accounting = "deepspeed",
) -> MemoryEstimate:
    """Per-GPU memory of training `shape` with Adam under the given precision and ZeRO setup."""
    n = count_params(shape)
    per = model_state_bytes_per_param(precision, zero_stage, num_gpus, offload_optimizer, offload_params, accounting)
    buffers = 0.0
    largest = largest_layer_params(shape)
    if zero_stage == 3 and accounting == "deepspeed":
        buffers += 4 * largest  # DeepSpeed: the largest layer gathered (16-bit weight + its gradient)
    acts = activation_bytes(shape, micro_batch, precision, activation_checkpointing, flash_attention)
    # Host memory per node, following DeepSpeed's estimators: the larger of the offloaded partitions
    # held by this node and the fp32 copy each process loads (one layer at a time under ZeRO-3 init).
    per_node = min(gpus_per_node, num_gpus)
    nodes = max(1, math.ceil(num_gpus / gpus_per_node))
    load = 4 * (largest if zero_stage == 3 else n) * per_node
    host = HOST_BUFFER_FACTOR * max(load if not per["offloaded_total"] or zero_stage < 3 else 0,
                                    per["offloaded_total"] * n / nodes)
    return MemoryEstimate(
        weights=per["weights"] * n,
        gradients=per["gradients"] * n,
        optimizer=per["optimizer"] * n,
        activations=float(acts),
        buffers=float(buffers),
        overhead=float(FRAMEWORK_OVERHEAD_BYTES if accounting == "deepspeed" else 0),
        host=float(host),
        settings={
            "precision": precision, "zero_stage": zero_stage, "num_gpus": num_gpus, "micro_batch": micro_batch,
            "activation_checkpointing": activation_checkpointing, "flash_attention": flash_attention,
            "offload_optimizer": offload_optimizer, "offload_params": offload_params, "accounting": accounting,
            "n_params": n,
        },
    )


# Escalation order: partition more before moving states over PCIe (ZeRO-3 costs 1.5x communication,
# offload costs host bandwidth and CPU Adam time), parameter offload last.
OPTIONS: list[tuple[int, bool, bool]] = [
    (0, False, False), (1, False, False), (2, False, False), (3, False, False),
    (2, True, False), (3, True, False), (3, True, True),
]


def option_name(stage: int, offload_optimizer: bool, offload_params: bool) -> str:
    name = f"ZeRO-{stage}"
    if offload_params:
        return name + " + optimizer & parameter offload"
    return name + (" + optimizer offload" if offload_optimizer else "")


def host_memory_bytes() -> int | None:
    """This machine's physical memory (Linux, macOS), or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def recommend(shape: ModelShape, capacity_bytes: int, host_bytes: int | None = None,
              **kw) -> tuple[tuple[int, bool, bool] | None, MemoryEstimate]:
    """The lowest ZeRO stage (then offload) that fits `capacity_bytes` per GPU (and, offloading,
    `host_bytes` per node), and its estimate (or the last tried)."""
    est = None
    for stage, off_opt, off_par in OPTIONS:
        if stage > 0 and kw.get("num_gpus", 1) == 1 and not off_opt:
            continue  # partitioning over one GPU saves nothing
        est = estimate_memory(shape, zero_stage=stage, offload_optimizer=off_opt, offload_params=off_par, **kw)
        if est.fits(capacity_bytes, host_bytes):
            return (stage, off_opt, off_par), est
    assert est is not None
    return None, est


def fits_table(shape: ModelShape, gpus: list[str] | None = None, **kw) -> list[dict]:
    """For each known GPU: the recommended option and its per-GPU total, or that nothing fits."""
    rows = []
    for name in gpus or list(GPUS):
        spec = gpu_spec(name)
        option, est = recommend(shape, spec.memory_bytes, **kw)
        rows.append({
            "gpu": name, "capacity_gib": spec.memory_bytes / GIB, "fits": option is not None,
            "recommended": option_name(*option) if option else None,
            "zero_stage": option[0] if option else None,
            "offload_optimizer": option[1] if option else None, "offload_params": option[2] if option else None,
            "per_gpu_gib": est.total / GIB, "host_gib_per_node": est.host / GIB,
        })
    return rows


def check_fits(
    shape: ModelShape,
    *,
    gpu_memory_bytes: int | None = None,
    gpu_type: str | None = None,
    host_bytes: int | None = None,
    precision: str = "bf16",
    zero_stage: int = 0,
    num_gpus: int = 1,
    gpus_per_node: int = 8,
    micro_batch: int = 1,
    activation_checkpointing: bool = True,
    flash_attention: bool = True,
    offload_optimizer: bool = False,
    offload_params: bool = False,
) -> MemoryEstimate:
    """Estimate the configured run; raise UserError (with the option that would fit) if it cannot fit.

    GPU memory: `gpu_memory_bytes`, else a known `gpu_type`, else CUDA device 0's memory. Host memory
    (`host_bytes`, else this machine's): the offloaded states must fit it. Without CUDA and without a
    GPU type (a CPU run) everything lives in host memory, so the whole estimate is checked against it.
    Uses DeepSpeed's accounting, since the trainer runs DeepSpeed.
    """
    if gpu_memory_bytes is None and gpu_type is not None:
        gpu_memory_bytes = gpu_spec(gpu_type).memory_bytes
    if gpu_memory_bytes is None:
        import torch

        if torch.cuda.is_available():
            gpu_memory_bytes = torch.cuda.get_device_properties(0).total_memory
    if host_bytes is None:
        host_bytes = host_memory_bytes()
    kw = dict(precision=precision, num_gpus=num_gpus, gpus_per_node=gpus_per_node, micro_batch=micro_batch,
              activation_checkpointing=activation_checkpointing, flash_attention=flash_attention)
    est = estimate_memory(shape, zero_stage=zero_stage, offload_optimizer=offload_optimizer,
                          offload_params=offload_params, **kw)
    name = option_name(zero_stage, offload_optimizer, offload_params)
    n_b = est.settings["n_params"] / 1e9
    if gpu_memory_bytes is None:  # a CPU run: model states, activations and offloaded states share the host
        if host_bytes is None:
            return est
        per_node = min(gpus_per_node, num_gpus)
        need = (est.total - est.overhead) * per_node + (est.host if est.offloads else 0.0)  # no CUDA context
        if need <= host_bytes * (1 - FRAGMENTATION_HEADROOM):
            return est
        raise UserError(
            f"the model ({n_b:.3g}B parameters) does not fit this machine's memory: {name} on the CPU needs "
            f"~{need / GIB:.1f} GiB but {host_bytes * (1 - FRAGMENTATION_HEADROOM) / GIB:.1f} GiB of "
            f"{host_bytes / GIB:.1f} GiB is usable; use a smaller model (pretrain.model) or a machine with GPUs"
        )
    if est.fits(gpu_memory_bytes, host_bytes):
        return est
    usable = gpu_memory_bytes * (1 - FRAGMENTATION_HEADROOM) / GIB
    if est.total <= gpu_memory_bytes * (1 - FRAGMENTATION_HEADROOM):
        what = (f"the model ({n_b:.3g}B parameters) does not fit: {name} on {num_gpus} GPU(s) offloads "
                f"{est.host / GIB:.0f} GiB per node to host memory, but the host has {host_bytes / GIB:.0f} GiB")
    else:
        what = (f"the model ({n_b:.3g}B parameters) does not fit: {name} on {num_gpus} GPU(s) "
                f"needs {est.describe()}, but {usable:.1f} GiB of {gpu_memory_bytes / GIB:.1f} GiB per GPU is usable")
    option, better = recommend(shape, gpu_memory_bytes, host_bytes, **kw)
    raise UserError(f"{what}; {fix_hint(option, better, activation_checkpointing, micro_batch)}")


def fix_hint(option: tuple[int, bool, bool] | None, est: MemoryEstimate, activation_checkpointing: bool,
             micro_batch: int) -> str:
    """What to change: the lowest option that fits, or what else would help when none does."""
    if option is not None:
        return (f"use {option_name(*option)} (zero_stage={option[0]}, offload_optimizer={option[1]}, "
                f"offload_params={option[2]}; {est.total / GIB:.1f} GiB/GPU, host {est.host / GIB:.0f} GiB/node)")
    hints = []
    if not activation_checkpointing:
        hints.append("turn activation checkpointing on")
    if micro_batch > 1:
        hints.append("lower the micro-batch size")
    hints.append("add GPUs or use a smaller model")
    return "no ZeRO stage or offload fits; " + ", ".join(hints)
