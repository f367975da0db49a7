"""``estimate_mi``: the Donsker–Varadhan (MINE) estimate of I(a; b) from paired samples.

Re-exported as :func:`uaelab.mi.mine.estimate_mi`. It does not use the attacks' per-sample
statistics networks (:class:`uaelab.mi.mine.StatNets`): those are separable (one linear branch
per input, added, one ReLU layer) and underfit the log-density ratio of anything beyond a
low-dimensional Gaussian. Here the critics are a closed-form Gaussian (canonical-correlation)
critic and an MLP correction on top of it, picked on one held-out split and scored on another.
"""
from __future__ import annotations

import copy
import math
import os
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from uaelab.utils import derive_seed

Objective = Literal["js", "dv"]
CRITICS = ("gauss+mlp", "gauss", "mlp")
# part of the cache key of every experiment that calls estimate_mi: bump it when a change of
# this file changes the estimates, so no cached result of the old estimator is shown again
VERSION = 4
_DEBUG = bool(os.environ.get("UAELAB_MI_DEBUG"))  # print every check's bounds and the picks


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


def _mlp(d_in: int, hidden: Sequence[int], zero_last: bool = False) -> nn.Sequential:
    # SiLU, not ReLU: the log-density ratios to fit are smooth (quadratic for Gaussians), and a
    # piecewise-linear ReLU net of this size underfits them at a few thousand pairs (measured
    # on the d = 10 Gaussian of benchmarks/bench_mi.py: about twice the error of SiLU)
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d_in, h), nn.SiLU()]
        d_in = h
    last = nn.Linear(d_in, 1)
    if zero_last:  # start exactly at the Gaussian critic; the MLP learns only the correction
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


