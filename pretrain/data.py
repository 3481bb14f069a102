"""Packed training sequences from token files, mixed at the planned shares (the trainer's data).

:class:`MixtureSampler` is a pure function of (plan, token files, seq_len, seed, k): sample ``k`` is
built without reading samples ``0..k-1``, so a resumed run continues exactly where it stopped, and
data-parallel ranks each compute their own disjoint slice of every global batch. (Its only
sequential part is the blending table: which source each sample comes from, 3 bytes and about
1-3 microseconds per sample, extended up to ``k`` on first use.)

* Blending: like Megatron-LM's ``build_blending_indices`` (helpers.cpp), each sample goes to a source
  lagging its target share, but with Tijdeman's deadline rule, which provably keeps every source
  within one sample of share * n over every prefix (Megatron's largest-error rule does not quite).
  The choice table depends on the shares only; it is built in blocks (4,096 samples, doubling to
  65,536) as the stream advances, like Megatron's cached blending index.
* Packing: a source's token file is one stream of documents separated by EOS; its chunk ``c`` is the
  ``seq_len + 1`` tokens starting at ``c * seq_len`` (wrapping round the end), chunks are shuffled per
  epoch with a seed derived from (seed, source name, epoch), and epochs follow each other.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dapt.errors import UserError
from dapt.pipeline.tokens.shards import TokenFile
from dapt.pretrain.mixture import MixConfig, MixturePlan, SourcePlan, effective_tokens, plan_mixture, run_mix
from dapt.manifest import read_manifest

__all__ = [
    "MixConfig",
    "MixturePlan",
    "MixtureSampler",
    "SourcePlan",
    "blend_counts",
    "build_blend",
    "effective_tokens",
    "plan_mixture",
    "run_mix",
    "validation_batches",
]

_BLOCK = 1 << 16  # samples per growth step of the blending table (after doubling from 4,096)


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
    slack = 1e-9  # float slack on eligibility; the theorem guarantees an eligible source exists
    # Source i is eligible at sample k (1-based) once w_i*k - c_i >= delta, i.e. k >= release_i,
    # and its next sample is due at (c_i + 1 - delta) / w_i. Only the chosen source's times change,
    # so two heaps (waiting by release, eligible by due time) make each step O(log m).
    waiting = [((c[i] + delta - slack) / w[i], i) for i in range(m) if w[i] > 0]
    heapq.heapify(waiting)
    ready: list[tuple[float, int]] = []
    out = np.empty(n, dtype=np.int32)
    for t in range(n):
        k1 = start + t + 1
        while waiting and waiting[0][0] <= k1:
            i = heapq.heappop(waiting)[1]
            heapq.heappush(ready, ((c[i] + 1 - delta) / w[i], i))
        if ready:
            i = heapq.heappop(ready)[1]
        else:  # unreachable in exact arithmetic: take the source closest to eligible
            i = heapq.heappop(waiting)[1]
        c[i] += 1
        heapq.heappush(waiting, ((c[i] + delta - slack) / w[i], i))
        out[t] = i
    return out, np.asarray(c, dtype=np.int64)


def blend_counts(sources: np.ndarray, m: int) -> np.ndarray:
    """Per-prefix counts [n, m] of a blending sequence (for checks and the share-error benchmark)."""
    onehot = np.zeros((len(sources), m), dtype=np.int64)
    onehot[np.arange(len(sources)), sources] = 1
    return np.cumsum(onehot, axis=0)


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
        self._n_chunks_arr = np.asarray(self.n_chunks, dtype=np.int64)
        width = self.seq_len + 1
        self._windows = [
            np.lib.stride_tricks.sliding_window_view(t, width) if t.shape[0] >= width else None for t in self.files
        ]
        self.shares = np.array([s.share for s in self.sources], dtype=np.float64)
        # The blending table, 3 bytes per sample: source of sample k, and its rank among its source's
        # samples inside its block; a block's per-source counts before it give the rest of the index.
        self._n = 0
        self._src = np.empty(0, dtype=np.uint8 if len(self.sources) < 256 else np.uint16)
        self._rank = np.empty(0, dtype=np.uint16)
        self._starts = np.empty(0, dtype=np.int64)
        self._bases = np.empty((0, len(self.sources)), dtype=np.int64)
        self._counts = np.zeros(len(self.sources), dtype=np.int64)
        self._perms: dict[int, tuple[int, np.ndarray]] = {}
        self._salts = [zlib.crc32(s.name.encode()) for s in self.sources]
        self.next_sample = 0  # samples consumed by batch(); what state_dict() records

    # -- blending ---------------------------------------------------------------------------------
    def _grow(self, k: int) -> None:
        """Extends the blending table (a function of the shares only) to cover sample k."""
        while k >= self._n:
            start = self._n
            block = min(_BLOCK, max(4096, start))  # small plans and tests need only a small table
            src, counts = build_blend(self.shares, block, self._counts, start)
            rank = np.empty(block, dtype=np.uint16)  # block <= 65,536 samples
            for i in range(len(self.sources)):
                mask = src == i
                rank[mask] = np.arange(int(mask.sum()))
            if start + block > len(self._src):  # grow the buffers by doubling: O(1) amortised per sample
                cap = max(2 * len(self._src), start + block)
                self._src = np.concatenate([self._src[:start], np.empty(cap - start, dtype=self._src.dtype)])
                self._rank = np.concatenate([self._rank[:start], np.empty(cap - start, dtype=np.uint16)])
            self._src[start : start + block] = src
            self._rank[start : start + block] = rank
            self._starts = np.append(self._starts, start)
            self._bases = np.vstack([self._bases, self._counts])
            self._counts = counts
            self._n = start + block

    def _locals(self, first: int, n: int, srcs: np.ndarray) -> np.ndarray:
        """Index of samples first..first+n-1 within their sources' streams."""
        ks = np.arange(first, first + n)
        blocks = np.searchsorted(self._starts, ks, side="right") - 1
        return self._bases[blocks, srcs] + self._rank[first : first + n]

    def source_of(self, k: int) -> int:
        """Index (into plan.active) of the source sample k is drawn from."""
        self._grow(k)
        return int(self._src[k])

    # -- packing ----------------------------------------------------------------------------------
    def _perm(self, i: int, epoch: int) -> np.ndarray:
        """Chunk order of source i in an epoch (the latest epoch per source is cached)."""
        cached = self._perms.get(i)
        if cached is None or cached[0] != epoch:
            rng = np.random.default_rng([self.seed, self._salts[i], epoch])
            cached = (epoch, rng.permutation(self.n_chunks[i]))
            self._perms[i] = cached
        return cached[1]

    def _fill_rows(self, first: int, out: np.ndarray) -> None:
        """Writes samples first, first+1, ... into the rows of out (the hot loop of training input).

        Vectorised per (source, epoch) run of the batch: the windows of a source are rows of a
        sliding-window view of its memory map, so one fancy index copies them all (uint -> int64).
        """
        n = out.shape[0]
        if first + n > self._n:
            self._grow(first + n - 1)
        srcs = self._src[first : first + n].astype(np.int64)
        locs = self._locals(first, n, srcs)
        epochs, chunks = np.divmod(locs, self._n_chunks_arr[srcs])
        keys = srcs << 40 | epochs
        for key in np.unique(keys):
            rows = np.flatnonzero(keys == key)
            i, epoch = int(key >> 40), int(key & ((1 << 40) - 1))
            starts = self._perm(i, epoch)[chunks[rows]] * self.seq_len
            windows = self._windows[i]
            fits = starts < (len(windows) if windows is not None else 0)
            if fits.any():
                out[rows[fits]] = windows[starts[fits]]
            if fits.all():
                continue
            tokens = self.files[i]
            for r, start in zip(rows[~fits], starts[~fits]):  # the last chunk of an epoch wraps round
                out[r] = np.take(tokens, np.arange(start, start + self.seq_len + 1) % tokens.shape[0])

    def __getitem__(self, k: int) -> np.ndarray:
        if k < 0:
            raise IndexError(f"sample index {k} < 0")
        out = np.empty((1, self.seq_len + 1), dtype=np.int64)
        self._fill_rows(int(k), out)
        return out[0]

    def batch(self, step: int, global_batch: int, rank: int = 0, world: int = 1) -> np.ndarray:
        """This rank's rows of global batch ``step``: samples step*global_batch + rank*per + [0, per)."""
        if global_batch % world:
            raise UserError(f"global batch {global_batch} is not divisible by {world} data-parallel ranks; change the batch size")
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} outside 0..{world - 1}")
        per = global_batch // world
        first = step * global_batch + rank * per
        out = np.empty((per, self.seq_len + 1), dtype=np.int64)
        self._fill_rows(first, out)
        self.next_sample = (step + 1) * global_batch
        return out

    def epochs_read(self, n_samples: int | None = None) -> dict[str, float]:
        """How many epochs of each source the first n samples (default: those consumed) have read."""
        n = self.next_sample if n_samples is None else int(n_samples)
        if n > 0:
            self._grow(n - 1)
        counts = np.bincount(self._src[:n], minlength=len(self.sources))
        return {s.name: float(counts[i] / self.n_chunks[i]) for i, s in enumerate(self.sources)}

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
    sources = read_manifest(tokens_dir, "run `dapt tokenize` first")["sources"]
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
