"""DeepSpeed checkpoints written atomically, with the trainer's own state beside them, and the HF export.

Layout under ``<out_dir>/checkpoints``::

    step-00000120/            one DeepSpeed tag (model, optimizer partitions of every rank)
        trainer_state.json    step, tokens, data cursor, sampler, early-stopping and spike-guard state
        config.json           the resolved PretrainConfig
        rng-rank<r>.pt        Python, NumPy and torch RNG states of each rank, as plain tensors and numbers
    best/                     the best validation checkpoint (early stopping), same layout
    latest                    the name of the newest complete checkpoint

A checkpoint is written under ``.tmp-<tag>`` and renamed into place only when every rank has
finished, then ``latest`` is replaced (write-then-rename), so a crash during a save leaves the
previous checkpoint and its ``latest`` pointer intact.

Nothing dapt itself writes runs code when read: trainer state and config are JSON, and the RNG file
holds only tensors, ints and strings, read with ``torch.load(weights_only=True)``. DeepSpeed's own
model and optimizer files are full pickles (its loader calls ``torch.load(weights_only=False)``), so
resume only from checkpoint folders you wrote or trust; the exported ``hf/`` model is safetensors.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from dapt.errors import UserError

log = logging.getLogger(__name__)

LATEST = "latest"
BEST = "best"
TRAINER_STATE = "trainer_state.json"


def step_tag(step: int) -> str:
    return f"step-{step:08d}"


def _barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def rng_state() -> dict[str, Any]:
    """This process's RNG states as tensors, ints, floats and strings only (loadable with weights_only=True)."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python_version": int(version),
        "python_state": torch.tensor(mt, dtype=torch.int64),
        "python_gauss": gauss,
        "numpy_kind": str(kind),
        "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_pos": int(pos),
        "numpy_has_gauss": int(has_gauss),
        "numpy_cached_gaussian": float(cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate((state["python_version"], tuple(int(x) for x in state["python_state"].tolist()), state["python_gauss"]))
    np.random.set_state((state["numpy_kind"], state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"],
                         state["numpy_has_gauss"], state["numpy_cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def load_rng_state(path: Path) -> dict[str, Any]:
    """Reads an rng-rank<r>.pt without unpickling code: a file that needs more than tensors is refused."""
    try:
        return torch.load(path, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"{path} holds more than tensors and numbers ({first}); it was not written by this dapt version or was "
            f"tampered with: delete the checkpoint folder or start fresh (--fresh)"
        ) from None


def save_checkpoint(engine: Any, ckpt_dir: Path, tag: str, trainer_state: dict[str, Any], config: dict[str, Any],
                    rank: int, keep: int | None = None, update_latest: bool = True) -> Path:
    """Saves engine + trainer state as `tag` atomically; prunes periodic checkpoints beyond `keep`."""
    ckpt_dir = Path(ckpt_dir)
    tmp_tag = f".tmp-{tag}"
    if rank == 0:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(ckpt_dir / tmp_tag, ignore_errors=True)  # leftovers of a crashed save
    _barrier()
    engine.save_checkpoint(str(ckpt_dir), tag=tmp_tag, save_latest=False)
    tmp = ckpt_dir / tmp_tag
    torch.save(rng_state(), tmp / f"rng-rank{rank}.pt")
    if rank == 0:
        (tmp / TRAINER_STATE).write_text(json.dumps(trainer_state, indent=1))
        (tmp / "config.json").write_text(json.dumps(config, indent=1, default=str))
    _barrier()  # every rank's shards are on disk
    final = ckpt_dir / tag
    if rank == 0:
        if final.exists():
            old = ckpt_dir / f".old-{tag}"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        if update_latest:
            _write_atomic(ckpt_dir / LATEST, tag)
        if keep is not None:
            prune(ckpt_dir, keep)
    _barrier()
    return final


def prune(ckpt_dir: Path, keep: int) -> None:
    """Deletes all but the newest `keep` periodic checkpoints (never `best` nor the one `latest` names)."""
    latest = latest_tag(ckpt_dir)
    tags = sorted(p.name for p in ckpt_dir.glob("step-*") if p.is_dir())
    for name in tags[:-keep]:
        if name != latest:
            shutil.rmtree(ckpt_dir / name, ignore_errors=True)


def latest_tag(ckpt_dir: Path) -> str | None:
    path = Path(ckpt_dir) / LATEST
    if not path.is_file():
        return None
    tag = path.read_text().strip()
    return tag if tag and (Path(ckpt_dir) / tag / TRAINER_STATE).is_file() else None


def read_trainer_state(ckpt_dir: Path, tag: str) -> dict[str, Any]:
    return json.loads((Path(ckpt_dir) / tag / TRAINER_STATE).read_text())


def load_checkpoint(engine: Any, ckpt_dir: Path, tag: str, rank: int, world: int, module_only: bool = False) -> dict[str, Any]:
    """Restores engine (and, unless module_only, RNG) from `tag`; returns the trainer state."""
    state = read_trainer_state(ckpt_dir, tag)
    saved_world = int(state.get("world", world))
    if saved_world != world and not module_only:
        raise UserError(
            f"checkpoint {Path(ckpt_dir) / tag} was written by {saved_world} ranks but this run has {world}; "
            f"resume with {saved_world} ranks, or start fresh (--fresh) to retrain from scratch"
        )
    path, _ = engine.load_checkpoint(
        str(ckpt_dir), tag=tag, load_module_only=module_only,
        load_optimizer_states=not module_only, load_lr_scheduler_states=not module_only,
    )
    if path is None:
        raise UserError(f"DeepSpeed could not load checkpoint {Path(ckpt_dir) / tag}; delete it or start fresh (--fresh)")
    rng_file = Path(ckpt_dir) / tag / f"rng-rank{rank}.pt"
    if not module_only and rng_file.is_file():
        set_rng_state(load_rng_state(rng_file))
    return state


# Keys of the pretrain config that may change when a run resumes: they change what is logged, saved or
# when the loop pauses, never the trajectory (the schedule depends on token_target, not on max_steps).
RESUMABLE_KEYS = frozenset({"pretrain.log_interval", "pretrain.checkpoint_interval", "pretrain.keep_checkpoints",
                            "pretrain.tensorboard", "pretrain.max_steps"})


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: tree}


def config_changes(ckpt_dir: Path, tag: str, config: dict[str, Any]) -> list[str]:
    """The training-relevant keys whose value differs from the config that wrote checkpoint `tag`,
    as "key old -> new" (empty: the same run, safe to resume). Compares the keys of `config` only."""
    path = Path(ckpt_dir) / tag / "config.json"
    if not path.is_file():
        return ["config.json missing"]
    saved = _flatten(json.loads(path.read_text()))
    now = _flatten(json.loads(json.dumps(config, default=str)))
    return [f"{k} {saved.get(k, '(unset)')} -> {v}" for k, v in sorted(now.items())
            if k not in RESUMABLE_KEYS and saved.get(k) != v]


def set_aside(ckpt_dir: Path, tag: str) -> Path:
    """Moves a stale checkpoints folder to checkpoints.stale-<tag>[-N] (kept, never deleted); returns it."""
    ckpt_dir = Path(ckpt_dir)
    target = ckpt_dir.with_name(f"{ckpt_dir.name}.stale-{tag}")
    n = 1
    while target.exists():
        n += 1
        target = ckpt_dir.with_name(f"{ckpt_dir.name}.stale-{tag}-{n}")
    os.replace(ckpt_dir, target)
    return target


def resumable_tag(ckpt_dir: Path, training: dict[str, Any], fresh: bool, rank: int) -> str | None:
    """The checkpoint to resume from, if any; under `fresh`, rank 0 first sets the old ones aside (kept)."""
    if fresh:
        metrics = ckpt_dir.parent / "metrics.jsonl"
        if rank == 0 and ckpt_dir.is_dir():
            moved = set_aside(ckpt_dir, latest_tag(ckpt_dir) or "incomplete")
            if metrics.is_file():  # the old run's curve stays with its checkpoints, out of the new one's
                metrics.replace(moved / "metrics.jsonl")
            log.warning("fresh start: the previous checkpoints are kept in %s", moved)
        if rank == 0:
            metrics.unlink(missing_ok=True)  # a curve with no checkpoint left: nothing to keep it with
        _barrier()  # no rank looks for a checkpoint while rank 0 is still moving them
        return None
    tag = latest_tag(ckpt_dir)
    changes = config_changes(ckpt_dir, tag, training) if tag is not None else []
    if changes:
        raise UserError(
            f"{ckpt_dir / tag} was trained with another config ({'; '.join(changes)}); resuming would continue "
            f"that run, not train this one: pass --fresh to set its checkpoints aside and train from scratch, "
            f"or restore the old values to resume it"
        )
    return tag


def export_hf(engine: Any, hf_dir: Path, tokenizer_dir: Path, rank: int) -> None:
    """save_pretrained + tokenizer; ZeRO-3 shards are gathered into one 16-bit state dict on rank 0.

    Both are written so transformers 4.x and 5.x load them (`portable_model_config`, `save_portable`).
    """
    from transformers import AutoTokenizer

    from dapt.tokenizer.train import save_portable

    module = engine.module
    if engine.zero_optimization_stage() == 3:
        state_dict = engine._zero3_consolidated_16bit_state_dict()  # collective: every rank calls it
    else:
        state_dict = module.state_dict()
    if rank == 0:
        hf_dir.mkdir(parents=True, exist_ok=True)
        module.config.use_cache = True
        module.save_pretrained(str(hf_dir), state_dict=state_dict, safe_serialization=True)
        module.config.use_cache = False
        portable_model_config(hf_dir / "config.json")
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        if tok.eos_token is not None and tok.bos_token != tok.eos_token:
            # The model saw EOS before every training document (the token files' only boundary) and no
            # other BOS; lm-eval puts the tokenizer's BOS before each window (tokenizer folders saved
            # before BOS became the boundary name "<s>", which never occurs in training).
            tok.bos_token = tok.eos_token
        # The context length is stated once, as the model's seq_len (max_position_embeddings); the
        # tokenizer beside the model says the same.
        tok.model_max_length = module.config.max_position_embeddings
        save_portable(tok, hf_dir)
    _barrier()


def portable_model_config(path: Path) -> None:
    """Adds the 4.x spellings of what transformers 5 writes under new names to a saved config.json.

    5.x nests the RoPE base in "rope_parameters" and writes "dtype"; 4.x reads the top-level
    "rope_theta" (silently defaulting to 10,000 without it) and "torch_dtype". 5.x accepts both.
    """
    config = json.loads(path.read_text())
    rope = config.get("rope_parameters") or {}
    if "rope_theta" in rope and rope.get("rope_type", "default") == "default":
        config.setdefault("rope_theta", rope["rope_theta"])
    if "dtype" in config:
        config.setdefault("torch_dtype", config["dtype"])
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
