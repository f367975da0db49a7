"""Exercises of notebook 06 (Table 4: UAEs as augmentation for autoencoders)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from uaelab.exercises import Feedback, failed, passed

# (original error, new error, expected improvement) from the paper's Table 4 (MNIST)
_CASES = [(0.00561, 0.00243), (0.00258, 0.00286), (0.00294, 0.00256), (0.04785, 0.06098)]


def check_improvement(fn: Callable[[float, float], float]) -> Feedback:
    """``fn(original_error, new_error)`` must return the paper's signed improvement as a fraction:
    positive when the new error is lower, relative to the original error."""
    for orig, new in _CASES:
        want = (orig - new) / orig
        try:
            got = float(fn(orig, new))
        except Exception as exc:  # a learner's bug is feedback, not a crash
            return failed(f"your function raised {type(exc).__name__}: {exc}")
        if math.isclose(got, want, rel_tol=1e-3, abs_tol=1e-6):
            continue
        if math.isclose(got, -want, rel_tol=1e-3, abs_tol=1e-6):
            return failed("the sign is flipped: in the paper's tables ↑ (positive) means *better*, "
                          "i.e. a lower error than the original model")
        if math.isclose(got, 100 * want, rel_tol=1e-3):
            return failed("return a fraction (0.567), not a percentage (56.7): uaelab reports fractions")
        if math.isclose(got, (orig - new) / new, rel_tol=1e-3):
            return failed("divide by the *original* error: the improvement is relative to the original model")
        return failed(f"for original {orig} and new {new} expected {want:.4f}, got {got:.4f}")
    return passed("right: (original - new) / original, so 0.00561 -> 0.00243 is ↑ 56.7% as in Table 4")


def check_augmented_set(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """``fn(x, x_adv, success)`` must return the augmented training set: all of x, then one
    example per sample, where a failed sample contributes a copy of itself."""
    g = torch.Generator().manual_seed(6)
    x = torch.rand(10, 1, 4, 4, generator=g)
    x_adv = torch.rand(10, 1, 4, 4, generator=g)
    ok = torch.tensor([True, False, True, True, False, False, True, False, True, True])
    want = torch.cat([x, torch.where(ok.view(-1, 1, 1, 1), x_adv, x)])
    try:
        got = fn(x.clone(), x_adv.clone(), ok.clone())
    except Exception as exc:
        return failed(f"your function raised {type(exc).__name__}: {exc}")
    got = torch.as_tensor(got)
    if got.shape[0] == len(x) + int(ok.sum()):
        return failed("failed attacks were dropped: the paper *replicates* such a sample instead, so the "
                      "augmented set stays balanced (2N samples)")
    if got.shape != want.shape:
        return failed(f"expected shape {tuple(want.shape)} (originals + one example each), got {tuple(got.shape)}")
    if torch.allclose(got, torch.cat([x, x_adv])):
        return failed("failed examples were kept: where success is False, use the original sample instead")
    if not torch.allclose(got, want):
        return failed("right shape, wrong content: put the originals first, then for sample i its example "
                      "if success[i] else x[i]")
    return passed("right: originals, then each successful UAE or, where the attack failed, the original again")


def check_control(answer: str) -> Feedback:
    """Which method of the table isolates the effect of training twice as many steps?"""
    key = str(answer).strip().lower()
    if key in ("duplicate", "'duplicate'"):
        return passed("yes: 'duplicate' trains on original + an exact copy (ASR 0), the same number of steps "
                      "as every augmented run. Only what a method gains beyond it is due to the new samples")
    if key == "original":
        return failed("the original model is trained on N samples, the augmented ones on 2N at equal epochs: "
                      "twice the gradient steps. Which row has 2N samples but nothing new in them?")
    if key.startswith("ga"):
        return failed("Gaussian noise adds (slightly) new samples, so it mixes both effects")
    return failed("look at the rows of the table: which one has the doubled set but no new samples?")
