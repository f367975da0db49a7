"""PGD L∞ baseline (Madry et al. 2018) for the supervised comparison of Figure 3.

Steps ``x' ← Π(x' − α·sign(∇f(x')))`` on the attack criterion f (the C&W margin by default:
descending it is ascending the adversarial loss), projected to the ε-ball and [0, 1], from x or
a uniform random start. Returns the last successful iterate; the original x where none
succeeded. PGD estimates no MI while attacking: ``mi_eval_steps`` > 0 trains fresh per-sample
MINE networks on (x, x_adv) afterwards, so its MI can be compared with MinMax's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from uaelab.attacks.base import Attack, AttackResult, project
from uaelab.config import Settings, register
from uaelab.utils import check_epsilon, generator


@register("pgd")
@dataclass(frozen=True)
class PGDSettings(Settings):
    """PGD settings (the paper's Figure 3 uses 100 iterations; ε is swept from 0.1 to 1)."""

    epsilon: float = 0.3  # L∞ bound (Madry et al.'s MNIST value)
    alpha: float = 0.01  # step size
    steps: int = 100  # iterations
    random_start: bool = True  # start from a uniform point of the ε-ball (Madry et al.)
    kappa: float = 0.0  # margin κ of the default criterion
    mi_eval_steps: int = 100  # MINE steps to measure I(x; x_adv) afterwards (0: skip, NaN)
    recon_norm: str = "l2"  # default reconstruction criterion (if used on an autoencoder)

    PROFILES = {"quick": {"steps": 40, "mi_eval_steps": 50}, "paper": {}}

    def validate(self) -> None:
        check_epsilon(self.epsilon)
        if self.alpha <= 0 or self.steps < 1 or self.mi_eval_steps < 0:
            raise ValueError("pgd needs alpha > 0, steps >= 1, mi_eval_steps >= 0")


def linf_descent(objective: Callable[[Tensor], Tensor], x: Tensor, start: Tensor, eps: float, alpha: float,
                 steps: int, on_step: Callable[[int, Tensor], None] | None = None) -> Tensor:
    """The package's one PGD loop: ``steps`` signed-gradient steps that lower ``objective(x') -> [B]``,
    ``x' ← Π(x' − α·sign(∇ objective(x')))`` with Π the projection onto ``|x' − x| <= eps`` ∩ [0, 1],
    from ``start``. ``on_step(t, x')`` sees each new iterate (t = 1..steps; no gradient). Returns
    the last iterate, detached. The PGD attack descends its criterion; :func:`uaelab.augment.robustness.pgd_linf`
    ascends a loss by descending its negative (the same iterates: sign(−g) = −sign(g) exactly)."""
    xa = start.detach()
    for t in range(1, steps + 1):
        xa = xa.detach().requires_grad_(True)
        with torch.enable_grad():
            g = torch.autograd.grad(objective(xa).sum(), xa)[0]
        with torch.no_grad():
            xa = project(xa - alpha * g.sign(), x, eps)
            if on_step is not None:
                on_step(t, xa)
    return xa.detach()


class PGD(Attack):
    """``PGD(model, criterion=None, settings=PGDSettings(), *, seed=0)``."""

    settings_cls = PGDSettings

    def _run(self, x: Tensor, y: Tensor | None, idx: Tensor, crit) -> AttackResult:
        s = self.settings
        eps = s.epsilon
        if s.random_start:
            noise = torch.stack([torch.rand(x.shape[1:], generator=generator(self.seed, "pgd", int(i)))
                                 for i in idx]).to(x.device)
            xa = project(x + (2 * noise - 1) * eps, x, eps)
        else:
            xa = x.clone()
        B = x.shape[0]
        view = (-1,) + (1,) * (x.dim() - 1)
        best = x.clone()
        found = torch.zeros(B, dtype=torch.bool, device=x.device)
        best_f = torch.full((B,), float("nan"), device=x.device)
        hist = {k: [] for k in ("mi", "f", "c", "success")}

        def keep_successes(t: int, xa: Tensor) -> None:
            nonlocal best, best_f, found
            fn = self.evaluate(crit, xa)
            succ = fn <= 0
            best = torch.where(succ.view(view), xa, best)
            best_f = torch.where(succ, fn, best_f)
            found = found | succ
            nan = torch.full((B,), float("nan"), device=x.device)
            for k, v in (("mi", nan), ("f", fn), ("c", nan), ("success", succ)):
                hist[k].append(v)
            self.notify(t, x, xa, None)

        linf_descent(lambda z: self.evaluate(crit, z), x, xa, eps, s.alpha, s.steps, keep_successes)
        with torch.no_grad():
            f_orig = self.evaluate(crit, x)
        mi = self.measure_mi(x, best, idx, s.mi_eval_steps)
        mi = torch.where(found, mi, torch.full_like(mi, float("nan")))
        return AttackResult(x_adv=best, success=found, mi_final=mi, mi_best=mi,
                            c=torch.full((B,), float("nan"), device=x.device),
                            f=torch.where(found, best_f, f_orig),
                            history={k: torch.stack(v) for k, v in hist.items()})
