"""What the trainer writes as it goes: metrics.jsonl (and TensorBoard) on rank 0, the progress bar, the
interval log line with throughput and MFU, and the loss plot at the end."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from dapt.pretrain.validation import GROUPS
from dapt.summary import strict_json

log = logging.getLogger(__name__)


def memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    except ImportError:
        return float("nan")


class MetricsLog:
    """One per run: records, warnings and the interval line on rank 0; tok/s over the window since the last line.

    `flops_per_token_peak` is FLOPs per token / (peak FLOP/s of all devices), None where the peak is unknown.
    """

    def __init__(self, out_dir: Path, rank: int, tensorboard: bool, token_target: int, tokens: int,
                 device: torch.device, flops_per_token_peak: float | None) -> None:
        from tqdm import tqdm

        self.rank, self.device, self.mfu_scale = rank, device, flops_per_token_peak
        self.file = open(out_dir / "metrics.jsonl", "a") if rank == 0 else None  # noqa: SIM115 - closed in close()
        self.tb = None
        if rank == 0 and tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out_dir / "tensorboard"))
        self.token_target = token_target
        self.bar = tqdm(total=token_target, initial=min(tokens, token_target), unit="tok", unit_scale=True,
                        desc="pretrain", disable=rank != 0, dynamic_ncols=True)
        self.window_t, self.window_tokens = time.perf_counter(), 0

    def emit(self, record: dict[str, Any]) -> None:
        if self.file is not None:
            self.file.write(json.dumps(strict_json(record)) + "\n")  # a NaN loss is null, never bare NaN
            self.file.flush()
        if self.tb is not None and "step" in record:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k != "step" and v is not None and math.isfinite(v):
                    self.tb.add_scalar(k.replace(".", "/"), v, record["step"])

    def warn(self, msg: str, *args: Any) -> None:
        if self.rank == 0:
            log.warning(msg, *args)

    def info(self, msg: str, *args: Any) -> None:
        if self.rank == 0:
            log.info(msg, *args)

    def advance(self, tokens: int, step_tokens: int) -> None:
        """A step was taken: `tokens` seen in all, `step_tokens` of them by this step."""
        self.bar.update(min(tokens, self.token_target) - self.bar.n)
        self.window_tokens += step_tokens

    def interval(self, step: int, loss: float, lr: float, grad_norm: float | None, tokens: int, batch: int) -> None:
        """The interval record and line (`step 120 | loss 3.21 | lr 2.9e-4 | ...`); starts a new window."""
        elapsed = time.perf_counter() - self.window_t
        tok_s = self.window_tokens / elapsed if elapsed > 0 else float("nan")
        mfu = tok_s * self.mfu_scale if self.mfu_scale else None
        record = {"step": step, "loss": loss, "lr": lr, "grad_norm": grad_norm, "tokens": tokens,
                  "tok_s": tok_s, "mfu": mfu, "mem_gib": memory_gib(self.device), "batch": batch}
        self.emit(record)
        self.info("step %d | loss %.4f | lr %.2e | grad-norm %s | tokens %d | tok/s %.0f | MFU %s | mem %.2f GiB",
                  step, loss, lr, f"{grad_norm:.3f}" if grad_norm is not None else "n/a", tokens,
                  tok_s, f"{100 * mfu:.1f}%" if mfu is not None else "n/a", record["mem_gib"])
        self.window_t, self.window_tokens = time.perf_counter(), 0

    def close(self) -> None:
        self.bar.close()
        if self.file is not None:
            self.file.close()
        if self.tb is not None:
            self.tb.close()


def plot_losses(metrics_path: Path, png: Path, stop_step: int, stop_reason: str | None) -> None:
    """Train and validation losses against steps, the stop point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, val = [], {g: [] for g in GROUPS}
    for line in metrics_path.read_text().splitlines():
        r = json.loads(line)
        if "loss" in r and "event" not in r:
            train.append((r["step"], r["loss"]))
        for g in GROUPS:
            if f"val.{g}" in r:
                val[g].append((r["step"], r[f"val.{g}"]))
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="train", lw=1)
    for g, pts in val.items():
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, label=f"val {g}")
    ax.axvline(stop_step, color="k", ls="--", lw=1, label=f"stop ({stop_reason})")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
