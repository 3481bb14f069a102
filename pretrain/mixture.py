"""The mixture plan (`dapt mix`): how many tokens of each source pre-training reads.

Two levels, as in BloombergGPT (Wu et al. 2023, Table 1): groups ("domain", "general") get target
shares of the total (default 51 % / 49 %), and the sources inside a group split their group's share by
weight (default: in proportion to their tokens, i.e. every source of a group is read equally often).
The plan reports, per source, available and planned tokens, share, epochs, and the effective data after
repetition (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", eq. 5).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dapt.errors import UserError
from dapt.pretrain.scaling_laws import R_STAR_D, effective_data
from dapt.summary import format_table
from dapt.manifest import MANIFEST, read_manifest, write_manifest

log = logging.getLogger(__name__)

GROUPS = ("domain", "general")
EPOCH_WARN = 4.0  # below ~4 epochs repeated data is almost as good as new (Muennighoff et al. 2023)


class MixConfig(BaseModel):
    """Target shares per group, optional per-source weights and an optional total token target."""

    model_config = ConfigDict(extra="forbid")

    # BloombergGPT §2: 51.27 % financial (FinPile) and 48.73 % public data; rounded to 0.51 / 0.49.
    shares: dict[str, float] = Field(default_factory=lambda: {"domain": 0.51, "general": 0.49})
    # Relative weights of the sources inside a group, by source name. Empty: proportional to each
    # source's training tokens. Name a source of a group and you must name all of that group's sources.
    weights: dict[str, float] = Field(default_factory=dict)
    # Tokens pre-training will read; None: the planner's target (Chinchilla ~20 tokens per parameter).
    total_tokens: int | None = Field(None, ge=1)
    # Warn when a source would be read more often than this (Muennighoff et al. 2023: ~4 epochs).
    max_epochs: float = Field(EPOCH_WARN, gt=0)


def effective_tokens(unique: float, epochs: float) -> float:
    """What `epochs` passes over `unique` tokens are worth (scaling_laws.effective_data)."""
    return effective_data(unique, unique * epochs)


def _check_number(name: str, value: float, key: str) -> None:
    if not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise UserError(f"{key} for {name} is {value}; use a number >= 0")


def plan_mixture(cfg: MixConfig, sources: Mapping[str, Mapping[str, Any]], total_tokens: int | None) -> dict[str, Any]:
    """The mixture table from the tokenize manifest's sources ({name: {group, domain, train_tokens}}).

    Raises UserError, saying what to change, when the plan is impossible.
    """
    unknown_groups = sorted(set(cfg.shares) - set(GROUPS))
    if unknown_groups:
        raise UserError(f"mix.shares names unknown group(s) {unknown_groups}; use only {list(GROUPS)}")
    for group, share in cfg.shares.items():
        _check_number(group, share, "mix.shares")
    share_sum = sum(cfg.shares.values())
    if abs(share_sum - 1.0) > 1e-6:
        raise UserError(f"mix.shares sum to {share_sum:g}; make them sum to 1 (e.g. domain: 0.51, general: 0.49)")
    unknown = sorted(set(cfg.weights) - set(sources))
    if unknown:
        raise UserError(f"mix.weights names unknown source(s) {unknown}; known sources: {sorted(sources)}")
    for name, weight in cfg.weights.items():
        _check_number(name, weight, "mix.weights")

    odd = sorted(n for n, s in sources.items() if s.get("group") not in GROUPS)
    if odd:
        raise UserError(f"sources {odd} have no mixture group (domain or general); rerun `dapt tokenize` to rewrite the token manifest")
    total = int(cfg.total_tokens or total_tokens or sum(int(s["train_tokens"]) for s in sources.values()))
    if total <= 0:
        raise UserError("the mixture has no tokens to plan; check that `dapt tokenize` produced training tokens")

    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    for group in GROUPS:
        members = sorted(name for name, s in sources.items() if s["group"] == group)
        share = float(cfg.shares.get(group, 0.0))
        listed = [n for n in members if n in cfg.weights]
        if listed and len(listed) != len(members):
            missing = sorted(set(members) - set(listed))
            raise UserError(f"mix.weights sets weights for some {group} sources but not {missing}; give every {group} source a weight or none")
        weights = {n: float(cfg.weights[n]) if listed else float(sources[n]["train_tokens"]) for n in members}
        for n in members:
            if weights[n] > 0 and int(sources[n]["train_tokens"]) == 0:
                raise UserError(f"source {n} has no training tokens but weight {weights[n]:g}; set mix.weights.{n}: 0")
        weight_sum = sum(weights.values())
        if share > 0 and not members:
            raise UserError(f"mix.shares gives {group} {share:g} but there are no {group} sources; set mix.shares.{group}: 0 or add {group} data")
        if share > 0 and weight_sum <= 0:
            raise UserError(f"every {group} source has weight 0 or no tokens but mix.shares.{group} is {share:g}; give a source a positive weight or set the share to 0")
        for n in members:
            s_share = share * weights[n] / weight_sum if share > 0 else 0.0
            available = int(sources[n]["train_tokens"])
            planned = int(round(s_share * total))
            epochs = planned / available if available else 0.0
            row = {
                "name": n,
                "domain": sources[n].get("domain", group),
                "group": group,
                "available_tokens": available,
                "weight": weights[n],
                "share": s_share,
                "planned_tokens": planned,
                "epochs": epochs,
                "effective_tokens": int(round(effective_tokens(available, epochs))),
            }
            if epochs > cfg.max_epochs:
                warnings.append(
                    f"source {n} is read {epochs:.1f} epochs (> {cfg.max_epochs:g}): repeated tokens are worth less "
                    f"(Muennighoff et al. 2023); its {planned:,} planned tokens count as {row['effective_tokens']:,} effective; "
                    "add data, lower its weight or lower the token target"
                )
            rows.append(row)
    for w in warnings:
        log.warning(w)
    return {"total_tokens": total, "max_epochs": cfg.max_epochs, "shares": {g: float(cfg.shares.get(g, 0.0)) for g in GROUPS}, "sources": rows, "warnings": warnings}


@dataclasses.dataclass(frozen=True)
class SourcePlan:
    name: str
    group: str
    share: float
    available_tokens: int
    planned_tokens: int
    epochs: float


@dataclasses.dataclass(frozen=True)
class MixturePlan:
    """What the sampler needs from mix.json: the sources and their shares of the sample stream."""

    sources: tuple[SourcePlan, ...]
    total_tokens: int

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> MixturePlan:
        sources = tuple(
            SourcePlan(
                name=s["name"],
                group=s["group"],
                share=float(s["share"]),
                available_tokens=int(s["available_tokens"]),
                planned_tokens=int(s["planned_tokens"]),
                epochs=float(s["epochs"]),
            )
            for s in obj["sources"]
        )
        return cls(sources=sources, total_tokens=int(obj["total_tokens"]))

    @classmethod
    def load(cls, path: str | Path) -> MixturePlan:
        path = Path(path)
        if path.is_dir():
            path = path / "mix.json"
        if not path.is_file():
            raise UserError(f"no mixture plan at {path}; run `dapt mix` first")
        return cls.from_dict(json.loads(path.read_text()))

    @property
    def active(self) -> tuple[SourcePlan, ...]:
        """Sources with a positive share, in plan order (the order the sampler indexes them)."""
        return tuple(s for s in self.sources if s.share > 0)

    def fingerprint(self) -> str:
        """Short hash of the active sources and shares (a resumed sampler must see the same plan)."""
        text = json.dumps([(s.name, round(s.share, 12)) for s in self.active])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def mixture_table(plan: Mapping[str, Any], markdown: bool = False) -> str:
    """The per-source mixture table (plain text for the terminal, or Markdown for mix.md)."""
    head = ["source", "group", "available", "planned", "share", "epochs", "effective"]
    body = [
        [
            r["name"],
            r["group"],
            f"{r['available_tokens']:,}",
            f"{r['planned_tokens']:,}",
            f"{100 * r['share']:.2f}%",
            f"{r['epochs']:.2f}" + (" !" if r["epochs"] > plan.get("max_epochs", EPOCH_WARN) else ""),
            f"{r['effective_tokens']:,}",
        ]
        for r in plan["sources"]
    ]
    total_avail = sum(r["available_tokens"] for r in plan["sources"])
    total_eff = sum(r["effective_tokens"] for r in plan["sources"] if r["share"] > 0)
    body.append(["total", "", f"{total_avail:,}", f"{plan['total_tokens']:,}", "100.00%", "", f"{total_eff:,}"])
    return format_table(head, body, align="llrrrrr", markdown=markdown)


def run_mix(cfg: MixConfig, tokens_dir: Path, out_dir: Path, total_tokens: int | None = None) -> dict[str, Any]:
    """Plans the mixture from tokens_dir/manifest.json; writes mix.json and mix.md; prints the table."""
    tokens_dir, out_dir = Path(tokens_dir), Path(out_dir)
    manifest = read_manifest(tokens_dir, "run `dapt tokenize` first")
    plan = plan_mixture(cfg, manifest["sources"], total_tokens)
    result = {
        "stage": "mix",
        "config": cfg.model_dump(),
        "inputs": {
            "tokens_dir": str(tokens_dir),
            "tokens_manifest_hash": hashlib.sha256((tokens_dir / MANIFEST).read_bytes()).hexdigest(),
            "total_tokens_arg": total_tokens,
        },
        "eos_id": manifest.get("eos_id"),
        "formula": f"effective = U + U * R* * (1 - exp(-(epochs - 1) / R*)), R* = {R_STAR_D} (Muennighoff et al. 2023)",
        **plan,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "mix.json").write_text(json.dumps(result, indent=2))
    write_manifest(out_dir, {k: v for k, v in result.items() if k != "sources"} | {"n_sources": len(plan["sources"])})
    md = [
        "# Mixture plan",
        "",
        f"Total tokens: {plan['total_tokens']:,}; group shares: "
        + ", ".join(f"{g} {100 * s:.1f}%" for g, s in plan["shares"].items()),
        "",
        mixture_table(plan, markdown=True),
        "",
        f"Effective tokens: {result['formula']}. Epochs above {cfg.max_epochs:g} are marked !.",
    ]
    if plan["warnings"]:
        md += ["", "## Warnings", "", *(f"- {w}" for w in plan["warnings"])]
    (out_dir / "mix.md").write_text("\n".join(md) + "\n")
    print(mixture_table(plan))  # the >max_epochs warnings went to the log in plan_mixture
    return result
