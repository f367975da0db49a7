"""Exercise checkers for notebook 04 (MinMax vs penalty, Table 3 / Figure 2)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from uaelab.exercises import Feedback, failed, passed


def check_budget_split(budget: int, binary_steps: int, iterations_per_step: int) -> Feedback:
    """Exercise 1: iterations per binary-search step so that both methods use ``budget`` in all."""
    if iterations_per_step * binary_steps == budget:
        return passed(f"right: {binary_steps} steps × {iterations_per_step} = {budget} iterations, as MinMax gets")
    return failed(f"{binary_steps} × {iterations_per_step} = {binary_steps * iterations_per_step}, "
                  f"not the {budget} iterations MinMax runs")


def check_c_update(fn: Callable[[torch.Tensor, torch.Tensor, int, float], torch.Tensor]) -> Feedback:
    """Exercise 2: ``fn(c, f, t, beta) -> c_next``: Algorithm 1's ascent step on c,
    c ← max(0, (1 - β / t^{1/4})·c + β·max(f, 0)), t = 1, 2, ..."""
    c = torch.tensor([0.0, 0.5, 2.0, 1.0])
    f = torch.tensor([1.5, -0.3, 0.2, -2.0])
    cases = [(1, 0.1), (16, 0.1), (81, 0.5)]
    for t, beta in cases:
        want = ((1 - beta / t ** 0.25) * c + beta * f.clamp(min=0)).clamp(min=0)
        try:
            got = torch.as_tensor(fn(c.clone(), f.clone(), t, beta)).float()
        except Exception as exc:
            return failed(f"your function raised {type(exc).__name__}: {exc}")
        if got.shape != want.shape:
            return failed(f"return one c per sample, shape {tuple(want.shape)}")
        if not torch.allclose(got, want, atol=1e-6):
            plain = ((1 - beta / t ** 0.25) * c + beta * f).clamp(min=0)
            if torch.allclose(got, plain, atol=1e-6):
                return failed("use f⁺ = max(f, 0): a successful sample (f < 0) must not lower c directly")
            return failed(f"wrong at t = {t}, β = {beta}: expected {want.tolist()}, got {got.tolist()}")
    return passed("right: c grows while the attack fails (f > 0) and decays as 1 - β/t^{1/4} once it succeeds")


def check_higher_mi(answer: str, table3) -> Feedback:
    """Exercise 3: which method (``"minmax"`` or ``"penalty"``) reached the higher mean MI in your table."""
    answer = str(answer).strip().lower()
    if answer not in ("minmax", "penalty"):
        return failed("answer 'minmax' or 'penalty'")
    mi = table3["mean_mi"]
    if any(math.isnan(float(v)) for v in mi):
        return failed("one method has no successful sample, so its mean MI is undefined; raise the budget")
    want = "minmax" if mi["minmax"] > mi["penalty"] else "penalty"
    paper = "as the paper claims" if want == "minmax" else "unlike the paper's Table 3"
    if answer == want:
        return passed(f"right: {want} reached {mi[want]:.2f} here, {paper}")
    return failed(f"read the mean_mi column again: {want} has {mi[want]:.2f}")
