"""MinMax attack (Algorithm 1 of the paper): alternating projected gradient descent on δ and
ascent on the penalty coefficient c, with per-sample MINE as the similarity.

Per iteration t = 1..T, for every sample at once:

1. δ ← δ − α·(c·∇f⁺(x+δ) ∓ ∇I(x; x+δ))  (− for "max" MI, + for "min"); ∇f⁺ = 0 where f <= 0;
2. project δ to [−ε, ε] and x+δ to [0, 1];
3. ``mine.steps`` Adam steps of the per-sample statistics networks, then I_t = I(x; x+δ);
4. c ← max(0, (1 − β/t^p)·c + β·f⁺(x+δ)), p = ``dual_power`` (1/4 in the paper);
5. keep the best successful iterate: largest I ("max"), smallest positive I ("min"; if no
   successful iterate has I > 0, the successful one with I closest to 0). ``judge`` says which
   iterates compete: the new ones δ_1..δ_T (the paper) or, as the released code does,
   δ_0..δ_{T-1}, each judged before its update (so a random start that succeeds counts).

A sample without any successful iterate returns its original x, flagged unsuccessful (the
released unsupervised code returns its lowest-f iterate instead: ``fallback="lowest_f"``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..config import Settings, register
from ..mine import closed_form_mi
from ..utils import check_epsilon, generator
from .base import Attack, AttackResult, project


@register("minmax")
@dataclass(frozen=True)
class MinMaxSettings(Settings):
    """Settings of the MinMax attack; defaults are the paper's (Section 4.1, Algorithm 1)."""

    alpha: float = 0.01  # step size of the gradient step on δ
    beta: float = 0.1  # step size of the ascent on c
    T: int = 40  # iterations
    epsilon: float = 1.0  # L∞ bound on δ (1 = no bound in the [0, 1] box)
    kappa: float = 0.0  # margin κ of the default criterion (when none is passed)
    c0: float = 0.0  # initial c (paper 0; released code 1e-3)
    delta_init: Literal["zero", "uniform", "glorot"] = "zero"  # δ0: 0 (paper), U(−ε, ε), or glorot (code)
    direction: Literal["auto", "max", "min"] = "auto"  # MI direction; auto = the criterion's
    fallback: Literal["original", "lowest_f"] = "original"  # what a never-successful sample returns
    # which iterates compete for "best successful": "after_step" (the paper's Algorithm 1: each new
    # iterate δ_1..δ_T) or "before_step" (the released loop fetches x+δ and f with the update op,
    # i.e. before the step: δ_0..δ_{T-1}, so a successful random start counts; c is updated with
    # that same pre-step f)
    judge: Literal["after_step", "before_step"] = "after_step"
    recon_norm: Literal["l2", "sq"] = "l2"  # default reconstruction criterion: paper l2, code sq
    # "mnist": inputs smaller than MNIST's 784 values get the released code's MNIST scale: the
    # reconstruction criterion (and L2-UAE's objective) ×784/d and the Glorot δ0 of a 28×28
    # image; so α, β and c0 act as they did on MNIST. Same as "native" for inputs >= 784 values.
    units: Literal["native", "mnist"] = "native"
    # exponent p of the dual step c ← (1 − β/t^p)·c + β·f⁺: 1/4 in Algorithm 1 and the released
    # autoencoder attack; the released SimCLR attack uses 1/2 (contrast_attack.py)
    dual_power: float = 0.25
    # default criterion of a SimCLR model (kind="simclr"): "views" (x' against fixed augmented
    # views of x, this package's reading of Section 4.6) or "tiled" (the released code: the
    # NT-Xent loss of a batch of `copies` copies of x', two views each, minus that of x; see
    # uaelab.criteria.TiledContrastive for what that computes)
    contrastive: Literal["views", "tiled"] = "views"
    copies: int = 50  # copies per sample of the "tiled" criterion (released: 50)

    PROFILES = {"quick": {"T": 20}, "paper": {}}
    KEY_OMIT_AT_DEFAULT = ("dual_power", "contrastive", "copies")

    def validate(self) -> None:
        check_epsilon(self.epsilon)
        if self.alpha <= 0 or self.beta < 0 or self.T < 1 or self.c0 < 0 or self.kappa < 0:
            raise ValueError("minmax needs alpha > 0, beta >= 0, T >= 1, c0 >= 0, kappa >= 0")
        if not 0 < self.dual_power <= 1:
            raise ValueError(f"dual_power must lie in (0, 1] (1/4: the paper; 1/2: the released SimCLR "
                             f"attack), got {self.dual_power}")
        if self.contrastive not in ("views", "tiled") or self.copies < 2:
            raise ValueError("contrastive must be 'views' or 'tiled', and copies >= 2")

    @classmethod
    def reference_code(cls, **overrides) -> "MinMaxSettings":
        """The released code's choices: c0 = 1e-3, summed-squares reconstruction criterion,
        lowest-f iterate returned when nothing succeeds, and a random δ0 from the framework's
        default initialiser (the intended uniform(−ε, ε) start never took effect; TF1's
        ``get_variable`` default is Glorot-uniform, see :func:`glorot_limit`)."""
        return cls.from_dict({**REFERENCE_CODE, **overrides})


