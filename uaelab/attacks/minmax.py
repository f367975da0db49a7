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

from dataclasses import dataclass
from typing import Literal

from torch import Tensor

from uaelab.attacks.base import AttackResult

# glorot_limit and start_limit lived here before issue 26; still importable from this module
from uaelab.attacks.descent import DescentAttack, MITerm, algorithm1, glorot_limit, start_limit  # noqa: F401
from uaelab.config import Settings, register
from uaelab.utils import check_epsilon


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
    # uaelab.attacks.criteria.TiledContrastive for what that computes)
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


class MinMax(DescentAttack):
    """MinMax attack; ``MinMax(model, criterion=None, settings=MinMaxSettings(), *, mine=
    MineSettings(), seed=0)``, then ``attack(x, y=None, indices=None) -> AttackResult``."""

    settings_cls = MinMaxSettings

    def _run(self, x: Tensor, y: Tensor | None, idx: Tensor, crit) -> AttackResult:
        direction = self.direction(crit)
        return algorithm1(self, x, idx, crit, MITerm(self, x, idx), direction)
