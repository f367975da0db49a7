"""Exercise checkers for notebook 03 (the ε sweep, Figure 3)."""
from __future__ import annotations

from typing import Callable

import torch

from uaelab.exercises import Feedback, failed, passed


def check_pgd_linf(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
                   x_adv: torch.Tensor, epsilon: float) -> Feedback:
    """Exercise 1: ``fn(x, x_adv) -> [N]``, the per-sample L∞ norm max_i |x'_i − x_i|, and PGD's
    examples ``x_adv`` of the clean ``x`` at ``epsilon`` (from the sweep's results).

    The checker first runs ``fn`` on perturbations of its own with known norms (so a typed
    constant fails), then checks that ``x_adv`` is PGD's projection (in the [0, 1] box and the L∞
    ball of radius ``epsilon`` around ``x``) and reports the mean of ``fn`` on your tensors."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(5, 1, 4, 4, generator=g) * 0.5 + 0.25
    sizes = torch.tensor([0.0, 0.05, 0.1, 0.2, 0.25])
    noise = (torch.rand(x0.shape, generator=g) * 2 - 1) * sizes.view(-1, 1, 1, 1)
    noise.view(5, -1)[:, 3] = -sizes  # the largest change of each sample, negative: a max without abs misses it
    x1 = x0 + noise
    try:
        got = torch.as_tensor(fn(x0, x1)).float()
    except Exception as exc:  # a learner's bug is feedback, not a crash
        return failed(f"your function raised {type(exc).__name__}: {exc}")
    if got.shape != sizes.shape:
        return failed(f"return one value per sample (shape [N] = [5]), got shape {tuple(got.shape)}")
    if not torch.allclose(got, sizes, atol=1e-5):
        if torch.allclose(got, noise.flatten(1).abs().mean(1), atol=1e-5):
            return failed("that is the mean absolute change per sample; L∞ takes the maximum (amax over pixels)")
        if torch.allclose(got, noise.flatten(1).amax(1), atol=1e-5):
            return failed("take the absolute value before the maximum: a pixel can move down by ε too")
        return failed(f"on perturbations of L∞ norms {sizes.tolist()} your function returns "
                      f"{[round(v, 4) for v in got.tolist()]}")
    x, x_adv = torch.as_tensor(x).float(), torch.as_tensor(x_adv).float()
    if x.shape != x_adv.shape:
        return failed(f"x and x_adv must have the same shape, got {tuple(x.shape)} and {tuple(x_adv.shape)}")
    projected = torch.minimum(torch.maximum(x_adv, x - epsilon), x + epsilon).clamp(0, 1)
    if not torch.allclose(projected, x_adv, atol=1e-6):
        return failed(f"x_adv is not in the L∞ ball of radius ε = {epsilon:g} around x and the [0, 1] box: pass "
                      f"the sweep's x and results['pgd'][{epsilon:g}]['x_adv']")
    mean = float(torch.as_tensor(fn(x, x_adv)).float().mean())
    return passed(f"right: mean L∞ = {mean:.4f} at ε = {epsilon:g}; PGD's sign steps push pixels to the edge of "
                  "the L∞ ball")


def check_cross_mask(success: torch.Tensor, crosses: torch.Tensor) -> Feedback:
    """Exercise 2: ``crosses`` (bool, samples × ε) must mark exactly the unsuccessful examples."""
    success, crosses = torch.as_tensor(success).bool(), torch.as_tensor(crosses)
    if crosses.shape != success.shape:
        return failed(f"the mask must have the shape of the success table {tuple(success.shape)}, "
                      f"got {tuple(crosses.shape)}")
    if crosses.dtype != torch.bool:
        return failed("use a bool mask (True = draw a red cross)")
    if torch.equal(crosses, success):
        return failed("that marks the successful examples; the paper crosses out the failures: use ~success")
    if not torch.equal(crosses, ~success):
        return failed(f"{int((crosses != ~success).sum())} cells differ from the failures")
    return passed(f"right: {int(crosses.sum())} red crosses, one per unsuccessful example")


def check_smallest_epsilon(answer: float, method: str, success_table) -> Feedback:
    """Exercise 3: the smallest ε of the sweep at which ``method`` succeeds on every sample."""
    try:
        answer = float(answer)
    except (TypeError, ValueError):
        return failed(f"give the ε value as a number, got {answer!r}")
    if method not in success_table.index:
        return failed(f"method must be one of {list(success_table.index)}")
    row = success_table.loc[method]
    full = [float(e) for e, v in row.items() if v >= 1.0]
    if not full:
        return failed(f"{method} never succeeds on every sample in this sweep; the answer is None")
    want = min(full)
    if abs(float(answer) - want) < 1e-9:
        return passed(f"right: {method} first succeeds on all samples at ε = {want:g}")
    if float(answer) > want:
        return failed(f"at ε = {want:g} {method} already succeeds everywhere; look at smaller ε")
    return failed(f"at ε = {float(answer):g} not every sample succeeds (success rate {row.get(answer, float('nan'))})")
