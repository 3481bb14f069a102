"""Packed training sequences from token files, mixed at the planned shares (the trainer's data).

:class:`MixtureSampler` is a pure function of (plan, token files, seq_len, seed, k): sample ``k`` is
built without replaying samples ``0..k-1``, so a resumed run continues exactly where it stopped, and
data-parallel ranks each compute their own disjoint slice of every global batch.

* Blending: like Megatron-LM's ``build_blending_indices`` (helpers.cpp), each sample goes to a source
  lagging its target share, but with Tijdeman's deadline rule, which provably keeps every source
  within one sample of share * n over every prefix (Megatron's largest-error rule does not quite).
  The choice table depends on the shares only; it is built once per block of 65,536 samples (5 bytes
  per sample), like Megatron's cached blending index.
* Packing: a source's token file is one stream of documents separated by EOS; its chunk ``c`` is the
  ``seq_len + 1`` tokens starting at ``c * seq_len`` (wrapping round the end), chunks are shuffled per
  epoch with a seed derived from (seed, source name, epoch), and epochs follow each other.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dapt.errors import UserError
from pipeline.tokens.shards import TokenFile
from pretrain.mixture import MixConfig, MixturePlan, SourcePlan, effective_tokens, plan_mixture, run_mix

__all__ = [
    "MixConfig",
    "MixturePlan",
    "MixtureSampler",
    "SourcePlan",
    "blend_counts",
    "build_blend",
    "document_positions",
    "effective_tokens",
    "plan_mixture",
    "run_mix",
    "validation_batches",
]

_BLOCK = 1 << 16  # samples per growth step of the blending table


def build_blend(shares: np.ndarray, n: int, counts: np.ndarray | None = None, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Source of samples start..start+n-1 (Tijdeman's chairman assignment); returns (sources, counts after).

    ``counts`` are the per-source counts after ``start`` samples (zeros when start == 0); the choice
    for sample k depends only on them and k. Among the sources that are at least delta = 1/(2m-2)
    of a sample behind their target, take the one whose next sample is due first. Tijdeman (1980)
    proves |count_i(n) - share_i * n| <= 1 - delta < 1 for every prefix n; Megatron's plain
    "largest error first" rule drifts above one sample (measured 1.01 to 1.66 on random shares).
    """
    shares = np.asarray(shares, dtype=np.float64)
    w = [float(x) for x in shares / shares.sum()]
    c = [int(x) for x in (counts if counts is not None else np.zeros(len(w), dtype=np.int64))]
    m = len(w)
    delta = 1.0 / (2 * m - 2) if m > 1 else 0.5
    eligible = delta - 1e-9  # float slack; the theorem guarantees an eligible source exists
    out = np.empty(n, dtype=np.int32)
    rng = range(m)
    for t in range(n):
        k1 = start + t + 1  # samples after this one
        best, due = 0, float("inf")
        for i in rng:
            if w[i] * k1 - c[i] >= eligible:
                d = (c[i] + 1 - delta) / w[i]
                if d < due:
                    best, due = i, d
        if due == float("inf"):  # unreachable in exact arithmetic; fall back to the largest error
            best = max(rng, key=lambda i: w[i] * k1 - c[i])
        c[best] += 1
        out[t] = best
    return out, np.asarray(c, dtype=np.int64)


def blend_counts(sources: np.ndarray, m: int) -> np.ndarray:
    """Per-prefix counts [n, m] of a blending sequence (for checks and the share-error benchmark)."""
    onehot = np.zeros((len(sources), m), dtype=np.int64)
    onehot[np.arange(len(sources)), sources] = 1
    return np.cumsum(onehot, axis=0)