class GaussianCritic(nn.Module):
    """The log-density ratio of the Gaussian fit to the pairs, T(a, b) = log N([a, b]; μ, Σ)
    − log N(a; μ_a, Σ_aa) − log N(b; μ_b, Σ_bb), written in canonical coordinates and optionally
    truncated to the ``rank`` most correlated canonical pairs.

    Canonical correlation analysis turns a and b, each by an invertible linear map, into
    coordinates u, v whose only correlations are ρ_i between u_i and v_i; the Gaussian log ratio
    is then the sum over i of the bivariate one, t_i = −½·log(1 − ρ_i²) − (ρ_i²(u_i² + v_i²) −
    2ρ_i·u_i·v_i) / (2(1 − ρ_i²)). All pairs (``rank=None``) give the full Gaussian critic, the
    optimal critic when (a, b) is jointly Gaussian; after :func:`rank_gaussianise` that covers
    every Gaussian copula (Gaussians through any coordinatewise increasing maps). Its DV bound is
    then the MI of the fit. The top-k truncations are the same critic with fewer parameters
    estimated from the training pairs (e.g. one direction when a single canonical pair carries
    the dependence), so they lose less to estimation noise when the dependence is low-rank.
    Fitted in closed form: no training, no step size.
    """

    def __init__(self, a: Tensor, b: Tensor, ridge: float = 1e-6):
        super().__init__()
        a, b = a.double(), b.double()
        self.da = a.shape[1]
        mu_a, mu_b = a.mean(0), b.mean(0)
        z = torch.cat([a - mu_a, b - mu_b], 1)
        cov = z.T @ z / max(1, z.shape[0] - 1)
        # a ridge relative to the average variance keeps Σ invertible for (nearly) collinear data
        cov = cov + ridge * cov.diagonal().mean().clamp_min(1e-12) * torch.eye(cov.shape[0], dtype=cov.dtype)
        da = self.da

        def inv_sqrt(m: Tensor) -> Tensor:
            w, v = torch.linalg.eigh(m)
            return (v * w.clamp_min(1e-12).rsqrt()) @ v.T

        wa, wb = inv_sqrt(cov[:da, :da]), inv_sqrt(cov[da:, da:])
        u, rho, vh = torch.linalg.svd(wa @ cov[:da, da:] @ wb)
        rho = rho.clamp(0.0, 1 - 1e-6)
        self.register_buffer("mu", torch.cat([mu_a, mu_b]).float())
        self.register_buffer("proj_a", (wa @ u[:, :rho.numel()]).float())  # a ↦ canonical u
        self.register_buffer("proj_b", (wb @ vh.T[:, :rho.numel()]).float())
        self.register_buffer("rho", rho.float())
        self.register_buffer("white_a", wa.float())
        self.register_buffer("white_b", wb.float())
        self.rank = rho.numel()
        # the norms are clamped to the range seen on the fitted pairs, so that the MLP never
        # extrapolates to an outlier of the held-out pairs (a heavy tail would send e^T to
        # infinity on one shuffled pair and the DV bound with it)
        self.register_buffer("lo", torch.full((3,), -math.inf))
        self.register_buffer("hi", torch.full((3,), math.inf))
        with torch.no_grad():
            fitted = self.norms(torch.cat([a, b], 1).float())
        self.lo, self.hi = fitted.min(0).values, fitted.max(0).values

    def pairs(self, z: Tensor) -> Tensor:
        """t_i of every canonical pair, [n, rank] (the critic is their sum over the kept pairs)."""
        zc = z - self.mu
        u, v = zc[:, :self.da] @ self.proj_a, zc[:, self.da:] @ self.proj_b
        r = self.rho
        return -0.5 * torch.log1p(-r * r) - (r * r * (u * u + v * v) - 2 * r * u * v) / (2 * (1 - r * r))

    def forward(self, z: Tensor) -> Tensor:
        return self.pairs(z).sum(1, keepdim=True)

    def norms(self, z: Tensor) -> Tensor:
        """log(1 + r²/dim) of the whitened a, b and [a, b] under the fit: [n, 3] (the MLP's extra
        inputs; the log ratio of any elliptical law is a function of these three alone)."""
        zc = z - self.mu
        u, v = zc[:, :self.da] @ self.proj_a, zc[:, self.da:] @ self.proj_b
        r = self.rho
        wa, wb = zc[:, :self.da] @ self.white_a, zc[:, self.da:] @ self.white_b
        na, nb = (wa * wa).sum(1), (wb * wb).sum(1)
        # the joint Mahalanobis norm: the whitened norms plus the canonical pairs' correction
        joint = na + nb + (r * r * (u * u + v * v) - 2 * r * u * v).div(1 - r * r).sum(1)
        out = [na / wa.shape[1], nb / wb.shape[1], joint / (wa.shape[1] + wb.shape[1])]
        return torch.log1p(torch.stack(out, 1).clamp_min(0)).clamp(self.lo, self.hi)


def _dv_of_values(joint: Tensor, marg: Tensor) -> Tensor:
    """DV bounds from critic values: joint [n, c] and marginal [m, c] for c critics → [c]."""
    return joint.mean(0) - (torch.logsumexp(marg, 0) - math.log(marg.shape[0]))


class _Critic(nn.Module):
    """T(a, b) = Gaussian critic (optional) + MLP on [a, b] (+ the Gaussian fit's three norms)."""

    def __init__(self, gauss: GaussianCritic | None, mlp: nn.Module | None, features: bool):
        super().__init__()
        self.gauss, self.mlp, self.features = gauss, mlp, features

    def forward(self, z: Tensor) -> Tensor:
        out = 0
        if self.gauss is not None:
            out = out + self.gauss(z)
        if self.mlp is not None:
            out = out + self.mlp(torch.cat([z, self.gauss.norms(z)], 1) if self.features else z)
        return out


