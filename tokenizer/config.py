"""The tokenizer stage's one typed config: model, vocabulary, mixture sample, special tokens, report."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dapt.tokenizer.terms import DEFAULT_TERMS

# A byte-level vocabulary must hold every one of the 256 byte symbols (GPT-2's byte-to-unicode map),
# otherwise some text could not be encoded at all.
BYTE_ALPHABET = 256


class TokenizerReportConfig(BaseModel):
    """How `report_tokenizer` measures the fit of a tokenizer to held-out domain text."""

    model_config = ConfigDict(extra="forbid")

    # Held-out text read per domain; 2 MB gives stable fertility figures in a few seconds.
    max_bytes_per_domain: int = Field(2_000_000, ge=1)
    # A tokenizer folder to compare with; None trains a general-only baseline of the same size.
    baseline_dir: Path | None = None
    # Domain term lists for the split table (domain -> terms); defaults ship in tokenizer/terms.py.
    terms: dict[str, list[str]] = Field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_TERMS.items()})


class TokenizerConfig(BaseModel):
    """Everything that decides the trained tokenizer; the resolved form is written to manifest.json."""

    model_config = ConfigDict(extra="forbid")

    # Byte-level BPE (GPT-2 / Llama 3 style) or Unigram (BloombergGPT §2.3 used a Unigram model).
    model: Literal["bpe", "unigram"] = "bpe"
    # Final vocabulary including special tokens; rounded up to `pad_to_multiple_of`.
    vocab_size: int = Field(32_768, ge=1)
    # Embedding matrices whose size is a multiple of 64 use tensor cores fully (Karpathy's nanoGPT
    # 50257 -> 50304 note; Megatron's make-vocab-size-divisible-by).
    pad_to_multiple_of: int = Field(64, ge=1)
    # BPE only: a pair seen fewer times than this is never merged (HF tokenizers' BpeTrainer option).
    min_frequency: int = Field(2, ge=1)
    # BloombergGPT (and Llama) split numbers into single digits so arithmetic sees each digit.
    split_digits: bool = False
    # Share of the training sample's bytes drawn from domain sources; BloombergGPT §2: 51% financial.
    domain_share: float = Field(0.51, ge=0.0, le=1.0)
    # Upper bound on the training sample (bytes of UTF-8 text); the sample is drawn at the shares.
    sample_bytes: int = Field(1_000_000_000, ge=1)
    # A sample smaller than this cannot give a meaningful vocabulary: refuse instead of training.
    min_sample_bytes: int = Field(20_000, ge=1)
    # Refuse when the sample only supports fewer than this share of vocab_size (the trainer ran out
    # of pairs to merge); between this and 100% the rest is filled with reserved tokens.
    min_vocab_fill: float = Field(0.5, ge=0.0, le=1.0)
    # Documents per batch handed to the trainer's iterator.
    batch_docs: int = Field(512, ge=1)
    # Salt of the per-document hash that draws the sample (changing it draws another sample).
    seed: int = 0
    # The one document boundary: the token files put it after every document, so the model sees it
    # before every document, and the saved tokenizer names it as BOS too (GPT-2's <|endoftext|>
    # convention), which is the token lm-evaluation-harness puts before each rolling window.
    eos_token: str = "</s>"
    pad_token: str = "<pad>"
    unk_token: str = "<unk>"
    extra_special_tokens: list[str] = Field(default_factory=list)
    # The context length is the model's (pretrain.model.seq_len): the exported model/hf tokenizer states
    # it, and a tokenizer folder names no limit of its own. Set it only for a tokenizer used outside a
    # run; inside one it must equal pretrain.model.seq_len.
    model_max_length: int | None = Field(None, ge=1)
    show_progress: bool = True
    report: TokenizerReportConfig = Field(default_factory=TokenizerReportConfig)

    @field_validator("eos_token", "pad_token", "unk_token")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("special tokens must be non-empty strings; set e.g. tokenizer.eos_token='</s>'")
        return value

    @property
    def special_tokens(self) -> list[str]:
        """All special tokens in id order: unk, eos (also BOS), pad, then the extras."""
        return [self.unk_token, self.eos_token, self.pad_token, *self.extra_special_tokens]

    @property
    def padded_vocab_size(self) -> int:
        """vocab_size rounded up to a multiple of pad_to_multiple_of."""
        m = self.pad_to_multiple_of
        return -(-self.vocab_size // m) * m

    @model_validator(mode="after")
    def _check(self) -> TokenizerConfig:
        specials = self.special_tokens
        if len(set(specials)) != len(specials) or any(not s for s in specials):
            raise ValueError(
                f"special tokens must be distinct and non-empty, got {specials}; "
                "change tokenizer.extra_special_tokens or the eos/pad/unk tokens"
            )
        smallest = BYTE_ALPHABET + len(specials) + 1
        if self.vocab_size < smallest:
            raise ValueError(
                f"tokenizer.vocab_size={self.vocab_size} is smaller than the byte alphabet ({BYTE_ALPHABET}) "
                f"plus {len(specials)} special tokens plus one learned token; set tokenizer.vocab_size >= {smallest} "
                "(4096 for a tiny run, 32768 for real use)"
            )
        return self
