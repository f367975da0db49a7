"""Exercises of notebook 08 (Table 5: SimCLR)."""
from __future__ import annotations

from typing import Callable

import torch

from uaelab.exercises import Feedback, failed, passed


def check_nt_xent(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> Feedback:
    """``fn(z1, z2, temperature)`` must return SimCLR's NT-Xent loss (mean over the 2N anchors)."""
    from uaelab.models.simclr import nt_xent

    g = torch.Generator().manual_seed(8)
    for n, tau in ((4, 0.5), (7, 0.1)):
        z1, z2 = torch.randn(n, 5, generator=g), torch.randn(n, 5, generator=g)
        want = float(nt_xent(z1, z2, tau))
        try:
            got = float(fn(z1.clone(), z2.clone(), tau))
        except Exception as exc:
            return failed(f"your function raised {type(exc).__name__}: {exc}")
        if abs(got - want) <= 1e-4 * max(1.0, abs(want)):
            continue
        unnorm = torch.cat([z1, z2])
        sim = unnorm @ unnorm.t() / tau
        sim.fill_diagonal_(-float("inf"))
        pos = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
        raw = float((torch.logsumexp(sim, 1) - sim[torch.arange(2 * n), pos]).mean())
        if abs(got - raw) <= 1e-4 * max(1.0, abs(raw)):
            return failed("normalise the embeddings first: similarities are cosine similarities")
        return failed(f"for N={n}, τ={tau} expected {want:.4f}, got {got:.4f}; remember to mask each "
                      "anchor's similarity with itself and to average over all 2N anchors")
    return passed("right: cosine similarities / τ, self-similarity masked, cross-entropy on the positive")


def check_project(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> Feedback:
    """``fn(x_adv, x, eps)`` must project x_adv onto the L∞ ball of radius eps around x *and* onto
    the valid image box [0, 1] (the projection step of PGD)."""
    g = torch.Generator().manual_seed(8)
    x = torch.rand(6, 1, 3, 3, generator=g)
    x_adv = x + 0.6 * torch.randn(x.shape, generator=g)
    eps = 0.1
    want = torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp(0, 1)
    try:
        got = torch.as_tensor(fn(x_adv.clone(), x.clone(), eps))
    except Exception as exc:
        return failed(f"your function raised {type(exc).__name__}: {exc}")
    if got.shape != want.shape:
        return failed(f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}")
    if torch.allclose(got, torch.minimum(torch.maximum(x_adv, x - eps), x + eps)) and not torch.allclose(got, want):
        return failed("inside the ε-ball but outside [0, 1]: clip to the valid image range as well")
    if torch.allclose(got, x_adv.clamp(0, 1)):
        return failed("only clipped to [0, 1]: also keep every pixel within ε of the original")
    if not torch.allclose(got, want, atol=1e-6):
        return failed("not the projection: clip x_adv to [x - ε, x + ε], then to [0, 1]")
    return passed("right: clip to [x - ε, x + ε], then to [0, 1] (both boxes, so clipping is exact)")
