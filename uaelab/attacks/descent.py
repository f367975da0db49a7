"""What the primal-dual solvers share (MinMax, the penalty baseline, L2-UAE, no-MI), as explicit
helpers; each solver's file reads top to bottom with these and nothing of another solver.

* :class:`DescentAttack`: the base of those solvers; it adds the start δ0 (``_init_x``, from the
  settings' ``delta_init``, see :func:`start_point`).
* A *term* is what the loop trades against the criterion: an object with ``value(x', t) ->
  (value [B], tensors, d value / d tensors)`` (the tensors and weights for the chain rule) and
  ``reset()`` (a fresh start, e.g. for each binary-search step). :class:`MITerm`: the per-sample
  MI, from MINE networks or in closed form (``mine.estimator``); :class:`NoTerm`: none.
* :func:`descend`: T projected gradient steps on ``c·f⁺ ∓ term`` (the projection:
  :func:`~uaelab.attacks.base.project`), with an optional dual step on c after each.
* :func:`dual_step`: Algorithm 1's ascent c ← max(0, (1 − β/t^p)·c + β·f⁺).
* The success rule: :class:`Best` keeps each sample's best successful iterate (largest term for
  "max"; for "min" the smallest positive one, else the one closest to 0) and its lowest-f
  iterate; :func:`merge` combines two runs' bests by the same rule (:func:`prefer`).
* :func:`finish`: the :class:`AttackResult`, with the fallback for never-successful samples.
* :func:`algorithm1`: all of it for MinMax-style settings (MinMax, L2-UAE and no-MI differ in
  their term and direction only).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor
from tqdm.auto import tqdm

from uaelab.attacks.base import Attack, AttackResult, project
from uaelab.mi.mine import closed_form_mi
from uaelab.utils import check_epsilon, generator

NOT_FOUND = 2  # tier of a sample without a successful iterate


# -- the start δ0 ------------------------------------------------------------------------------
def glorot_limit(sample_shape) -> float:
    """Half-width a of TF1's default (Glorot-uniform) initialiser U(−a, a) for the released δ.

    The released code creates δ with ``tf.get_variable('modifier', (1, H, W, C))`` and no
    initializer, so it starts Glorot-uniform: for a 4-d shape TF takes fan_in = H·W and
    fan_out = H·C, so a = sqrt(6 / (H·W + H·C)) (0.086 for MNIST 28×28×1, 0.075 for
    CIFAR 32×32×3). ``sample_shape`` is C×H×W for images or (d,) for tabular data, whose
    (1, d) variable gives a = sqrt(6 / (1 + d)).
    """
    if len(sample_shape) == 3:
        c, h, w = sample_shape
        fan_in, fan_out = h * w, h * c
    elif len(sample_shape) == 1:
        fan_in, fan_out = 1, sample_shape[0]
    else:
        raise ValueError(f"glorot start needs a C×H×W or (d,) sample, got shape {tuple(sample_shape)}")
    return math.sqrt(6.0 / (fan_in + fan_out))


def start_limit(sample_shape, units: str = "native") -> float:
    """Half-width of the Glorot δ0: :func:`glorot_limit` of the sample's shape, or with
    ``units="mnist"`` at most MNIST's 0.086. TF's rule grows as inputs shrink (0.29 on 8×8
    digits, where no start that large keeps f <= 0); the released code was run on 28×28 and
    32×32×3 images, where it gave 0.086 and 0.075."""
    a = glorot_limit(sample_shape)
    return min(a, glorot_limit((1, 28, 28))) if units == "mnist" else a


def start_point(x: Tensor, idx: Tensor, eps: float, *, mode: str, seed: int, units: str = "native") -> Tensor:
    """x + δ0 for ``delta_init`` = ``mode``: "zero" (x itself), "uniform" (U(−ε, ε)) or "glorot"
    (U(−a, a), a = :func:`start_limit`, at most ε), projected. One generator per sample index,
    so a sample's start does not depend on its batch."""
    if mode == "zero":
        return x.clone()
    half = eps if mode == "uniform" else min(eps, start_limit(tuple(x.shape[1:]), units))
    noise = torch.stack([torch.rand(x.shape[1:], generator=generator(seed, "delta", int(i)))
                         for i in idx]).to(x.device)
    return project(x + (2 * noise - 1) * half, x, eps)


