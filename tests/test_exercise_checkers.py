"""The checkers of notebooks 01-03 make the learner compute: each recomputes the expected value
from the learner's own tensors, so a correct answer passes while a typed plausible constant and a
hand-made tensor fail (issue 25)."""
from __future__ import annotations

import pytest
import torch

from uaelab.exercises import nb01, nb02, nb03
from uaelab.mi.mine import closed_form_mi


# -- notebook 03, exercise 1: the per-sample L∞ norm of PGD's examples ---------------------------
def _pgd_like(eps=0.5, n=4):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 8, 8, generator=g)
    sign = torch.randint(0, 2, x.shape, generator=g).float() * 2 - 1
    return x, (x + eps * sign).clamp(0, 1)  # sign steps projected on the ball and the box


def linf(x, x_adv):
    return (x_adv - x).flatten(1).abs().amax(1)


def test_pgd_linf_accepts_the_computed_norm():
    x, x_adv = _pgd_like()
    fb = nb03.check_pgd_linf(linf, x, x_adv, 0.5)
    assert fb and "mean L∞ = 0.5000" in fb.message


@pytest.mark.parametrize("constant", [lambda x, xa: 0.5, lambda x, xa: torch.full((len(x),), 0.5),
                                      lambda x, xa: torch.full((len(x),), 0.45)])
def test_pgd_linf_rejects_a_typed_constant(constant):
    x, x_adv = _pgd_like()
    assert not nb03.check_pgd_linf(constant, x, x_adv, 0.5)


def test_pgd_linf_names_the_usual_mistakes():
    x, x_adv = _pgd_like()
    assert "maximum" in nb03.check_pgd_linf(lambda a, b: (b - a).flatten(1).abs().mean(1), x, x_adv, 0.5).message
    assert "absolute" in nb03.check_pgd_linf(lambda a, b: (b - a).flatten(1).amax(1), x, x_adv, 0.5).message


def test_pgd_linf_rejects_a_hand_made_tensor():
    x, _ = _pgd_like()
    assert not nb03.check_pgd_linf(linf, x, x + 0.7, 0.5)  # outside the ball and the box
    assert not nb03.check_pgd_linf(linf, x, torch.rand(3, 1, 8, 8), 0.5)  # wrong shape


# -- notebook 01, exercise 3: per-sample MI of (itself, noisy copy, other image) ----------------
@pytest.fixture
def exact_mine(monkeypatch):
    """per_sample_mi replaced by a cheap deterministic stand-in (the checker's logic is under test;
    the solutions notebook runs it with the real estimator in strict mode)."""
    from uaelab.experiments import mine_gaussians

    def fake(x, x_other, mode="random", seed=0, **kw):
        return closed_form_mi(x, x_other, 4).clamp(max=6.0) - 0.01 * torch.arange(len(x)) + 0.001 * seed

    monkeypatch.setattr(mine_gaussians, "per_sample_mi", fake)
    return fake


def _pairs():
    g = torch.Generator().manual_seed(0)
    digit, other = torch.rand(1, 1, 8, 8, generator=g), torch.rand(1, 1, 8, 8, generator=g)
    noisy = (digit + 0.3 * torch.randn(digit.shape, generator=g)).clamp(0, 1)
    return torch.cat([digit] * 3), torch.cat([digit, noisy, other])


def test_mi_ordering_accepts_the_learners_estimates(exact_mine):
    x, x_other = _pairs()
    fb = nb01.check_mi_ordering(exact_mine(x, x_other), x, x_other)
    assert fb and "closed form" in fb.message


def test_mi_ordering_reports_a_flipped_order_without_rejecting_it(monkeypatch):
    from uaelab.experiments import mine_gaussians

    flipped = torch.tensor([4.0, 2.0, 3.0])  # MINE ranks the other image above the noisy copy
    monkeypatch.setattr(mine_gaussians, "per_sample_mi", lambda x, x_other, mode="random", seed=0: flipped)
    x, x_other = _pairs()
    fb = nb01.check_mi_ordering(flipped, x, x_other)
    assert fb and "flip" in fb.message


@pytest.mark.parametrize("typed", [[4.0, 3.0, 2.5], [5.0, 3.0, 2.0], (10, 1, 0)])
def test_mi_ordering_rejects_typed_constants(exact_mine, typed):
    x, x_other = _pairs()
    fb = nb01.check_mi_ordering(typed, x, x_other)
    assert not fb and "not per_sample_mi" in fb.message


def test_mi_ordering_rejects_hand_made_pairs(exact_mine):
    x, x_other = _pairs()
    swapped = torch.cat([x_other[1:2], x_other[0:1], x_other[2:]])  # the first partner is not the image itself
    assert not nb01.check_mi_ordering(exact_mine(x, swapped), x, swapped)
    assert not nb01.check_mi_ordering(exact_mine(x, x), x, x)  # every partner is the image itself
    assert not nb01.check_mi_ordering([float("nan"), 1, 1], x, x_other)
    assert not nb01.check_mi_ordering([1.0, 2.0], x, x_other)


# -- notebook 02, exercise 3: a targeted attack -------------------------------------------------
class Toy(torch.nn.Module):
    """Class 3 wins when the first pixel exceeds 0.2, else class 0."""

    def forward(self, x):
        logits = torch.full((len(x), 10), -10.0)
        logits[:, 0] = 1.0
        logits[:, 3] = 5.0 * x.flatten(1)[:, 0]
        return logits


def _targeted(eps=0.3):
    x = torch.full((4, 1, 2, 2), 0.1)
    x_adv = x.clone()
    x_adv[:3, 0, 0, 0] = 0.1 + eps  # three examples pushed across, the last one left as it was
    return x, x_adv, torch.tensor([True, True, True, False])


def test_targeted_accepts_the_attacks_tensors():
    x, x_adv, success = _targeted()
    fb = nb02.check_targeted(3, x, x_adv, success, epsilon=0.3, model=Toy())
    assert fb and "3/4 succeeded" in fb.message


def test_targeted_rejects_hand_made_tensors():
    x, x_adv, success = _targeted()
    toy = Toy()
    assert not nb02.check_targeted(3, x, x, torch.ones(4, dtype=torch.bool), model=toy)  # flags typed, no attack
    far = x.clone()
    far[:, 0, 0, 0] = 0.9  # classified as 3, but outside the ball
    fb = nb02.check_targeted(3, x, far, torch.ones(4, dtype=torch.bool), epsilon=0.3, model=toy)
    assert not fb and "outside the L∞ ball" in fb.message
    assert not nb02.check_targeted(3, x_adv, x_adv, success, epsilon=0.3, model=toy)  # x already class 3
    assert not nb02.check_targeted(3, x, x_adv, torch.zeros(4, dtype=torch.bool), epsilon=0.3, model=toy)
    assert not nb02.check_targeted(3, x, x_adv, torch.ones(4, dtype=torch.bool), epsilon=0.3, model=toy)
    fb = nb02.check_targeted(5, x, x_adv, success, epsilon=0.3, model=toy)  # untargeted result, wrong target
    assert not fb and "target=" in fb.message
    assert not nb02.check_targeted(3, x, x_adv + 2, success, model=toy)  # outside the pixel box
