"""``estimate_mi``: the Donsker–Varadhan (MINE) estimate of I(a; b) from paired samples.

Re-exported as :func:`uaelab.mine.estimate_mi`. It does not use the attacks' per-sample
statistics networks (:class:`uaelab.mine.StatNets`): those are separable (one linear branch
per input, added, one ReLU layer) and underfit the log-density ratio of anything beyond a
low-dimensional Gaussian. Here the critic is a plain MLP on the concatenation [a, b].
"""
from __future__ import annotations

import copy
import math
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .utils import derive_seed

Objective = Literal["js", "dv"]
# part of the cache key of every experiment that calls estimate_mi: bump it when a change of
# this file changes the estimates, so no cached result of the old estimator is shown again
VERSION = 3


def rank_gaussianise(x: Tensor) -> Tensor:
    """Map every column to N(0, 1) through its empirical ranks: Φ⁻¹((rank + ½)/n).

    A strictly increasing map per coordinate leaves the MI unchanged, so this undoes any
    coordinatewise monotone distortion (cubes, heavy tails) before the network sees the data.
    Ties get distinct ranks in row order; on data with many ties (discrete values) it adds
    order noise, so pass ``normalise="standard"`` there.
    """
    n = x.shape[0]
    ranks = torch.argsort(torch.argsort(x, dim=0, stable=True), dim=0).to(torch.float64)
    return torch.special.ndtri((ranks + 0.5) / n).to(x.dtype)


def _standardise(x: Tensor) -> Tensor:
    return (x - x.mean(0)) / x.std(0).clamp_min(1e-12)


def _critic(d_in: int, hidden: Sequence[int]) -> nn.Sequential:
    # SiLU, not ReLU: the log-density ratios to fit are smooth (quadratic for Gaussians), and a
    # piecewise-linear ReLU net of this size underfits them at a few thousand pairs (measured
    # on the d = 10 Gaussian of benchmarks/bench_mi.py: about twice the error of SiLU)
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d_in, h), nn.SiLU()]
        d_in = h
    return nn.Sequential(*layers, nn.Linear(d_in, 1))


def _dv(critic: nn.Module, a: Tensor, b: Tensor, perms: Sequence[Tensor]) -> Tensor:
    """DV bound mean T(a_i, b_i) − log mean exp T(a_i, b_π(i)) over the shuffles ``perms``."""
    joint = critic(torch.cat([a, b], 1)).mean()
    marg = torch.cat([critic(torch.cat([a, b[p]], 1)).squeeze(1) for p in perms])
    return joint - (torch.logsumexp(marg, 0) - math.log(marg.numel()))


