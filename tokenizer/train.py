"""Train the domain tokenizer with HF `tokenizers` on a mixture sample of the curated documents.

The sample is drawn in two streaming passes over the shards. The first counts UTF-8 bytes per domain
and gives every document a stable hash key; per mixture group it finds the key threshold under which
the documents add up to the group's share of the sample (BloombergGPT §2: 51% domain / 49% general,
here by bytes). The second pass hands the documents under their group's threshold to the trainer as a
generator of batches, so the corpus is never held in memory and the sample is the same on every run.
Models: byte-level BPE (GPT-2 style, the default) or Unigram (BloombergGPT's choice) over the same
byte-level pre-tokenizer, so every string round-trips exactly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from tqdm import tqdm

from dapt.errors import UserError
from dapt.pipeline.documents import DOMAINS, Document, iter_documents, sha256_of, shard_paths
from dapt.pipeline.storage import Location, local_copy
from dapt.tokenizer.config import TokenizerConfig
from dapt.manifest import write_manifest

log = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
RESERVED = "<|reserved_{}|>"


def group_of(domain: str) -> str:
    """The mixture group of a domain: general text is one group, every specialised domain the other."""
    return "general" if domain == "general" else "domain"


def validated(cfg: TokenizerConfig) -> TokenizerConfig:
    """Re-validates a config (it may have been built with model_construct or mutated) as a UserError."""
    try:
        return TokenizerConfig.model_validate(cfg.model_dump())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "tokenizer"
        raise UserError(f"tokenizer config: {where}: {first['msg']}") from None


def doc_key(doc: Document, seed: int) -> float:
    """A stable uniform number in [0, 1) per document: the sample is the same on every run."""
    digest = hashlib.blake2b(f"{seed}\x00{doc.source}\x00{doc.id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class _Census:
    """First pass: documents and UTF-8 bytes per domain, and each document's (hash, bytes) per group."""

    def __init__(self, docs_dir: Location, wanted: set[str], seed: int, show_progress: bool) -> None:
        self.stats: dict[str, dict[str, int]] = {}
        self.skipped: Counter[str] = Counter()
        keys: dict[str, array] = {}
        sizes: dict[str, array] = {}
        docs = tqdm(iter_documents(docs_dir), desc="tokenizer: counting", unit="doc", mininterval=2,
                    leave=False, disable=not show_progress)
        for doc in docs:
            if doc.domain not in wanted:
                self.skipped[doc.domain] += 1
                continue
            n = len(doc.text.encode("utf-8"))
            s = self.stats.setdefault(doc.domain, {"docs": 0, "bytes": 0})
            s["docs"] += 1
            s["bytes"] += n
            g = group_of(doc.domain)
            keys.setdefault(g, array("d")).append(doc_key(doc, seed))
            sizes.setdefault(g, array("d")).append(n)
        # 16 bytes per document (two flat arrays), so even millions of documents fit easily.
        self.keys = {g: np.frombuffer(a, dtype=np.float64) for g, a in keys.items()}
        self.sizes = {g: np.frombuffer(a, dtype=np.float64) for g, a in sizes.items()}

    def group_bytes(self) -> dict[str, int]:
        return {g: int(s.sum()) for g, s in self.sizes.items()}

    def threshold(self, group: str, target_bytes: float) -> float:
        """The key below which a group's documents add up to target_bytes (first doc reaching it included)."""
        order = np.argsort(self.keys[group], kind="stable")
        filled = np.cumsum(self.sizes[group][order])
        i = int(np.searchsorted(filled, target_bytes, side="left"))
        if i >= len(order):
            return np.inf
        return float(self.keys[group][order[i]])


def plan_sample(cfg: TokenizerConfig, group_bytes: dict[str, int]) -> dict[str, dict[str, float]]:
    """Per group: its share and target bytes.

    The total is the largest sample <= cfg.sample_bytes that every group can fill at its share; a
    corpus with one group only (the general-only baseline) gives that group the whole sample.
    """
    shares = {"domain": cfg.domain_share, "general": 1.0 - cfg.domain_share}
    present = {g: shares[g] for g in group_bytes if group_bytes[g] > 0}
    if len(present) == 1:
        present = {g: 1.0 for g in present}
    total = float(cfg.sample_bytes)
    for g, share in present.items():
        if share > 0:
            total = min(total, group_bytes[g] / share)
    return {g: {"share": share, "target_bytes": total * share} for g, share in present.items()}


