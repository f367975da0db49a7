"""Gaussian augmentation baseline (GA): x' = clip(x + σ·N(0, I), 0, 1).

Not an attack: every sample gets its noisy copy (the paper adds the noise to all training
data), so ``x_adv`` is always the noisy sample; ``success`` still reports f(x') <= 0 for the
criterion, for comparison with the UAEs. Noise is drawn from each sample's own stream
``(seed, "gaussian", index)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from uaelab.attacks.base import Attack, AttackResult
from uaelab.config import Settings, register
from uaelab.utils import generator


@register("gaussian")
@dataclass(frozen=True)
class GaussianSettings(Settings):
    """Gaussian augmentation settings (the paper's Table 4 uses σ = 0.01 and 1e-3)."""

    sigma: float = 0.01  # standard deviation of the additive noise
    kappa: float = 0.0  # margin κ of the default criterion
    mi_eval_steps: int = 100  # MINE steps to measure I(x; x') (0: skip, NaN)
    recon_norm: str = "l2"  # default reconstruction criterion

    PROFILES = {"quick": {"mi_eval_steps": 50}, "paper": {}}

    def validate(self) -> None:
        if not self.sigma > 0 or self.mi_eval_steps < 0:
            raise ValueError(f"gaussian needs sigma > 0 and mi_eval_steps >= 0, got sigma={self.sigma}")


class Gaussian(Attack):
    """``Gaussian(model, criterion=None, settings=GaussianSettings(), *, seed=0)``."""

    settings_cls = GaussianSettings

    def _run(self, x: Tensor, y: Tensor | None, idx: Tensor, crit) -> AttackResult:
        noise = torch.stack([torch.randn(x.shape[1:], generator=generator(self.seed, "gaussian", int(i)))
                             for i in idx]).to(x.device)
        xa = (x + self.settings.sigma * noise).clamp(0, 1)
        with torch.no_grad():
            f = self.evaluate(crit, xa)
        self.notify(1, x, xa, None)
        mi = self.measure_mi(x, xa, idx, self.settings.mi_eval_steps)
        B = x.shape[0]
        return AttackResult(x_adv=xa, success=f <= 0, mi_final=mi, mi_best=mi,
                            c=torch.full((B,), float("nan"), device=x.device), f=f,
                            history={"mi": mi[None], "f": f[None],
                                     "c": torch.full((1, B), float("nan"), device=x.device),
                                     "success": (f <= 0)[None]})
