"""Everything DeepSpeed needs before the loop: the process group, the precision, the DeepSpeed config
(built once from ours, or a user's JSON checked against ours) and the optimizer it wraps."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

import torch

from dapt.errors import UserError
from dapt.pretrain.config import PretrainConfig

log = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_distributed() -> tuple[int, int, int]:
    """(rank, world, local_rank) from the launcher's environment; a 1-process group when there is none.

    Reuses a process group that already exists (`dapt run` trains two models in one process).
    """
    import deepspeed
    import torch.distributed as dist

    if not dist.is_initialized():
        if "WORLD_SIZE" not in os.environ:  # plain `python`: a single-process group on a free port
            os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29500")
        os.environ.setdefault("LOCAL_RANK", os.environ.get("RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo")
    else:
        deepspeed.init_distributed()  # wraps the existing group; no new rendezvous
    return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank()))


def resolve_precision(requested: str) -> str:
    """auto: bf16 where the GPU supports it, fp16 (dynamic loss scaling) on older GPUs, fp32 on CPU."""
    if not torch.cuda.is_available():
        if requested in ("bf16", "fp16"):
            log.warning("precision %s asked for but there is no GPU; training in fp32 on the CPU", requested)
        return "fp32"
    if requested == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return requested


def deepspeed_config(cfg: PretrainConfig, world: int, precision: str) -> dict[str, Any]:
    """The DeepSpeed config built from ours (or the user's JSON with its "auto" values filled in)."""
    if cfg.global_batch % (cfg.micro_batch * world):
        raise UserError(
            f"pretrain.global_batch={cfg.global_batch} is not a multiple of micro_batch x ranks = "
            f"{cfg.micro_batch} x {world}; change global_batch or micro_batch"
        )
    zero: dict[str, Any] = {"stage": cfg.zero_stage}
    if cfg.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": torch.cuda.is_available()}
    if cfg.offload_params:
        zero["offload_param"] = {"device": "cpu", "pin_memory": torch.cuda.is_available()}
    if cfg.zero_stage == 3:
        # gather the full 16-bit weights on save so the HF export needs no zero_to_fp32 pass
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    ours: dict[str, Any] = {
        "train_batch_size": cfg.global_batch,
        "train_micro_batch_size_per_gpu": cfg.micro_batch,
        "gradient_accumulation_steps": cfg.global_batch // (cfg.micro_batch * world),
        "gradient_clipping": cfg.grad_clip,
        "optimizer": {
            "type": "AdamW",
            "params": {"lr": cfg.lr, "betas": list(cfg.betas), "eps": cfg.eps, "weight_decay": cfg.weight_decay},
        },
        "zero_optimization": zero,
        "bf16": {"enabled": precision == "bf16"},
        # fp16: loss_scale 0 = dynamic loss scaling (Micikevicius et al. 2018), DeepSpeed's default window
        "fp16": {"enabled": precision == "fp16", "loss_scale": 0, "initial_scale_power": 16},
        "steps_per_print": 1 << 30,  # we log ourselves
        "wall_clock_breakdown": False,
    }
    if cfg.deepspeed_config is None:
        return ours
    path = Path(cfg.deepspeed_config)
    if not path.is_file():
        raise UserError(f"pretrain.deepspeed_config: {path} not found; give an existing DeepSpeed JSON or remove the key")
    try:
        user = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"pretrain.deepspeed_config: {path} is not valid JSON ({exc}); fix the file") from exc
    return merge_user_config(user, ours, path)


def merge_user_config(user: dict[str, Any], ours: dict[str, Any], path: Path | str) -> dict[str, Any]:
    """Fills the user's "auto" (or missing) batch, lr and optimizer values from ours; refuses conflicts."""
    merged = dict(user)
    for key in ("train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping"):
        if merged.get(key, "auto") == "auto":
            merged[key] = ours[key]
        elif merged[key] != ours[key]:
            raise UserError(
                f"{path}: {key}={merged[key]} disagrees with the pretrain config ({ours[key]}); "
                f'write "auto" there (the batch size and learning rate are set once, in the pretrain config)'
            )
    opt = merged.setdefault("optimizer", {"type": "AdamW", "params": {}})
    params = opt.setdefault("params", {})
    for key, value in ours["optimizer"]["params"].items():
        if params.get(key, "auto") == "auto":
            params[key] = value
        elif key == "lr" and params[key] != value:
            raise UserError(f'{path}: optimizer lr={params[key]} disagrees with pretrain.lr={value}; write "auto" there')
    if "scheduler" in merged:
        raise UserError(f"{path}: remove the scheduler section; the trainer sets the learning rate (warm-up + cosine) itself")
    if merged.get("managed_gradient_accumulation", True) is not True:
        raise UserError(f"{path}: remove managed_gradient_accumulation; the trainer marks each batch's last micro-batch itself")
    for key in ("zero_optimization", "bf16", "fp16", "steps_per_print"):
        merged.setdefault(key, ours[key])
    for key in ("bf16", "fp16"):  # "enabled": "auto" follows pretrain.precision
        if merged[key].get("enabled") == "auto":
            merged[key] = {**merged[key], "enabled": ours[key]["enabled"]}
    return merged


def optimizer_args(ds_config: dict[str, Any], model: torch.nn.Module, weight_decay: float) -> dict[str, Any]:
    """deepspeed.initialize arguments: our own torch AdamW, unless the optimizer state is offloaded.

    torch's AdamW (fused on CUDA) is bit-reproducible across processes, which exact resume needs;
    DeepSpeed's CPU FusedAdam is not (its results shift by an ulp with memory alignment). ZeRO-Offload
    needs DeepSpeed's CPU Adam, built by DeepSpeed from the config's "optimizer" section.
    """
    groups = param_groups(model, weight_decay)
    zero = ds_config.get("zero_optimization", {})
    section = ds_config.get("optimizer", {})
    if zero.get("offload_optimizer") or section.get("type", "AdamW").lower() not in ("adamw", "adam"):
        return {"model_parameters": groups, "config": ds_config}
    params = section.get("params", {})
    config = {k: v for k, v in ds_config.items() if k != "optimizer"} | {"zero_allow_untested_optimizer": True}
    adam_w = section.get("type", "AdamW").lower() == "adamw" or params.get("adam_w_mode", False)
    opt_cls = torch.optim.AdamW if adam_w else torch.optim.Adam
    optimizer = opt_cls(groups, lr=params["lr"], betas=tuple(params.get("betas", (0.9, 0.999))), eps=params.get("eps", 1e-8),
                        weight_decay=params.get("weight_decay", 0.0), fused=torch.cuda.is_available())
    return {"optimizer": optimizer, "config": config}


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices only; norms (1-D) are not decayed (nanoGPT, Llama)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    other = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}]


def shard_sizes(engine: Any, optimizer: Any, world: int) -> dict[str, list[int]]:
    """Per rank: optimizer-state and parameter elements held locally (what ZeRO partitions)."""
    import torch.distributed as dist

    inner = getattr(optimizer, "optimizer", optimizer)  # ZeRO wraps the torch optimizer of its fp32 partitions
    opt = sum(t.numel() for st in inner.state.values() for t in st.values() if torch.is_tensor(t) and t.dim() > 0)
    params = sum(p.ds_tensor.numel() if hasattr(p, "ds_tensor") else p.numel() for p in engine.module.parameters())
    mine = [int(opt), int(params)]
    everyone: list[Any] = [mine] * world
    if world > 1:
        dist.all_gather_object(everyone, mine)
    return {"optimizer_state_numel": [e[0] for e in everyone], "param_numel": [e[1] for e in everyone]}
