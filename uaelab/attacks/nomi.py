"""No-MI ablation: Algorithm 1 with the MI term removed (``make_attack("no-mi", model)``).

Everything else is MinMax's (the shared helpers of :mod:`uaelab.attacks.descent`): the same δ0
(``delta_init``), the gradient step on c·f⁺ alone, the projection, the dual ascent on c and the
success rule f(x') <= 0. It is the control that tells what the per-sample MINE term adds to a
UAE: with MI gone, only the criterion moves δ. The MINE settings (``mine.estimator`` included)
are accepted and unused.

Which iterate it returns: the first successful one. That is also the last, because at a
successful iterate f <= 0, so ∇f⁺ = 0 and, with no MI gradient, δ does not move again; the
iterate is therefore unique and needs no MI to be selected. A sample that never succeeds returns
its original x, or its lowest-f iterate with ``fallback="lowest_f"`` (the released preset).
No MI is measured (``mi_best`` and the history's "mi" are NaN).
"""
from __future__ import annotations

from torch import Tensor

from uaelab.attacks.base import AttackResult
from uaelab.attacks.descent import DescentAttack, NoTerm, algorithm1
from uaelab.attacks.minmax import MinMaxSettings


class NoMI(DescentAttack):
    """``NoMI(model, criterion=None, settings=MinMaxSettings(), *, seed=0)``."""

    settings_cls = MinMaxSettings

    def _run(self, x: Tensor, y: Tensor | None, idx: Tensor, crit) -> AttackResult:
        return algorithm1(self, x, idx, crit, NoTerm(), self.direction(crit))
