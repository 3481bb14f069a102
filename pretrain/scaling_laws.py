"""Scaling laws that size a pre-training run: compute-optimal (N, D) for a FLOPs budget, predicted loss,
training FLOPs, and what repeating data costs.

Three sizing rules side by side:
- ``rule20``: ~20 training tokens per parameter (Hoffmann et al. 2022, Table 3: 70B <-> 1.4T).
- ``hoffmann``: Chinchilla Approach 3, L(N, D) = E + A/N^alpha + B/D^beta with the published fit
  (Hoffmann et al. 2022, eq. 10: E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28).
- ``besiroglu``: the refit of the same data by Besiroglu et al. 2024 ("Chinchilla Scaling: A
  replication attempt", Table 1: E 1.8172, A 482.01, B 2085.43, alpha 0.3478, beta 0.3658), which
  agrees with Approaches 1 and 2 where the published Approach 3 constants do not.
Training compute C = 6ND (Kaplan et al. 2020, §2.1), optionally + the attention term 6 n_layer n_ctx d.
Data-constrained: Muennighoff et al. 2023 ("Scaling Data-Constrained Language Models", eq. 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dapt.pretrain.shape import ModelShape

PF_DAY = 1e15 * 86400  # one petaflop/s sustained for a day (Kaplan et al. 2020 report compute in PF-days)
# Muennighoff et al. 2023 (eq. 5 and Fig. 3 fit): repeated tokens decay with R*_D = 15.387 epochs,
# excess parameters with R*_N = 5.309; up to ~4 epochs is almost as good as unique data.
R_STAR_D = 15.387
R_STAR_N = 5.309


@dataclass(frozen=True)
class ScalingLaw:
    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    def loss(self, n: float, d: float) -> float:
        return self.E + self.A / n**self.alpha + self.B / d**self.beta

    @property
    def _g(self) -> float:
        # Hoffmann et al. 2022, eq. 4: N_opt(C) = G (C/6)^a, D_opt(C) = G^-1 (C/6)^b.
        return (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))

    @property
    def a(self) -> float:
        return self.beta / (self.alpha + self.beta)

    def optimal(self, flops: float) -> tuple[float, float]:
        n = self._g * (flops / 6) ** self.a
        return n, flops / (6 * n)

    def tokens_for(self, n: float) -> float:
        """The D for which `n` parameters is compute-optimal (inverting N_opt(C))."""
        c6 = (n / self._g) ** (1 / self.a)
        return c6 / n


LAWS: dict[str, ScalingLaw] = {
    "hoffmann": ScalingLaw("hoffmann", 1.69, 406.4, 410.7, 0.34, 0.28, "Hoffmann et al. 2022, Approach 3"),
    "besiroglu": ScalingLaw("besiroglu", 1.8172, 482.01, 2085.43, 0.3478, 0.3658, "Besiroglu et al. 2024 refit"),
}
LAW_NAMES = ("rule20", "hoffmann", "besiroglu")
# Hoffmann et al. 2022 fitted their laws on models of 44M to 16B parameters (§3.3, Approach 3 data).
LAW_FIT_RANGE = (4.4e7, 1.6e10)


def optimal_allocation(law: str, flops: float, tokens_per_param: float = 20.0) -> tuple[float, float]:
    """(N_opt, D_opt) for a model-FLOPs budget under one sizing rule."""
    if law == "rule20":
        n = math.sqrt(flops / (6 * tokens_per_param))
        return n, tokens_per_param * n
    return LAWS[law].optimal(flops)


def tokens_for_params(law: str, n: float, tokens_per_param: float = 20.0) -> float:
    """Compute-optimal training tokens for a model of `n` parameters."""
    if law == "rule20":
        return tokens_per_param * n
    return LAWS[law].tokens_for(n)


def training_flops(n: float, d: float, shape: ModelShape | None = None) -> dict[str, float]:
    """Training FLOPs: 6ND, and with the attention term 6 * n_layer * n_ctx * d_model per token
    (Kaplan et al. 2020, Table 1: forward = 2N + 2 n_layer n_ctx d_attn; backward twice the forward)."""
    out = {"flops_6nd": 6 * n * d}
    if shape is not None:
        out["flops_with_attention"] = 6 * n * d + 6 * shape.n_layers * shape.seq_len * shape.d_model * d
    return out


def effective_data(unique: float, tokens: float, r_star: float = R_STAR_D) -> float:
    """Muennighoff et al. 2023 eq. 5: D' = U + U R* (1 - exp(-R/R*)), R = tokens/U - 1 repeated epochs."""
    if tokens <= unique:
        return tokens
    r = tokens / unique - 1
    return unique + unique * r_star * (1 - math.exp(-r / r_star))


def data_constrained_loss(law: ScalingLaw, n: float, d: float, unique: float) -> float:
    """Muennighoff et al. 2023's loss: repeated tokens (D') and excess parameters (N') decay.

    U_N, the parameters the unique data can feed compute-optimally, is N_opt for D = U; parameters
    beyond it decay with R*_N like repeated epochs do with R*_D.
    """
    d_eff = effective_data(unique, d)
    u_n = _params_for_tokens(law, unique)
    n_eff = n if n <= u_n else u_n + u_n * R_STAR_N * (1 - math.exp(-(n / u_n - 1) / R_STAR_N))
    return law.loss(n_eff, d_eff)


def _params_for_tokens(law: ScalingLaw, tokens: float) -> float:
    # tokens_for(N) = (N/G)^(1/a) / N is a power law in N: invert it in closed form.
    p = 1 / law.a - 1
    return (tokens * law._g ** (1 / law.a)) ** (1 / p)


def data_constrained_plan(law: ScalingLaw, flops: float, unique: float) -> dict:
    """The (N, D) minimising Muennighoff's data-constrained loss for this compute and unique data."""
    n_opt, _ = law.optimal(flops)
    grid = np.geomspace(n_opt / 100, n_opt * 4, 1200)
    losses = [data_constrained_loss(law, float(n), flops / (6 * float(n)), unique) for n in grid]
    i = int(np.argmin(losses))
    n = float(grid[i])
    d = flops / (6 * n)
    return {"n_params": n, "tokens": d, "epochs": d / unique, "effective_tokens": effective_data(unique, d),
            "predicted_loss": float(losses[i])}

