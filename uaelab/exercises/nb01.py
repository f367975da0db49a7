"""Exercise checkers for notebook 01 (per-sample MINE)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from . import Feedback, failed, passed


def check_true_mi(value: float, rho: float = 0.8, dim: int = 2) -> Feedback:
    """Exercise 1: the exact I(a; b) in nats for ``dim`` coordinate pairs of correlation ``rho``."""
    true = -0.5 * dim * math.log1p(-rho * rho)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return failed(f"give a number (nats), got {value!r}")
    if math.isclose(v, true, rel_tol=1e-3, abs_tol=1e-6):
        return passed(f"right: I = -d/2 · log(1 - ρ²) = {true:.4f} nats for ρ = {rho}, d = {dim}")
    if math.isclose(v, true / math.log(2), rel_tol=1e-3):
        return failed("that is the value in bits; MINE works in nats: use the natural logarithm")
    if math.isclose(v, true / dim, rel_tol=1e-3):
        return failed(f"that is the MI of one coordinate pair; the {dim} pairs are independent, so their MIs add up")
    if v < 0:
        return failed("mutual information is never negative: check the sign of log(1 - ρ²)")
    return failed(f"not quite ({v:.4f}); start from I = -1/2 · log(1 - ρ²) for one pair of unit Gaussians")


def check_dv_bound(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Exercise 2: ``fn(joint [B, K], marg [B, K]) -> [B]``, the Donsker–Varadhan bound
    mean(joint) - log mean exp(marg), numerically stable for large scores."""
    from ..mine import dv_bound

    g = torch.Generator().manual_seed(0)
    joint, marg = torch.randn(4, 50, generator=g), torch.randn(4, 50, generator=g)
    try:
        got = torch.as_tensor(fn(joint, marg))
    except Exception as exc:  # a learner's bug is feedback, not a crash
        return failed(f"your function raised {type(exc).__name__}: {exc}")
    if got.shape != (4,):
        return failed(f"return one value per row (shape [B] = [4]), got shape {tuple(got.shape)}")
    if not torch.allclose(got.float(), dv_bound(joint, marg), atol=1e-4):
        if torch.allclose(got.float(), joint.mean(1) - marg.exp().mean(1), atol=1e-4):
            return failed("you forgot the log around the mean of exp(marg)")
        return failed("the values differ from mean(joint) - log(mean(exp(marg))) per row")
    big = fn(joint + 200, marg + 200)
    if not torch.isfinite(torch.as_tensor(big)).all():
        return failed("correct on small scores, but exp overflows for scores near 200: use torch.logsumexp "
                      "and subtract log K")
    return passed("right, and stable: log mean exp = logsumexp - log K never overflows")


def check_mi_ordering(mi_itself: float, mi_noisy: float, mi_other: float) -> Feedback:
    """Exercise 3: per-sample MI of an image with itself, with a noisy copy, with another image."""
    vals = [float(v) for v in (mi_itself, mi_noisy, mi_other)]
    if not all(math.isfinite(v) for v in vals):
        return failed("one of your estimates is NaN or infinite; check the inputs are in [0, 1]")
    a, b, c = vals
    if a <= b:
        return failed(f"the image with itself ({a:.2f}) should score above its noisy copy ({b:.2f}); "
                      "use a larger σ (e.g. 0.3) or more MINE steps")
    if a <= c:
        return failed(f"the image with itself ({a:.2f}) should score above another image ({c:.2f}); "
                      "train the statistics networks longer")
    return passed(f"itself {a:.2f} > noisy {b:.2f} and > other {c:.2f}: per-sample MINE ranks similarity as expected")