def document_positions(tokens: np.ndarray, eos_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Position ids restarting after every EOS, and document ids, for attention reset across documents.

    Works on [T] or [B, T]; a token belongs to the document its EOS closes (EOS ends a document).
    """
    tokens = np.asarray(tokens)
    squeeze = tokens.ndim == 1
    t2 = np.atleast_2d(tokens)
    n = t2.shape[1]
    starts = np.zeros(t2.shape, dtype=bool)
    starts[:, 0] = True
    starts[:, 1:] = t2[:, :-1] == eos_id
    idx = np.broadcast_to(np.arange(n), t2.shape)
    first = np.maximum.accumulate(np.where(starts, idx, 0), axis=1)
    positions = (idx - first).astype(np.int64)
    doc_ids = (np.cumsum(starts, axis=1) - 1).astype(np.int64)
    return (positions[0], doc_ids[0]) if squeeze else (positions, doc_ids)


class MixtureSampler:
    """Seekable, deterministic, exact-share stream of packed sequences of length seq_len + 1."""

    def __init__(self, plan: MixturePlan | str | Path, tokens_dir: str | Path, seq_len: int, seed: int = 0) -> None:
        if not isinstance(plan, MixturePlan):
            plan = MixturePlan.load(plan)
        if seq_len < 1:
            raise UserError(f"seq_len is {seq_len}; use a positive context length")
        self.plan, self.seq_len, self.seed = plan, int(seq_len), int(seed)
        self.sources = plan.active
        if not self.sources:
            raise UserError("the mixture plan has no source with a positive share; check mix.shares and mix.weights")
        self.tokens_dir = Path(tokens_dir)
        self.files: list[np.ndarray] = []
        self.n_chunks: list[int] = []
        for s in self.sources:
            try:
                tf = TokenFile(self.tokens_dir / "train" / s.name)
            except FileNotFoundError as exc:
                raise UserError(f"{exc}; the mix plan and {self.tokens_dir} disagree: rerun `dapt mix` on these tokens") from exc
            if tf.n_tokens < 2:
                raise UserError(f"source {s.name} has {tf.n_tokens} training tokens; give it weight 0 in mix.weights")
            self.files.append(tf.tokens)
            # Chunks start every seq_len tokens; the last one wraps round to the start, so no token is lost.
            self.n_chunks.append(max(1, -(-tf.n_tokens // self.seq_len)))
        self.shares = np.array([s.share for s in self.sources], dtype=np.float64)
        self._src = np.empty(0, dtype=np.int32)
        self._local = np.empty(0, dtype=np.int64)
        self._counts = np.zeros(len(self.sources), dtype=np.int64)
        self._perms: dict[int, tuple[int, np.ndarray]] = {}
        self._salts = [zlib.crc32(s.name.encode()) for s in self.sources]
        self.next_sample = 0  # samples consumed by batch(); what state_dict() records

    # -- blending ---------------------------------------------------------------------------------
    def _grow(self, k: int) -> None:
        """Extends the blending table (a function of the shares only) to cover sample k."""
        while k >= len(self._src):
            start = len(self._src)
            src, counts = build_blend(self.shares, _BLOCK, self._counts, start)
            # index of each sample within its source's stream: counts before the block + running rank
            local = np.empty(_BLOCK, dtype=np.int64)
            for i in range(len(self.sources)):
                mask = src == i
                local[mask] = self._counts[i] + np.arange(int(mask.sum()))
            self._src = np.concatenate([self._src, src])
            self._local = np.concatenate([self._local, local])
            self._counts = counts

    def source_of(self, k: int) -> int:
        """Index (into plan.active) of the source sample k is drawn from."""
        self._grow(k)
        return int(self._src[k])

    # -- packing ----------------------------------------------------------------------------------
    def _perm(self, i: int, epoch: int) -> np.ndarray:
        cached = self._perms.get(i)
        if cached is None or cached[0] != epoch:
            rng = np.random.default_rng([self.seed, self._salts[i], epoch])
            cached = (epoch, rng.permutation(self.n_chunks[i]))
            self._perms[i] = cached
        return cached[1]

    def _fill(self, k: int, out: np.ndarray) -> None:
        if k >= len(self._src):
            self._grow(k)
        i = self._src[k]
        epoch, c = divmod(int(self._local[k]), self.n_chunks[i])
        tokens = self.files[i]
        start = int(self._perm(i, epoch)[c]) * self.seq_len
        end = start + self.seq_len + 1
        if end <= tokens.shape[0]:
            out[:] = tokens[start:end]
        else:  # the last chunk of an epoch wraps round to the start of the stream
            out[:] = np.take(tokens, np.arange(start, end) % tokens.shape[0])

    def __getitem__(self, k: int) -> np.ndarray:
        if k < 0:
            raise IndexError(f"sample index {k} < 0")
        out = np.empty(self.seq_len + 1, dtype=np.int64)
        self._fill(int(k), out)
        return out

    def batch(self, step: int, global_batch: int, rank: int = 0, world: int = 1) -> np.ndarray:
        """This rank's rows of global batch ``step``: samples step*global_batch + rank*per + [0, per)."""
        if global_batch % world:
            raise UserError(f"global batch {global_batch} is not divisible by {world} data-parallel ranks; change the batch size")
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} outside 0..{world - 1}")
        per = global_batch // world
        first = step * global_batch + rank * per
        self._grow(first + per - 1)
        out = np.empty((per, self.seq_len + 1), dtype=np.int64)
        for r in range(per):
            self._fill(first + r, out[r])
        self.next_sample = (step + 1) * global_batch
        return out

    # -- resumable state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"next_sample": self.next_sample, "seed": self.seed, "seq_len": self.seq_len, "plan": self.plan.fingerprint()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, mine in (("seed", self.seed), ("seq_len", self.seq_len), ("plan", self.plan.fingerprint())):
            if state.get(key) != mine:
                raise UserError(
                    f"checkpoint's data sampler has {key}={state.get(key)!r} but this run has {mine!r}; "
                    "resume with the same mix plan, seq_len and seed, or start fresh"
                )
        self.next_sample = int(state["next_sample"])


