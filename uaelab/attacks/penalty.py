"""Penalty baseline with a per-sample binary search over c (Table 3 of the paper).

Each binary-search step restarts δ and the MINE networks, runs ``T`` projected gradient steps
on ``c·f⁺ ∓ I`` with c *fixed*, then updates c per sample with the Carlini–Wagner bracket:

* success: ``upper = min(upper, c)``; then, once ``upper < 1e9``, ``c = (lower + upper) / 2``;
* failure: ``lower = max(lower, c)``; then ``c = (lower + upper) / 2`` if an upper bound is
  known (``upper < 1e9``), else ``c *= 10``.

The returned iterate is the best successful one over all steps (the success rule of
:mod:`uaelab.attacks.descent`, shared with MinMax).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from uaelab.attacks.base import AttackResult
from uaelab.attacks.descent import DescentAttack, MITerm, descend, finish, merge
from uaelab.config import Settings, register
from uaelab.utils import check_epsilon

UNKNOWN = 1e10  # "no upper bound yet"


@register("penalty")
@dataclass(frozen=True)
class PenaltySettings(Settings):
    """Settings of the penalty/binary-search baseline (paper: 9 steps, 9000 iterations in all)."""

    alpha: float = 0.01  # step size of the gradient step on δ
    T: int = 1000  # iterations per binary-search step
    binary_steps: int = 9  # binary-search steps over c
    c0: float = 1e-3  # initial c (Carlini–Wagner's initial constant)
    epsilon: float = 1.0  # L∞ bound on δ
    kappa: float = 0.0  # margin κ of the default criterion
    delta_init: Literal["zero", "uniform", "glorot"] = "zero"  # δ at the start of every step (see MinMax)
    direction: Literal["auto", "max", "min"] = "auto"  # MI direction; auto = the criterion's
    fallback: Literal["original", "lowest_f"] = "original"  # what a never-successful sample returns
    recon_norm: Literal["l2", "sq"] = "l2"  # default reconstruction criterion

    PROFILES = {"quick": {"T": 40, "binary_steps": 3}, "paper": {}}

    def validate(self) -> None:
        check_epsilon(self.epsilon)
        if self.alpha <= 0 or self.T < 1 or self.binary_steps < 1 or self.c0 <= 0 or self.kappa < 0:
            raise ValueError("penalty needs alpha > 0, T >= 1, binary_steps >= 1, c0 > 0, kappa >= 0")


def bracket_update(c: Tensor, lower: Tensor, upper: Tensor, success: Tensor):
    """One Carlini–Wagner bracket update per sample; returns (c, lower, upper)."""
    upper = torch.where(success, torch.minimum(upper, c), upper)
    lower = torch.where(success, lower, torch.maximum(lower, c))
    known = upper < 1e9
    mid = (lower + upper) / 2
    c = torch.where(success, torch.where(known, mid, c), torch.where(known, mid, c * 10))
    return c, lower, upper


class Penalty(DescentAttack):
    """Penalty-based attack with binary search over c; same call and result as MinMax. It takes
    either MI estimator: MINE networks (restarted at every binary-search step) or the closed
    form (``mine.estimator="closed-form"``, nothing to restart)."""

    settings_cls = PenaltySettings

    def _run(self, x: Tensor, y: Tensor | None, idx: Tensor, crit) -> AttackResult:
        s = self.settings
        direction = self.direction(crit)
        B = x.shape[0]
        c = torch.full((B,), float(s.c0), device=x.device)
        lower = torch.zeros(B, device=x.device)
        upper = torch.full((B,), UNKNOWN, device=x.device)
        term = MITerm(self, x, idx)
        total = None
        for step in range(s.binary_steps):
            if step:
                term.reset()  # fresh statistics networks and Adam state at every step
            # c fixed during a step (no dual step); the paper's judge: the new iterates
            out = descend(self, x, self._init_x(x, idx, s.epsilon), crit, term, direction, c.clone(),
                          T=s.T, alpha=s.alpha, eps=s.epsilon)
            out["c"] = c.clone()
            total = out if total is None else merge(total, out, direction)
            c, lower, upper = bracket_update(c, lower, upper, out["found"])
        total["c"] = out["c"]
        return finish(self, x, crit, total, s.fallback)