def estimate_mi(a: Tensor, b: Tensor, *, steps: int = 6000, lr: float = 1e-3,
                hidden: Sequence[int] = (128, 128), seed: int = 0, holdout: float = 0.5,
                batch_size: int | None = 500, eval_shuffles: int = 20, objective: Objective = "js",
                normalise: Literal["rank", "standard", "none"] = "rank", eval_every: int = 200,
                patience: int = 8, negatives: int = 1, progress: bool = False) -> float:
    """Estimate I(a; b) in nats from n paired samples: a neural critic T(a, b) is trained on part
    of the pairs, and the Donsker–Varadhan bound E_joint[T] − log E_marginal[e^T] is evaluated
    on the other part (the "marginal" pairs a_i with a shuffled b).

    a: [n, da], b: [n, db] float tensors, row i of a paired with row i of b. Steps:

    1. ``normalise``: "rank" (default) maps each coordinate to N(0, 1) by its ranks
       (:func:`rank_gaussianise`; MI is invariant to such maps, and it tames heavy tails and
       cubes), "standard" subtracts the mean and divides by the std, "none" keeps the data.
    2. A random ``1 - holdout`` share of the pairs trains the critic, an MLP on [a, b] with
       SiLU layers of widths ``hidden``, by Adam at ``lr`` on mini-batches of ``batch_size``
       pairs (None = all) with ``negatives`` shuffled copies as the marginal, for at most
       ``steps`` steps. ``objective="js"`` (default) trains it
       as a classifier of joint vs shuffled pairs (logistic loss), whose optimum is exactly
       the log-density ratio, with the low-variance gradients of a classifier (the SMILE /
       "JS-then-DV" recipe of Poole et al. 2019, Song & Ermon 2020); ``"dv"`` ascends the DV
       bound itself (MINE without the moving average).
    3. Every ``eval_every`` steps the bound is computed on the held-out pairs; training stops
       after ``patience`` evaluations without improvement, and the best critic is kept. The
       constant critic (bound exactly 0) is the first candidate, so when no trained critic
       beats it on the held-out pairs the estimate is 0: "no dependence found", never negative.
       Held-out evaluation removes the upward bias of a critic that memorised its training
       pairs, and early stopping stops it from overfitting into a negative held-out bound.
    4. The result is the held-out bound averaged over ``eval_shuffles`` fresh shuffles.

    Where it is good, and where any estimator fails (measured in ``benchmarks/bench_mi.py``,
    results in ``benchmarks/results/bench_mi.json``): with a few thousand pairs it is within
    max(0.05 nats, 10%) of the truth for low-dimensional Gaussians, their coordinatewise
    invertible transforms and heavy-tailed Student-t pairs up to about 2 nats, and 0 on
    independent pairs. It falls short, as torch-mist's estimators do too, when the inputs have
    many dimensions (the d = 20 Gaussian, the d = 5 Student-t) or twisted dependence (the
    spiral): a few thousand pairs are too few for a critic to learn that density ratio. At high
    MI every estimator falls below the truth: the DV/NWJ bounds need E[e^T] over the marginal,
    whose variance grows like e^MI, so n pairs resolve MI only up to about log n; InfoNCE-type
    bounds can never exceed log(batch size). Picking the best critic on the held-out pairs
    biases the estimate up by a little (the noise of one held-out evaluation).
    Same ``seed``, same result.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must be [n, d] with the same n, got {tuple(a.shape)}, {tuple(b.shape)}")
    if a.shape[0] < 4:
        raise ValueError("need at least 4 paired samples (2 to train on, 2 to evaluate)")
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise ValueError("a and b must be finite (no NaN/inf)")
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must lie in (0, 1) (the share of pairs kept to evaluate on), got {holdout}")
    if objective not in ("js", "dv"):
        raise ValueError(f"objective must be 'js' or 'dv', got {objective!r}")
    if normalise not in ("rank", "standard", "none"):
        raise ValueError(f"normalise must be 'rank', 'standard' or 'none', got {normalise!r}")
    if steps < 0 or eval_every < 1 or patience < 1 or negatives < 1 or not hidden or min(hidden) < 1:
        raise ValueError("need steps >= 0, eval_every >= 1, patience >= 1, negatives >= 1 and "
                         "hidden widths >= 1")
    n = a.shape[0]
    n_eval = int(round(n * holdout))
    if n_eval < 2 or n - n_eval < 2:
        raise ValueError(f"{n} pairs are too few for holdout={holdout}; use more pairs")
    bs = n - n_eval if batch_size is None else min(int(batch_size), n - n_eval)
    if bs < 2:
        raise ValueError("batch_size must be >= 2 (the marginal shuffles the batch)")

    a, b = a.double(), b.double()
    if normalise == "rank":
        a, b = rank_gaussianise(a), rank_gaussianise(b)
    elif normalise == "standard":
        a, b = _standardise(a), _standardise(b)
    a, b = a.float(), b.float()
    g = torch.Generator().manual_seed(derive_seed(seed, "estimate_mi"))
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(derive_seed(seed, "estimate_mi", "init"))  # nn.Linear's initialiser
    critic = _critic(a.shape[1] + b.shape[1], hidden).to(a.device)
    torch.random.set_rng_state(torch_state)
    opt = torch.optim.Adam(critic.parameters(), lr=lr)

    order = torch.randperm(n, generator=g).to(a.device)
    tr, ev = order[n_eval:], order[:n_eval]
    a_tr, b_tr, a_ev, b_ev = a[tr], b[tr], a[ev], b[ev]

    def shuffles(k: int, size: int) -> list[Tensor]:
        return [torch.randperm(size, generator=g).to(a.device) for _ in range(k)]

    # the same shuffles at every check, so that the checks differ by the critic only
    check_perms = shuffles(max(1, eval_shuffles // 4), n_eval)
    # the constant critic is the first candidate: its DV bound is exactly 0 (MI >= 0 is known),
    # so a critic that only ever overfits (independent pairs) yields 0, not a negative bound
    best, best_state, stale = 0.0, None, 0
    it = range(1, steps + 1)
    if progress:
        it = tqdm(it, desc="MI estimate")
    for step in it:
        idx = torch.randperm(n - n_eval, generator=g)[:bs].to(a.device)
        ai, bi = a_tr[idx], b_tr[idx]
        # negatives are free (any a with any other b), positives are not: several shuffles
        # per batch show the critic more of the product of the marginals at no cost in data
        am = ai.repeat(negatives, 1)
        bm = torch.cat([bi[p] for p in shuffles(negatives, bs)])
        joint = critic(torch.cat([ai, bi], 1)).squeeze(1)
        marg = critic(torch.cat([am, bm], 1)).squeeze(1)
        if objective == "js":
            loss = F.softplus(-joint).mean() + F.softplus(marg).mean()
        else:
            loss = -(joint.mean() - (torch.logsumexp(marg, 0) - math.log(marg.numel())))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                val = float(_dv(critic, a_ev, b_ev, check_perms))
            if val > best:
                best, best_state, stale = val, copy.deepcopy(critic.state_dict()), 0
            else:
                stale += 1
                if stale >= patience:
                    break
    if best_state is None:
        return 0.0
    critic.load_state_dict(best_state)
    with torch.no_grad():
        est = float(_dv(critic, a_ev, b_ev, shuffles(max(1, eval_shuffles), n_eval)))
    assert math.isfinite(est), est
    return est
