"""Validation during pre-training: fixed held-out batches per group, their loss, and the monitored value.

Every rank runs the same batches and all-reduces, so early stopping decides the same everywhere.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dapt.errors import UserError

log = logging.getLogger(__name__)
GROUPS = ("domain", "general")


def validation_sets(tokens_dir: Path, seq_len: int, batch_size: int, max_batches: int) -> dict[str, list[torch.Tensor]]:
    from dapt.pretrain.data import validation_batches

    sets: dict[str, list[torch.Tensor]] = {}
    for group in GROUPS:
        try:
            sets[group] = [torch.from_numpy(b) for b in validation_batches(tokens_dir, group, seq_len, batch_size, max_batches)]
        except UserError as exc:  # e.g. a general-only run with no domain held-out tokens
            log.warning("no %s validation: %s", group, exc)
    if not sets:
        raise UserError(f"no validation tokens in {tokens_dir}; raise tokenize.val_fraction")
    return sets


def next_token_loss(engine: Any, batch: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of a [B, seq_len + 1] batch (inputs = [:-1], targets = [1:])."""
    logits = engine(input_ids=batch[:, :-1]).logits
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))


def all_mean(value: torch.Tensor, world: int) -> float:
    """The mean over ranks (NaN anywhere gives NaN everywhere, so every rank decides the same)."""
    import torch.distributed as dist

    value = value.detach().float().reshape(1).clone()
    if world > 1:
        dist.all_reduce(value)
        value /= world
    return float(value.item())


@torch.no_grad()
def evaluate(engine: Any, sets: dict[str, list[torch.Tensor]], device: torch.device, world: int) -> dict[str, float]:
    """Validation loss per group (token-weighted mean over the fixed batches; every rank runs them)."""
    engine.eval()
    out = {}
    for group, batches in sets.items():
        total, n = 0.0, 0
        for b in batches:
            b = b.to(device)
            total += float(next_token_loss(engine, b)) * b[:, 1:].numel()
            n += b[:, 1:].numel()
        out[group] = all_mean(torch.tensor(total / n), world)
    engine.train()
    return out


def monitored(val: dict[str, float], monitor: str) -> float:
    if monitor == "mean" or monitor not in val:
        return float(np.mean(list(val.values())))
    return val[monitor]
