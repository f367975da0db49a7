"""Exercise checkers for notebook 03 (the ε sweep, Figure 3)."""
from __future__ import annotations

import torch

from . import Feedback, failed, passed


def check_pgd_linf(epsilon: float, mean_linf: float) -> Feedback:
    """Exercise 1: the mean L∞ norm of PGD's perturbations at ``epsilon`` (from your run)."""
    m = float(mean_linf)
    if m > epsilon + 1e-6:
        return failed(f"{m:.3f} exceeds ε = {epsilon:g}: did you take the max of |x_adv - x| per sample?")
    if m < 0.9 * epsilon:
        return failed(f"{m:.3f} is well below ε = {epsilon:g}: take the maximum absolute change per sample "
                      "(amax over pixels), then average over samples")
    return passed(f"{m:.3f} ≈ ε = {epsilon:g}: PGD's sign steps push pixels to the edge of the L∞ ball")


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
