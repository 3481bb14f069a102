"""Toy pre-training inputs for tests and bench/bench_trainer.py: a real byte-level BPE tokenizer, token
files and a mixture plan written with the stages' own writers, and a 2-layer d=64 config.

Like dapt.eval.tiny, it builds everything locally in a second and downloads nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dapt.pipeline.tokens.shards import write_token_file
from dapt.pretrain.config import ModelConfig, PretrainConfig
from dapt.pretrain.mixture import MixConfig, run_mix
from dapt.manifest import write_manifest

VOCAB, EOS, PAD = 256, 0, 1
SEQ = 32


def make_tokenizer(out: Path) -> Path:
    """A real byte-level BPE tokenizer (HF tokenizers) saved the way the tokenizer stage saves it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<|endoftext|>", "<|pad|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(["the court held that mens rea is required", "EBITDA rose in the quarter"] * 20, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>")
    fast.save_pretrained(str(out))
    write_manifest(out, {"vocab_size": tok.get_vocab_size(), "eos_id": EOS, "pad_id": PAD})
    return out


def make_tokens(root: Path, n_train: int = 6000, n_val: int = 800) -> Path:
    """Two domain and one general source of learnable documents (each an arithmetic run of ids)."""
    rng = np.random.default_rng(0)
    manifest = {"dtype": "uint16", "eos_id": EOS, "vocab_size": VOCAB, "sources": {}}
    for name, group, stride in (("legal", "domain", 1), ("fin", "domain", 3), ("web", "general", 7)):
        entry = {"group": group, "domain": "general" if group == "general" else "legal"}
        for split, n in (("train", n_train), ("val", n_val)):
            docs, total = [], 0
            while total < n:
                size = int(rng.integers(8, 60))
                start = int(rng.integers(2, VOCAB))
                docs.append(2 + (start + stride * np.arange(size)) % (VOCAB - 2))
                total += size + 1
            entry[f"{split}_tokens"], entry[f"{split}_docs"] = write_token_file(root / split / name, docs, "uint16", EOS)
        manifest["sources"][name] = entry
    write_manifest(root, manifest)
    return root


def make_inputs(tmp: Path, total_tokens: int = 20_000) -> dict[str, Path]:
    tokens = make_tokens(tmp / "tokens")
    run_mix(MixConfig(), tokens, tmp / "mix", total_tokens=total_tokens)
    return {"tokens_dir": tokens, "mix_path": tmp / "mix" / "mix.json", "tokenizer_dir": make_tokenizer(tmp / "tokenizer")}


def tiny_config(**overrides) -> PretrainConfig:
    base = {
        "model": ModelConfig(n_layers=2, d_model=64, n_heads=4, d_ff=128, seq_len=SEQ),
        "global_batch": 8, "micro_batch": 8, "lr": 3e-3, "warmup_fraction": 0.05,
        "eval_interval": 10, "eval_batches": 2, "log_interval": 1, "checkpoint_interval": 10,
        "tensorboard": False,
    }
    base.update(overrides)
    return PretrainConfig(**base)


def read_metrics(path: Path) -> list[dict]:
    """The rows of a run's metrics.jsonl."""
    return [json.loads(line) for line in path.read_text().splitlines()]