class DescentAttack(Attack):
    """Base of the solvers that descend from a start δ0 (settings with ``delta_init``)."""

    def _init_x(self, x: Tensor, idx: Tensor, eps: float) -> Tensor:
        return start_point(x, idx, eps, mode=self.settings.delta_init, seed=self.seed,
                           units=getattr(self.settings, "units", "native"))


# -- terms -------------------------------------------------------------------------------------
class MITerm:
    """I(x; x') per sample: per-sample MINE networks trained as the attack goes (``mine.steps``
    Adam steps per iteration), or with ``mine.estimator="closed-form"`` the exact MI of
    random-sampling mode (:func:`~uaelab.mi.mine.closed_form_mi`; differentiable, no networks)."""

    def __init__(self, attack: Attack, x: Tensor, idx: Tensor):
        self.x = x
        self.settings = attack.mine_settings
        self.mine = None if self.settings.estimator == "closed-form" else attack.new_mine(x, idx)

    def value(self, xa: Tensor, t: int):
        if self.mine is None:  # closed form: exact, differentiable, no statistics networks
            ms = self.settings
            mi = closed_form_mi(self.x, xa, ms.m, floor=ms.closed_form_floor)
            return mi.detach(), [mi], [torch.ones_like(mi)]
        b = self.mine.features(xa, t)
        self.mine.train(xa, b.detach(), it=t)
        val, g = self.mine.value(b.detach(), it=t, grad=True)
        return val, [b], [g]

    def reset(self) -> None:
        """Fresh statistics networks and Adam state (the closed form has no state to reset)."""
        if self.mine is not None:
            self.mine.reset()


class NoTerm:
    """No term: a NaN value (never "better" under :func:`prefer`, so the first successful iterate
    is kept) and nothing for the chain rule."""

    def value(self, xa: Tensor, t: int):
        return torch.full((xa.shape[0],), float("nan"), device=xa.device), [], []

    def reset(self) -> None:
        pass


# -- the success rule --------------------------------------------------------------------------
def tier_of(sim: Tensor, direction: str) -> Tensor:
    """Rank of a successful iterate's term: 0 for "max" (any); for "min" 0 if it is > 0, else 1."""
    return torch.zeros(sim.shape, dtype=torch.long, device=sim.device) if direction == "max" \
        else torch.where(sim > 0, 0, 1)


def prefer(tier: Tensor, sim: Tensor, best_tier: Tensor, best_sim: Tensor, direction: str) -> Tensor:
    """Whether a candidate (tier, sim) beats the kept (best_tier, best_sim): a lower tier, or the
    same tier and a larger term ("max"), a smaller positive one or one closer to 0 ("min")."""
    if direction == "max":
        closer = sim > best_sim
    else:
        closer = torch.where(tier == 0, sim < best_sim, sim > best_sim)
    return (tier < best_tier) | ((tier == best_tier) & closer)