def build_tokenizer(cfg: TokenizerConfig) -> tuple[Tokenizer, trainers.Trainer]:
    """An untrained byte-level tokenizer and its trainer, as the config asks."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    specials = cfg.special_tokens
    size = cfg.padded_vocab_size
    if cfg.model == "bpe":
        tok = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(
            vocab_size=size,
            min_frequency=cfg.min_frequency,
            special_tokens=specials,
            initial_alphabet=alphabet,
            show_progress=cfg.show_progress,
        )
    else:
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=size,
            special_tokens=specials,
            unk_token=cfg.unk_token,
            initial_alphabet=alphabet,
            show_progress=cfg.show_progress,
        )
    # No normalizer: any normalisation (NFC, lower-casing) would break decode(encode(x)) == x.
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if cfg.split_digits:
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    else:
        tok.pre_tokenizer = byte_level
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok, trainer


def _sample_batches(
    docs_dir: Location, cfg: TokenizerConfig, plan: dict[str, dict[str, float]], wanted: set[str],
    hasher: Any, sampled: dict[str, dict[str, int]],
) -> Iterator[list[str]]:
    """Second pass: yields batches of the kept texts, hashing them and counting what was kept.

    A document is kept when its stable hash key is at most its group's threshold (plan[g]["key_limit"]),
    so the kept bytes hit the group's target within one document, drawn evenly across sources.
    """
    expected = int(sum(p["target_bytes"] for p in plan.values()))
    bar = tqdm(total=expected, desc="tokenizer: training", unit="B", unit_scale=True, mininterval=2,
               disable=not cfg.show_progress)
    batch: list[str] = []
    for doc in iter_documents(docs_dir):
        if doc.domain not in wanted:
            continue
        g = group_of(doc.domain)
        if g not in plan or doc_key(doc, cfg.seed) > plan[g]["key_limit"]:
            continue
        data = doc.text.encode("utf-8")
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
        s = sampled.setdefault(doc.domain, {"docs": 0, "bytes": 0})
        s["docs"] += 1
        s["bytes"] += len(data)
        bar.update(len(data))
        batch.append(doc.text)
        if len(batch) >= cfg.batch_docs:
            yield batch
            batch = []
    if batch:
        yield batch
    bar.close()


def _canonical_unigram(tok: Tokenizer, n_special: int, digits: int = 8) -> Tokenizer:
    """Makes the Unigram file a function of the sample alone, so the same sample gives the same file.

    Three things in the trainer's output follow Rust hash-map order, which changes from run to run:
    the EM's float sums (differences ~1e-15: rounded to 8 decimals), the order of equal-score pieces
    (sorted by (-score, piece); special tokens keep their leading ids), and which required piece gets
    which of the filler scores the trainer hands out below every learned piece.
    """
    spec = json.loads(tok.to_str())
    vocab = [[piece, round(score, digits)] for piece, score in spec["model"]["vocab"]]
    vocab = vocab[:n_special] + sorted(vocab[n_special:], key=lambda ps: (-ps[1], ps[0]))
    # The filler scores form the vocabulary's tail, each 1e-4 below (or equal to) the previous one
    # (the trainer's required-character pass); those pieces get the same scores back in piece order.
    start = len(vocab) - 1
    while start - 1 >= n_special and min(abs(vocab[start - 1][1] - vocab[start][1] - d) for d in (0, 1e-4)) < 1e-7:
        start -= 1
    if len(vocab) - start > 1:
        tail = vocab[start:]
        vocab[start:] = [[p, sc] for p, sc in zip(sorted(p for p, _ in tail), sorted((sc for _, sc in tail), reverse=True))]
    spec["model"]["vocab"] = vocab
    return Tokenizer.from_str(json.dumps(spec))


def _pad_vocab(tok: Tokenizer, cfg: TokenizerConfig) -> tuple[int, list[str]]:
    """Fills the vocabulary up to a multiple of pad_to_multiple_of with reserved special tokens."""
    learned = tok.get_vocab_size(with_added_tokens=True)
    target = cfg.padded_vocab_size
    if learned < cfg.min_vocab_fill * target:
        raise UserError(
            f"the tokenizer sample only supports {learned} of tokenizer.vocab_size={cfg.vocab_size} tokens "
            f"(less than tokenizer.min_vocab_fill={cfg.min_vocab_fill}); lower tokenizer.vocab_size to about "
            f"{max(learned, 300)} or give the tokenizer more text"
        )
    m = cfg.pad_to_multiple_of
    final = max(target, -(-learned // m) * m)
    reserved = [RESERVED.format(i) for i in range(final - learned)]
    if reserved:
        log.warning("tokenizer: learned %d tokens of %d; %d reserved tokens pad it to %d",
                    learned, target, len(reserved), final)
        tok.add_special_tokens(reserved)
    return learned, reserved


def save_for_transformers(tok: Tokenizer, cfg: TokenizerConfig, out_dir: Path, extra: list[str]) -> None:
    """Saves the folder `transformers.AutoTokenizer.from_pretrained(out_dir)` loads as a fast tokenizer."""
    from transformers import PreTrainedTokenizerFast  # heavy import, only when saving

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=cfg.eos_token,  # the document boundary is the BOS too (see TokenizerConfig.eos_token)
        eos_token=cfg.eos_token,
        pad_token=cfg.pad_token,
        unk_token=cfg.unk_token,
        additional_special_tokens=[*cfg.extra_special_tokens, *extra] or None,
        **({"model_max_length": cfg.model_max_length} if cfg.model_max_length else {}),
        # Byte-level decoding is exact; the "clean up" pass would drop spaces before punctuation.
        clean_up_tokenization_spaces=False,
    )
    save_portable(fast, out_dir)


def save_portable(fast: Any, out_dir: Path) -> None:
    """save_pretrained, then tokenizer_config.json rewritten so transformers 4.x and 5.x both load it.

    transformers 5 names its fast class "TokenizersBackend" (4.x has no such class; both know
    "PreTrainedTokenizerFast", which 5.x aliases to it) and writes extra special tokens as a list under
    "extra_special_tokens", where 4.x expects a dict and calls .keys() on it; 4.x's list key is
    "additional_special_tokens", which 5.x still reads.
    """
    out_dir = Path(out_dir)
    fast.save_pretrained(str(out_dir))
    path = out_dir / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    # Raw text always encodes as text: "</s>" or "<unk>" written in a document are characters, not control
    # tokens (both majors read this key); special tokens go in by id, where the pipeline places them.
    config["split_special_tokens"] = True
    extra = config.pop("extra_special_tokens", None)
    if isinstance(extra, dict):  # 4.x's named extras ({"image_token": "<img>"}): both versions read a dict
        config["extra_special_tokens"] = extra
    elif extra:
        config["additional_special_tokens"] = list(extra)
    path.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def load_tokenizer(tokenizer_dir: str | Path | Location) -> Any:
    """Loads a tokenizer folder (on any Beam filesystem) with transformers, as a UserError if it is missing or corrupt."""
    from transformers import AutoTokenizer

    where = Location(tokenizer_dir)
    if not (where / TOKENIZER_FILE).is_file():
        raise UserError(f"no {TOKENIZER_FILE} in {where}; run `dapt tokenizer` first or name a tokenizer folder")
    tokenizer_dir = local_copy(where, "dapt-tokenizer-")  # transformers reads local folders only
    try:
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    except Exception as exc:  # noqa: BLE001
        # A damaged tokenizer.json surfaces from the Rust tokenizers library as a plain Exception (serde's
        # "data did not match any variant ..."), a damaged config as JSONDecodeError/OSError: one message.
        raise UserError(
            f"cannot load the tokenizer in {tokenizer_dir} ({type(exc).__name__}: {str(exc)[:200]}); "
            "delete the folder and run `dapt tokenizer` again"
        ) from None
    if not getattr(tok, "is_fast", False):
        raise UserError(f"{tokenizer_dir} holds a slow tokenizer; dapt needs a fast (tokenizer.json) tokenizer folder")
    text_is_text(tok)
    return tok


def text_is_text(tok: Any) -> Any:
    """Makes a transformers fast tokenizer, and its Rust backend, encode special-token strings in raw text as
    plain text (folders saved before save_portable wrote split_special_tokens, or by anyone else)."""
    tok.split_special_tokens = True
    tok.backend_tokenizer.encode_special_tokens = True
    return tok


def train_tokenizer(
    cfg: TokenizerConfig, docs_dir: str | Path | Location, out_dir: str | Path | Location,
    domains: Collection[str] | None = None,
) -> dict:
    """Trains the tokenizer on a mixture sample of the shards in docs_dir and saves it to out_dir, either on
    any Beam filesystem (a remote out_dir is saved in a local temporary folder, then uploaded).

    domains=None uses every domain at the config's shares; {"general"} gives the general-only baseline.
    Returns the manifest (also written to out_dir/manifest.json).
    """
    cfg = validated(cfg)
    docs_dir, out_dir = Location(docs_dir), Location(out_dir)
    wanted = set(DOMAINS if domains is None else domains)
    unknown = wanted - set(DOMAINS)
    if unknown or not wanted:
        raise UserError(f"unknown tokenizer domains {sorted(unknown)}; choose from {list(DOMAINS)}")
    try:
        shards = shard_paths(docs_dir)
    except FileNotFoundError:
        raise UserError(f"no document shards at {docs_dir}; run `dapt curate` (and select) first or fix the path") from None
    if not shards:
        raise UserError(f"{docs_dir} holds no *.jsonl.gz document shards; run `dapt curate` first or fix the path")

    census = _Census(docs_dir, wanted, cfg.seed, cfg.show_progress)
    stats, skipped = census.stats, dict(census.skipped)
    if skipped:
        log.warning("tokenizer: skipped documents of other domains: %s", skipped)
    group_bytes = census.group_bytes()
    total_bytes = sum(group_bytes.values())
    if total_bytes < cfg.min_sample_bytes:
        raise UserError(
            f"the corpus in {docs_dir} has {total_bytes} bytes of text for domains {sorted(wanted)}, less than "
            f"tokenizer.min_sample_bytes={cfg.min_sample_bytes}; give the tokenizer more documents"
        )
    if domains is None and len(group_bytes) == 1:
        log.warning("tokenizer: the corpus has only %s documents; the %s/%s mixture cannot be drawn",
                    next(iter(group_bytes)), cfg.domain_share, 1 - cfg.domain_share)
    plan = plan_sample(cfg, group_bytes)
    for g, p in plan.items():
        p["key_limit"] = census.threshold(g, p["target_bytes"]) if p["target_bytes"] > 0 else -1.0
    del census

    tok, trainer = build_tokenizer(cfg)
    hasher = hashlib.sha256()
    sampled: dict[str, dict[str, int]] = {}
    start = time.perf_counter()
    tok.train_from_iterator(_sample_batches(docs_dir, cfg, plan, wanted, hasher, sampled), trainer=trainer)
    seconds = time.perf_counter() - start
    sample_bytes = sum(s["bytes"] for s in sampled.values())
    if sample_bytes < cfg.min_sample_bytes:
        raise UserError(
            f"the tokenizer sample has {sample_bytes} bytes, less than tokenizer.min_sample_bytes="
            f"{cfg.min_sample_bytes}; raise tokenizer.sample_bytes or give more documents"
        )
    if cfg.model == "unigram":
        tok = _canonical_unigram(tok, len(cfg.special_tokens))
    learned, reserved = _pad_vocab(tok, cfg)

    # transformers saves local folders only: a remote out_dir gets a local copy, uploaded at the end
    scratch = None if out_dir.is_local else Path(tempfile.mkdtemp(prefix="dapt-tokenizer-"))
    local = out_dir.local if scratch is None else scratch
    local.mkdir(parents=True, exist_ok=True)
    save_for_transformers(tok, cfg, local, reserved)
    vocab = tok.get_vocab(with_added_tokens=True)
    sampled_groups: Counter[str] = Counter()
    plan = {g: {k: v for k, v in p.items() if k != "key_limit"} for g, p in plan.items()}
    for domain, s in sampled.items():
        sampled_groups[group_of(domain)] += s["bytes"]
    manifest = {
        "stage": "tokenizer",
        "config": cfg.model_dump(mode="json"),
        "inputs": {
            "docs_dir": docs_dir.url,
            "shards": [{"path": str(p), "bytes": p.size()} for p in shards],
            "domains": sorted(wanted),
        },
        "model": cfg.model,
        "vocab_size": tok.get_vocab_size(with_added_tokens=True),
        "learned_vocab_size": learned,
        "reserved_tokens": len(reserved),
        "bos_id": vocab[cfg.eos_token],
        "eos_id": vocab[cfg.eos_token],
        "pad_id": vocab[cfg.pad_token],
        "unk_id": vocab[cfg.unk_token],
        "special_tokens": {t: vocab[t] for t in cfg.special_tokens},
        "model_max_length": cfg.model_max_length,
        "sample_hash": hasher.hexdigest(),
        "tokenizer_hash": sha256_of(local / TOKENIZER_FILE),
        "corpus": {
            "domains": {
                d: {**stats[d], "sampled_docs": sampled.get(d, {}).get("docs", 0),
                    "sampled_bytes": sampled.get(d, {}).get("bytes", 0)}
                for d in sorted(stats)
            },
            "skipped_other_domains": skipped,
            "groups": {
                g: {**p, "bytes": group_bytes[g], "sampled_bytes": sampled_groups[g],
                    "sampled_share": sampled_groups[g] / sample_bytes}
                for g, p in plan.items()
            },
            "sample_bytes": sample_bytes,
            "sample_docs": sum(s["docs"] for s in sampled.values()),
        },
        "train_seconds": round(seconds, 3),
        "train_mb_per_s": round(sample_bytes / 1e6 / seconds, 3) if seconds > 0 else None,
    }
    write_manifest(local, manifest)
    if scratch is not None:
        out_dir.upload(scratch)
        shutil.rmtree(scratch)
    log.info("tokenizer: %s vocab %d (learned %d) from %.1f MB sample (%s) in %.1fs -> %s",
             cfg.model, manifest["vocab_size"], learned, sample_bytes / 1e6,
             ", ".join(f"{g} {sampled_groups[g] / sample_bytes:.0%}" for g in plan), seconds, out_dir)
    return manifest