def _val_sources(tokens_dir: Path, group: str) -> list[str]:
    path = tokens_dir / "manifest.json"
    if not path.is_file():
        raise UserError(f"no token manifest at {path}; run `dapt tokenize` first")
    sources = json.loads(path.read_text())["sources"]
    return sorted(n for n, s in sources.items() if s["group"] == group and int(s["val_tokens"]) > 0)


def validation_batches(
    tokens_dir: str | Path, group: str, seq_len: int, batch_size: int, max_batches: int | None = None
) -> Iterator[np.ndarray]:
    """Fixed validation batches [<= batch_size, seq_len + 1] (int64) of one group's held-out tokens.

    Non-overlapping windows of each source's val stream, taken round-robin over the group's sources
    (so a few batches already cover every source); the same batches on every call and every rank.
    """
    tokens_dir = Path(tokens_dir)
    names = _val_sources(tokens_dir, group)
    if not names:
        raise UserError(f"no validation tokens for group {group!r} in {tokens_dir}; raise tokenize.val_fraction or add {group} data")
    n = seq_len + 1
    windows: list[list[np.ndarray]] = []
    leftovers: list[np.ndarray] = []
    for name in names:
        tokens = TokenFile(tokens_dir / "val" / name).tokens
        k = (len(tokens) - 1) // seq_len if len(tokens) >= n else 0
        windows.append([tokens[j * seq_len : j * seq_len + n] for j in range(k)])
        if k == 0:
            leftovers.append(np.asarray(tokens))
    if leftovers:  # sources shorter than one window are read together
        joined = np.concatenate(leftovers)
        if len(joined) < n and not any(windows):
            joined = np.resize(joined, n)  # the whole group is shorter than a window: tile it
        k = (len(joined) - 1) // seq_len if len(joined) >= n else 0
        windows.append([joined[j * seq_len : j * seq_len + n] for j in range(k)])
    order = [w for level in range(max(map(len, windows))) for ws in windows if level < len(ws) for w in [ws[level]]]
    limit = len(order) if max_batches is None else min(len(order), max_batches * batch_size)
    for b in range(0, limit, batch_size):
        yield np.stack(order[b : min(b + batch_size, limit)]).astype(np.int64)
