"""Exercise checkers for notebook 01 (per-sample MINE)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from uaelab.exercises import Feedback, failed, passed


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
    from uaelab.mi.mine import dv_bound

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


def check_mi_ordering(mi, x: torch.Tensor, x_other: torch.Tensor, seed: int = 0) -> Feedback:
    """Exercise 3: ``mi`` = your ``per_sample_mi(x, x_other, mode="random")`` for the pairs
    (image, itself), (image, noisy copy), (image, another image): ``x`` holds the image three times,
    ``x_other`` its three partners.

    The checker recomputes the estimates from your ``x`` and ``x_other`` (the same seed gives the
    same networks), so the numbers must come from your run; it then compares MINE's ordering with
    the exact ordering of the closed form, which the estimates of *one* image may not follow
    (notebook 01, section 2): a flipped order is reported, not rejected."""
    from uaelab.experiments.mine_gaussians import per_sample_mi
    from uaelab.mi.mine import closed_form_mi

    try:
        x, x_other = torch.as_tensor(x).float(), torch.as_tensor(x_other).float()
        got = torch.as_tensor(mi, dtype=torch.float32).flatten()
    except Exception as exc:  # None, a list of tensors, ...: feedback, not a crash
        return failed(f"pass your three estimates and the tensors x, x_other you estimated them on ({exc})")
    if x.dim() != 4 or x.shape != x_other.shape or len(x) != 3:
        return failed("x and x_other must be N×C×H×W images with N = 3: the image three times, and "
                      "(itself, its noisy copy, another image)")
    if got.shape != (3,):
        return failed(f"give the three estimates (itself, noisy, other), got {tuple(got.shape)} values")
    if not torch.isfinite(got).all():
        return failed("one of your estimates is NaN or infinite; check the inputs are in [0, 1]")
    if not (torch.equal(x[0], x[1]) and torch.equal(x[0], x[2])):
        return failed("x must hold the same image three times (torch.cat([x, x, x]))")
    if not torch.equal(x_other[0], x[0]):
        return failed("the first partner must be the image itself")
    if torch.equal(x_other[1], x[0]) or torch.equal(x_other[2], x[0]):
        return failed("the second partner is a noisy copy and the third another image, neither the image itself")
    want = per_sample_mi(x, x_other, mode="random", seed=seed)
    if not torch.allclose(got, want, rtol=1e-3, atol=1e-3):
        return failed(f"your numbers {[round(v, 3) for v in got.tolist()]} are not per_sample_mi(x, x_other, "
                      f"mode='random') of these pairs, which gives {[round(v, 3) for v in want.tolist()]}: "
                      "estimate all three pairs in one call")
    exact = closed_form_mi(x, x_other, 128)
    a, b, c = want.tolist()
    exact_order = "itself > noisy > other" if exact[1] > exact[2] else "itself > other > noisy"
    mine_order = " > ".join(n for _, n in sorted(zip((a, b, c), ("itself", "noisy", "other")), reverse=True))
    note = ("the same order" if mine_order == exact_order else
            "a different order: one image's estimates can flip, since each trains its own network")
    return passed(f"right: itself {a:.2f}, noisy {b:.2f}, other {c:.2f} nats. MINE orders them {mine_order}; "
                  f"the closed form (m = 128) orders them {exact_order} — {note}")
