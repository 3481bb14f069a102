"""Learning-rate and batch-size schedules as pure functions of the tokens seen so far.

Laid out over tokens rather than steps so that the schedule follows the planned token budget
whatever the batch size (and a batch-size warm-up does not stretch it).
"""

from __future__ import annotations

import math


def lr_at(tokens: int, peak: float, warmup_tokens: int, total_tokens: int, min_ratio: float = 0.1) -> float:
    """Linear warm-up to `peak`, then cosine decay to min_ratio x peak at `total_tokens` (nanoGPT get_lr)."""
    if warmup_tokens > 0 and tokens < warmup_tokens:
        return peak * (tokens + 1) / (warmup_tokens + 1)
    if tokens >= total_tokens:
        return peak * min_ratio
    progress = (tokens - warmup_tokens) / max(1, total_tokens - warmup_tokens)
    coeff = 0.5 * (1.0 + math.cos(math.pi * progress))  # 1 -> 0
    return peak * (min_ratio + coeff * (1.0 - min_ratio))


def batch_at(tokens: int, start: int, full: int, warmup_tokens: int, unit: int) -> int:
    """Global batch (sequences) during a linear batch-size warm-up (GPT-3 §B), a multiple of `unit`.

    `unit` is micro_batch x ranks: DeepSpeed can only change the number of accumulated micro-batches.
    """
    if warmup_tokens <= 0 or tokens >= warmup_tokens:
        return full
    size = start + (full - start) * tokens / warmup_tokens
    return int(min(full, max(unit, unit * math.floor(size / unit))))