class Best:
    """Each sample's best successful iterate so far (f <= 0, ranked by :func:`prefer`) and its
    lowest-f iterate (the ``fallback="lowest_f"`` answer), starting from the start x0 = ``xa``."""

    def __init__(self, x: Tensor, xa: Tensor, f: Tensor, sim: Tensor, direction: str):
        B, dev = x.shape[0], x.device
        self.direction = direction
        self.view = (-1,) + (1,) * (x.dim() - 1)
        self.x = x.clone()
        self.sim = torch.full((B,), float("nan"), device=dev)
        self.f = torch.full((B,), float("nan"), device=dev)
        self.tier = torch.full((B,), NOT_FOUND, device=dev)
        self.low_x, self.low_f, self.low_sim = xa.detach().clone(), f.detach().clone(), sim.clone()

    def update(self, xa: Tensor, f: Tensor, sim: Tensor) -> Tensor:
        """Judge one iterate (detached x', f, term): keep it where it is the best successful one
        so far, track the lowest f; returns its success mask f <= 0."""
        succ = f <= 0
        cand = tier_of(sim, self.direction)
        better = succ & prefer(cand, sim, self.tier, self.sim, self.direction)
        self.x = torch.where(better.view(self.view), xa, self.x)
        self.sim = torch.where(better, sim, self.sim)
        self.f = torch.where(better, f, self.f)
        self.tier = torch.where(better, cand, self.tier)
        lower = f < self.low_f
        self.low_x = torch.where(lower.view(self.view), xa, self.low_x)
        self.low_f = torch.where(lower, f, self.low_f)
        self.low_sim = torch.where(lower, sim, self.low_sim)
        return succ

    def as_dict(self) -> dict:
        return dict(best_x=self.x, best_sim=self.sim, best_f=self.f, found=self.tier < NOT_FOUND,
                    low_x=self.low_x, low_f=self.low_f, low_sim=self.low_sim)


def merge(a: dict, b: dict, direction: str) -> dict:
    """Combine two runs' outputs (:func:`descend`) per sample: b's best where :func:`prefer` ranks
    it above a's, the lower of the lowest-f iterates, histories concatenated, the rest b's."""
    def rank(o):
        return torch.where(o["found"], tier_of(o["best_sim"], direction), NOT_FOUND)

    ra, rb = rank(a), rank(b)
    take = (rb < NOT_FOUND) & prefer(rb, b["best_sim"], ra, a["best_sim"], direction)
    view = (-1,) + (1,) * (a["best_x"].dim() - 1)
    out = dict(b)
    out["best_x"] = torch.where(take.view(view), b["best_x"], a["best_x"])
    for k in ("best_sim", "best_f"):
        out[k] = torch.where(take, b[k], a[k])
    out["found"] = a["found"] | b["found"]
    lower = b["low_f"] < a["low_f"]
    out["low_x"] = torch.where(lower.view(view), b["low_x"], a["low_x"])
    out["low_f"] = torch.where(lower, b["low_f"], a["low_f"])
    out["low_sim"] = torch.where(lower, b["low_sim"], a["low_sim"])
    out["history"] = {k: torch.cat([a["history"][k], b["history"][k]]) for k in a["history"]}
    return out


# -- the dual step and the loop ----------------------------------------------------------------
def dual_step(c: Tensor, f: Tensor, t: int, *, beta: float, power: float) -> Tensor:
    """Algorithm 1's ascent on c at iteration t: c ← max(0, (1 − β/t^p)·c + β·f⁺)."""
    return ((1 - beta / t ** power) * c + beta * f.clamp(min=0)).clamp(min=0)