# The released code's choices where they differ from the paper (REFERENCE.md); shared by
# MinMaxSettings.reference_code and make_attack(preset="reference_code").
# "units": "mnist" changes nothing on MNIST-sized or larger inputs (the released code's data);
# on smaller ones (digits 8×8, Isolet, COIL-20 at 20×20) it keeps the released step sizes
# effective (see MinMaxSettings.units)
REFERENCE_CODE = {"c0": 1e-3, "recon_norm": "sq", "fallback": "lowest_f", "delta_init": "glorot",
                  "units": "mnist", "judge": "before_step"}


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


class MinMax(Attack):
    """MinMax attack; ``MinMax(model, criterion=None, settings=MinMaxSettings(), *, mine=
    MineSettings(), seed=0)``, then ``attack(x, y=None, indices=None) -> AttackResult``."""

    settings_cls = MinMaxSettings
    uses_mine = True

    # -- the similarity term (overridden by L2UAE and NoMI) -----------------------------------
    def _sim_start(self, x: Tensor, idx: Tensor) -> None:
        self._x = x
        self._mine = None if self.mine_settings.estimator == "closed-form" else self.new_mine(x, idx)

    def _sim(self, xa: Tensor, t: int):
        """Value [B] of the similarity at x' = xa, plus (tensors, dsim/dtensors) for the chain rule."""
        if self._mine is None:  # closed form: exact, differentiable, no statistics networks
            ms = self.mine_settings
            mi = closed_form_mi(self._x, xa, ms.m, floor=ms.closed_form_floor)
            return mi.detach(), [mi], [torch.ones_like(mi)]
        b = self._mine.features(xa, t)
        self._mine.train(xa, b.detach(), it=t)
        val, g = self._mine.value(b.detach(), it=t, grad=True)
        return val, [b], [g]

    def _init_x(self, x: Tensor, idx: Tensor, eps: float) -> Tensor:
        mode = self.settings.delta_init
        if mode == "zero":
            return x.clone()
        half = eps if mode == "uniform" else min(eps, start_limit(tuple(x.shape[1:]),
                                                                      getattr(self.settings, "units", "native")))
        # One generator per sample index, so a sample's start does not depend on its batch.
        noise = torch.stack([torch.rand(x.shape[1:], generator=generator(self.seed, "delta", int(i)))
                             for i in idx]).to(x.device)
        return project(x + (2 * noise - 1) * half, x, eps)

    # -- the loop ----------------------------------------------------------------------------
    def _loop(self, x: Tensor, idx: Tensor, crit, direction: str, c: Tensor, *, fixed_c: bool) -> dict:
        s = self.settings
        eps, alpha = s.epsilon, s.alpha
        check_epsilon(eps)
        sign = -1.0 if direction == "max" else 1.0  # loss = c·f⁺ + sign·I
        B = x.shape[0]
        dev = x.device
        xa = self._init_x(x, idx, eps).requires_grad_(True)
        with torch.enable_grad():
            f = self.evaluate(crit, xa)
            sim, outs, gs = self._sim(xa, 0)
        best_x = x.clone()
        best_sim = torch.full((B,), float("nan"), device=dev)
        best_f = torch.full((B,), float("nan"), device=dev)
        tier = torch.full((B,), 2, device=dev)  # 0: I > 0 (or "max"), 1: I <= 0 ("min"), 2: none
        low_x, low_f, low_sim = xa.detach().clone(), f.detach().clone(), sim.clone()
        hist = {k: [] for k in ("mi", "f", "c", "success")}
        its = range(1, s.T + 1)
        if self.progress:
            its = tqdm(its, desc=type(self).__name__, leave=False)
        view = (-1,) + (1,) * (x.dim() - 1)

        def judge(xa_d: Tensor, fd: Tensor, sim: Tensor) -> Tensor:
            """Step 5 for one iterate: keep it if it is the best successful one so far (and track
            the lowest-f iterate for the fallback); returns its success mask."""
            nonlocal best_x, best_sim, best_f, tier, low_x, low_f, low_sim
            succ = fd <= 0
            if direction == "max":
                cand = torch.zeros_like(tier)
                better = succ & ((tier > 0) | (sim > best_sim))
            else:
                cand = torch.where(sim > 0, 0, 1)
                closer = torch.where(cand == 0, sim < best_sim, sim > best_sim)
                better = succ & ((cand < tier) | ((cand == tier) & closer))
            best_x = torch.where(better.view(view), xa_d, best_x)
            best_sim = torch.where(better, sim, best_sim)
            best_f = torch.where(better, fd, best_f)
            tier = torch.where(better, cand, tier)
            lower = fd < low_f
            low_x = torch.where(lower.view(view), xa_d, low_x)
            low_f = torch.where(lower, fd, low_f)
            low_sim = torch.where(lower, sim, low_sim)
            return succ

        before = getattr(s, "judge", "after_step") == "before_step"  # the penalty baseline has no judge
        for t in its:
            if before:  # the released loop judges x+δ_{t-1} (fetched with its update), δ_0 included
                judged = (xa.detach(), f.detach(), sim)
            # 1-2: gradient step on c·f⁺ ∓ I, then projection; f⁺ has no gradient where f <= 0
            gf = c * (f.detach() > 0).float()
            pairs = [(o, g) for o, g in zip([*outs, f], [sign * g for g in gs] + [gf]) if o.requires_grad]
            grad = torch.autograd.grad([o for o, _ in pairs], xa, [g for _, g in pairs],
                                       allow_unused=True)[0] if pairs else None
            with torch.no_grad():
                nxt = project(xa - alpha * (grad if grad is not None else 0.0), x, eps)
            xa = nxt.requires_grad_(True)
            # 3: MINE steps and the new estimate
            with torch.enable_grad():
                f = self.evaluate(crit, xa)
                sim, outs, gs = self._sim(xa, t)
            if not before:
                judged = (xa.detach(), f.detach(), sim)
            # 4: ascent on c, with f of the judged iterate
            if not fixed_c:  # (the Penalty baseline keeps c fixed and has no beta)
                c = ((1 - s.beta / t ** s.dual_power) * c + s.beta * judged[1].clamp(min=0)).clamp(min=0)
            # 5: best successful iterate
            succ = judge(*judged)
            for k, v in (("mi", judged[2]), ("f", judged[1]), ("c", c), ("success", succ)):
                hist[k].append(v.detach().clone())
            self.notify(t, x, xa, c)
        return dict(best_x=best_x, best_sim=best_sim, best_f=best_f, found=tier < 2, c=c,
                    last_sim=sim, low_x=low_x, low_f=low_f, low_sim=low_sim,
                    history={k: torch.stack(v) for k, v in hist.items()})

    def _finish(self, x: Tensor, crit, out: dict) -> AttackResult:
        found = out["found"]
        view = (-1,) + (1,) * (x.dim() - 1)
        if self.settings.fallback == "lowest_f":
            fb_x, fb_f, fb_sim = out["low_x"], out["low_f"], out["low_sim"]
        else:
            with torch.no_grad():
                fb_f = self.evaluate(crit, x)
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

    def _run(self, x: Tensor, y: Tensor | None, idx: Tensor, crit) -> AttackResult:
        direction = self.direction(crit)
        self._sim_start(x, idx)
        c = torch.full((x.shape[0],), float(self.settings.c0), device=x.device)
        out = self._loop(x, idx, crit, direction, c, fixed_c=False)
        return self._finish(x, crit, out)
