"""Robustness of a model before and after augmentation (SuppMat 6.17): its test error or accuracy
under an L∞ PGD attack that maximises the model's own loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from uaelab.attacks.base import project
from uaelab.attacks.pgd import linf_descent
from uaelab.utils import eval_mode


def pgd_linf(loss_fn, x: torch.Tensor, eps: float, steps: int = 10, alpha: float | None = None,
             seed: int = 0) -> torch.Tensor:
    """L∞ PGD that *maximises* ``loss_fn(x') -> [B]`` over ``|x' - x| <= eps`` ∩ [0, 1], with the
    PGD attack's loop (:func:`uaelab.attacks.pgd.linf_descent`) on ``-loss_fn``.

    Uniform random start (seeded), ``steps`` signed-gradient steps of size ``alpha`` (default
    2.5·eps/steps, Madry et al.). x: N×... float in [0, 1]. Returns x' (no gradient).
    """
    if not 0 < eps <= 1:
        raise ValueError(f"eps must satisfy 0 < eps <= 1, got {eps}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    alpha = 2.5 * eps / steps if alpha is None else alpha
    g = torch.Generator().manual_seed(seed)
    x = x.detach()
    start = project(x + (2 * torch.rand(x.shape, generator=g).to(x.device) - 1) * eps, x, eps)
    return linf_descent(lambda z: -loss_fn(z), x, start, eps, alpha, steps)  # ascend the loss


def robust_reconstruction_error(model: torch.nn.Module, x: torch.Tensor, eps: float, steps: int = 10,
                                seed: int = 0, batch_size: int = 500) -> float:
    """Per-pixel MSE of ``model``'s reconstruction of x' = PGD(x) that maximises that error."""
    errs = []
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            xa = pgd_linf(lambda z: (model(z) - xb).pow(2).flatten(1).mean(1), xb, eps, steps, seed=seed + i)
            with torch.no_grad():
                errs.append((model(xa) - xb).pow(2).flatten(1).mean(1))
    return float(torch.cat(errs).mean())


def robust_accuracy(classifier: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 10,
                    seed: int = 0, batch_size: int = 500) -> float:
    """Accuracy (fraction) of ``classifier`` (logits) on L∞ PGD examples maximising cross-entropy."""
    correct = 0
    with eval_mode(classifier):
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            xa = pgd_linf(lambda z: F.cross_entropy(classifier(z), yb, reduction="none"), xb, eps, steps, seed=seed + i)
            with torch.no_grad():
                correct += int((classifier(xa).argmax(1) == yb).sum())
    return correct / max(len(x), 1)