def descend(attack: Attack, x: Tensor, x0: Tensor, crit, term, direction: str, c: Tensor, *,
            T: int, alpha: float, eps: float, dual=None, before: bool = False) -> dict:
    """T iterations from x0 = x + δ0, for every sample at once:

    1. δ ← δ − α·(c·∇f⁺(x+δ) ∓ ∇term)  (− for "max", + for "min"); ∇f⁺ = 0 where f <= 0;
    2. project δ to [−ε, ε] and x+δ to [0, 1];
    3. the term at the new iterate (``term.value``: e.g. MINE steps, then I_t);
    4. ``c ← dual(c, f, t)`` with f of the judged iterate (``dual=None``: c stays fixed);
    5. judge an iterate by the success rule (:class:`Best`): the new one δ_t, or with
       ``before=True`` (the released loop) δ_{t-1}, judged before its update.

    Returns :meth:`Best.as_dict` plus ``c``, ``last_sim`` (the term at the last iterate) and
    ``history`` ({"mi", "f", "c", "success"} -> [T, B], of the judged iterates).
    """
    check_epsilon(eps)
    sign = -1.0 if direction == "max" else 1.0  # loss = c·f⁺ + sign·term
    xa = x0.requires_grad_(True)
    with torch.enable_grad():
        f = attack.evaluate(crit, xa)
        sim, outs, gs = term.value(xa, 0)
    best = Best(x, xa, f, sim, direction)
    hist = {k: [] for k in ("mi", "f", "c", "success")}
    its = range(1, T + 1)
    if attack.progress:
        its = tqdm(its, desc=type(attack).__name__, leave=False)
    for t in its:
        if before:  # the released loop judges x+δ_{t-1} (fetched with its update), δ_0 included
            judged = (xa.detach(), f.detach(), sim)
        # 1-2: gradient step on c·f⁺ ∓ term, then projection; f⁺ has no gradient where f <= 0
        gf = c * (f.detach() > 0).float()
        # the chain rule as the gradient of one scalar, Σ sign·<o, g> + <f, gf> (the same
        # gradient: d<o, g>/do = g exactly), not autograd.grad with grad_outputs: that form
        # imports sympy on its first call (torch's shape checks), 0.5 s of a T = 4 attack
        pairs = [(o, sign * g.flatten()) for o, g in zip(outs, gs) if o.requires_grad]
        pairs += [(f, gf)] if f.requires_grad else []
        grad = torch.autograd.grad(sum(torch.dot(o.flatten(), g) for o, g in pairs), xa,
                                   allow_unused=True)[0] if pairs else None
        with torch.no_grad():
            nxt = project(xa - alpha * (grad if grad is not None else 0.0), x, eps)
        xa = nxt.requires_grad_(True)
        # 3: the term at the new iterate
        with torch.enable_grad():
            f = attack.evaluate(crit, xa)
            sim, outs, gs = term.value(xa, t)
        if not before:
            judged = (xa.detach(), f.detach(), sim)
        # 4: ascent on c, with f of the judged iterate
        if dual is not None:
            c = dual(c, judged[1], t)
        # 5: best successful iterate
        succ = best.update(*judged)
        for k, v in (("mi", judged[2]), ("f", judged[1]), ("c", c), ("success", succ)):
            hist[k].append(v.detach().clone())
        attack.notify(t, x, xa, c)
    return dict(best.as_dict(), c=c, last_sim=sim, history={k: torch.stack(v) for k, v in hist.items()})


def algorithm1(attack: Attack, x: Tensor, idx: Tensor, crit, term, direction: str) -> AttackResult:
    """Algorithm 1 with ``term`` as the similarity: :func:`descend` from δ0 with the dual step,
    then :func:`finish`; the budgets, c0, δ0, ``judge`` and ``fallback`` are the attack's
    settings (fields of :class:`~uaelab.attacks.MinMaxSettings`)."""
    s = attack.settings
    c = torch.full((x.shape[0],), float(s.c0), device=x.device)
    out = descend(attack, x, attack._init_x(x, idx, s.epsilon), crit, term, direction, c,
                  T=s.T, alpha=s.alpha, eps=s.epsilon, before=s.judge == "before_step",
                  dual=lambda c, f, t: dual_step(c, f, t, beta=s.beta, power=s.dual_power))
    return finish(attack, x, crit, out, s.fallback)


def finish(attack: Attack, x: Tensor, crit, out: dict, fallback: str) -> AttackResult:
    """The result of :func:`descend`'s output: each sample's best successful iterate; where none
    succeeded, the original x (``fallback="original"``) or the lowest-f iterate ("lowest_f")."""
    found = out["found"]
    view = (-1,) + (1,) * (x.dim() - 1)
    if fallback == "lowest_f":
        fb_x, fb_f, fb_sim = out["low_x"], out["low_f"], out["low_sim"]
    else:
        with torch.no_grad():
            fb_f = attack.evaluate(crit, x)
        fb_x, fb_sim = x, torch.full_like(fb_f, float("nan"))
    return AttackResult(
        x_adv=torch.where(found.view(view), out["best_x"], fb_x),
        success=found,
        mi_final=out["last_sim"],
        mi_best=torch.where(found, out["best_sim"], fb_sim),
        c=out["c"],
        f=torch.where(found, out["best_f"], fb_f),
        history=out["history"],
    )