def estimate_mi(a: Tensor, b: Tensor, *, steps: int = 6000, lr: float = 1e-3,
                hidden: Sequence[int] = (128, 128), seed: int = 0, holdout: float = 0.5,
                batch_size: int | None = 500, eval_shuffles: int = 100, objective: Objective = "js",
                normalise: Literal["rank", "standard", "none"] = "rank", eval_every: int = 200,
                patience: int = 8, negatives: int = 1, critic: Literal["gauss+mlp", "gauss", "mlp"] = "gauss+mlp",
                lr_decay: bool = False, features: bool = True, progress: bool = False) -> float:
    """Estimate I(a; b) in nats from n paired samples: candidate critics T(a, b) are fitted on
    part of the pairs, and the Donsker–Varadhan bound E_joint[T] − log E_marginal[e^T] of the
    one picked on a validation split is reported on a test split it has never seen (the
    "marginal" pairs are a_i with a shuffled b).

    a: [n, da], b: [n, db] float tensors, row i of a paired with row i of b. Steps:

    1. ``normalise``: "rank" (default) maps each coordinate to N(0, 1) by its ranks
       (:func:`rank_gaussianise`; MI is invariant to such maps, and it tames heavy tails and
       cubes), "standard" subtracts the mean and divides by the std, "none" keeps the data.
    2. A random ``1 - holdout`` share of the pairs fits the critics; the held-out pairs are cut
       into two halves, A and B. The candidates:

       * the constant critic, whose bound is exactly 0 (MI >= 0 is known);
       * ``"gauss"`` in ``critic``: the Gaussian critic (:class:`GaussianCritic`, closed form,
         no training) on its top k canonical pairs, for every k: the exact log-density ratio
         of any Gaussian copula, and with small k the low-rank ones at less estimation noise;
       * ``"mlp"`` in ``critic``: the Gaussian critic plus an MLP correction on [a, b] (with
         ``features``, also on the three Mahalanobis norms of the Gaussian fit, from which the
         log ratio of any elliptical law such as the Student-t follows; without "gauss", a
         plain MLP). SiLU layers of widths ``hidden``, the last one starting at zero, so
         training starts from the Gaussian critic. Adam at ``lr`` (``lr_decay``: cosine to 0)
         on mini-batches of ``batch_size`` pairs (None = all) with ``negatives`` shuffled
         copies as the marginal, for at most ``steps`` steps. ``objective="js"`` (default)
         trains it as a classifier of joint vs shuffled pairs (logistic loss), whose optimum is
         exactly the log-density ratio, with the low-variance gradients of a classifier (the
         SMILE / "JS-then-DV" recipe of Poole et al. 2019, Song & Ermon 2020); ``"dv"`` ascends
         the DV bound itself (MINE without the moving average). Every ``eval_every`` steps the
         bound of the current MLP critic on A and on B is a candidate; training stops after
         ``patience`` checks without improvement of their mean.
    3. Cross-fitting: A picks the candidate with the highest bound on A, which is scored on B
       with ``eval_shuffles`` fresh shuffles, and vice versa; the estimate is the mean of the
       two scores. So no pair that fitted or picked a critic scores it, and the estimate is an
       honest held-out DV lower bound (up to its sampling noise) — not the maximum of many
       noisy evaluations. When the constant critic wins on a half, that half scores 0: on
       independent pairs the estimate is 0 or a small, noisy value either side of it. A picked
       critic can score below 0 on the other half; that negative value is reported, not
       clamped (it says "no dependence found" at the noise level of the test split).

    Where it is good, and where any estimator fails (measured in ``benchmarks/bench_mi.py`` at
    8,000 pairs, 5 seeds, against torch-mist's MINE, SMILE and InfoNCE; the verdicts per task are
    in ``benchmarks/results/bench_mi.json``): up to about 2 nats its mean is within
    max(0.05 nats, 10%) of the truth for Gaussians of any correlation structure up to d = 20 per
    side, their coordinatewise invertible maps (cube, half-cube), Student-t pairs in one or two
    dimensions, and the per-sample random-projection pairs, and it gives 0 (± noise far below
    0.05) on independent pairs. It falls short, less than torch-mist's estimators do, where the
    log-density ratio is neither Gaussian after ranks nor a simple function of the Gaussian
    fit's norms: dependence twisted beyond a coordinatewise map (the spiral, a rotation by an
    angle that grows with the norm) and the tail dependence of a Student-t in 5 + 5 dimensions;
    there a few thousand pairs are too few for the MLP to learn the ratio. At high MI every
    estimator goes wrong: the DV/NWJ bounds need E[e^T] over the marginal, whose variance
    grows like e^MI, so n pairs resolve MI only up to about log n (the d = 5 Gaussian at 5
    nats comes out well below the truth, and noisy); InfoNCE-type bounds can never exceed
    log(batch size). Same ``seed``, same result.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must be [n, d] with the same n, got {tuple(a.shape)}, {tuple(b.shape)}")
    if a.shape[0] < 6:
        raise ValueError("need at least 6 paired samples (2 to fit on, 2 to pick with, 2 to score on)")
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise ValueError("a and b must be finite (no NaN/inf)")
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must lie in (0, 1) (the share of pairs kept to evaluate on), got {holdout}")
    if objective not in ("js", "dv"):
        raise ValueError(f"objective must be 'js' or 'dv', got {objective!r}")
    if normalise not in ("rank", "standard", "none"):
        raise ValueError(f"normalise must be 'rank', 'standard' or 'none', got {normalise!r}")
    if critic not in CRITICS:
        raise ValueError(f"critic must be one of {CRITICS}, got {critic!r}")
    if steps < 0 or eval_every < 1 or patience < 1 or negatives < 1 or not hidden or min(hidden) < 1:
        raise ValueError("need steps >= 0, eval_every >= 1, patience >= 1, negatives >= 1 and "
                         "hidden widths >= 1")
    n = a.shape[0]
    n_eval = int(round(n * holdout))
    if n_eval < 4 or n - n_eval < 2:
        raise ValueError(f"{n} pairs are too few for holdout={holdout}; use more pairs")
    bs = n - n_eval if batch_size is None else min(int(batch_size), n - n_eval)
    if bs < 2:
        raise ValueError("batch_size must be >= 2 (the marginal shuffles the batch)")

        a, b = a.double(), b.double()
    da, db = a.shape[1], b.shape[1]
    if normalise == "rank":
        a, b = rank_gaussianise(a), rank_gaussianise(b)
    elif normalise == "standard":
        a, b = _standardise(a), _standardise(b)
    a, b = a.float(), b.float()
    g = torch.Generator().manual_seed(derive_seed(seed, "estimate_mi"))
    order = torch.randperm(n, generator=g).to(a.device)
    tr, ev = order[n_eval:], order[:n_eval]
    a_tr, b_tr = a[tr], b[tr]
    # the held-out pairs in two halves: each half picks a critic, the other half scores it
    halves = [(a[ev[:n_eval // 2]], b[ev[:n_eval // 2]]), (a[ev[n_eval // 2:]], b[ev[n_eval // 2:]])]

    torch_state = torch.random.get_rng_state()
    torch.manual_seed(derive_seed(seed, "estimate_mi", "init"))  # nn.Linear's initialiser
    gauss = GaussianCritic(a_tr, b_tr).to(a.device) if "gauss" in critic else None
    feats = features and gauss is not None
    mlp = (_mlp(da + db + 3 * feats, hidden, zero_last=gauss is not None).to(a.device)
           if "mlp" in critic else None)
    torch.random.set_rng_state(torch_state)
    net = _Critic(gauss, mlp, feats)

    def shuffles(k: int, size: int) -> list[Tensor]:
        return [torch.randperm(size, generator=g).to(a.device) for _ in range(k)]

    def pairs_of(h: tuple[Tensor, Tensor], perms: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        return torch.cat(h, 1), torch.cat([torch.cat([h[0], h[1][p]], 1) for p in perms])

    # the same shuffles at every check, so that the checks differ by the critic only
    check = [pairs_of(h, shuffles(max(1, eval_shuffles // 20), h[0].shape[0])) for h in halves]
    # candidates per half: ("const",) — the constant critic, whose DV bound is exactly 0 (MI >= 0
    # is known), so a critic that only ever overfits (independent pairs) yields 0, not a negative
    # bound —, ("gauss", k) — the Gaussian critic on its top k canonical pairs — and ("net", state)
    best: list[tuple[float, tuple]] = [(0.0, ("const",)), (0.0, ("const",))]
    if gauss is not None:
        with torch.no_grad():
            for h, (jz, mz) in enumerate(check):
                vals = _dv_of_values(gauss.pairs(jz).cumsum(1), gauss.pairs(mz).cumsum(1))
                k = int(vals.argmax())
                if float(vals[k]) > best[h][0]:
                    best[h] = (float(vals[k]), ("gauss", k + 1))
    start = [float(best[h][0]) for h in (0, 1)] if gauss is not None else [0.0, 0.0]
    best_mean, stale = sum(start) / 2, 0

    def check_net() -> bool:
        nonlocal best_mean, stale
        with torch.no_grad():
            vals = [float(_dv_of_values(net(jz), net(mz))[0]) for jz, mz in check]
        if _DEBUG:
            print("check", [round(v, 3) for v in vals], flush=True)
        for h, v in enumerate(vals):
            if v > best[h][0]:
                best[h] = (v, ("net", copy.deepcopy(net.state_dict())))
        if sum(vals) / 2 > best_mean:
            best_mean, stale = sum(vals) / 2, 0
        else:
            stale += 1
        return stale >= patience

    params = list(net.parameters())
    total = steps if params else 0
    opt = torch.optim.Adam(params, lr=lr) if params else None
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total)) if opt and lr_decay else None
    it = range(1, total + 1)
    if progress:
        it = tqdm(it, desc="MI estimate")
    for step in it:
        idx = torch.randperm(n - n_eval, generator=g)[:bs].to(a.device)
        ai, bi = a_tr[idx], b_tr[idx]
        # negatives are free (any a with any other b), positives are not: several shuffles
        # per batch show the critic more of the product of the marginals at no cost in data
        am = ai.repeat(negatives, 1)
        bm = torch.cat([bi[p] for p in shuffles(negatives, bs)])
        joint = net(torch.cat([ai, bi], 1)).squeeze(1)
        marg = net(torch.cat([am, bm], 1)).squeeze(1)
        if objective == "js":
            loss = F.softplus(-joint).mean() + F.softplus(marg).mean()
        else:
            loss = -(joint.mean() - (torch.logsumexp(marg, 0) - math.log(marg.numel())))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        if (step % eval_every == 0 or step == total) and check_net():
            break
    # each half's pick, scored on the other half with fresh shuffles
    ests = []
    for h in (0, 1):
        kind = best[h][1]
        jz, mz = pairs_of(halves[1 - h], shuffles(max(1, eval_shuffles), halves[1 - h][0].shape[0]))
        with torch.no_grad():
            if kind[0] == "const":
                ests.append(0.0)
            elif kind[0] == "gauss":
                k = kind[1]
                ests.append(float(_dv_of_values(gauss.pairs(jz)[:, :k].sum(1, keepdim=True),
                                                gauss.pairs(mz)[:, :k].sum(1, keepdim=True))[0]))
            else:
                net.load_state_dict(kind[1])
                ests.append(float(_dv_of_values(net(jz), net(mz))[0]))
    est = sum(ests) / 2
    if _DEBUG:
        print("best", [(round(v, 3), k[:1] + (k[1:] if k[0] == "gauss" else ())) for v, k in best], "ests", ests)
    assert math.isfinite(est), est
    return est
