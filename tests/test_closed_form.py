"""The closed form of per-sample MI in random-sampling mode: I = -(m/2)·log(1 - cos²(x, x'))."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from uaelab.mi.mine import RandomSampler, closed_form_mi, estimate_mi


def _digit_pair(noise: float, seed: int = 1):
    from uaelab.data import load_dataset

    x = load_dataset("digits").x_test[:1].reshape(1, -1)
    g = torch.Generator().manual_seed(seed)
    return x, (x + noise * torch.randn(x.shape, generator=g)).clamp(0, 1)


def test_formula_and_cosine():
    x = torch.rand(4, 1, 5, 5)
    xa = torch.rand(4, 1, 5, 5)
    rho = F.cosine_similarity(x.flatten(1), xa.flatten(1))
    torch.testing.assert_close(closed_form_mi(x, xa, 7), -3.5 * torch.log(1 - rho ** 2))


def test_blind_to_contrast_and_monotone_in_cosine():
    x = torch.rand(1, 64) + 0.1
    same = closed_form_mi(x, 0.5 * x, 8, floor=1e-6)
    assert same.item() == pytest.approx(-4 * math.log(1e-6), rel=1e-3)  # ρ = 1: capped by the floor
    near, far = _digit_pair(0.05)[1], _digit_pair(0.5)[1]
    x0 = _digit_pair(0.0)[0]
    assert closed_form_mi(x0, near, 8) > closed_form_mi(x0, far, 8)


@pytest.mark.parametrize("m", [32, 128])
def test_standardised_sampler_pairs_have_the_cosine_as_correlation(m):
    # the sampler's standardised vectors: 1 - ρ̂² lies within (1 + 3/m) of 1 - cos², above it
    for noise in (0.05, 0.2, 0.5):
        x, xa = _digit_pair(noise)
        smp = RandomSampler(64, 1000, m, seed=0)
        rho_hat = (smp(x)[0] * smp(xa)[0]).mean().item()  # unit variance: mean product = ρ̂
        cos = F.cosine_similarity(x, xa).item()
        ratio = (1 - rho_hat ** 2) / (1 - cos ** 2)
        assert 1.0 <= ratio <= 1 + 3 / m, (m, noise, ratio)


def test_matches_mine_estimate_where_mine_is_accurate():
    # MINE on the (unstandardised) projected pairs of one digit, at MI <= 2 nats
    x, xa = _digit_pair(1.0, seed=3)
    m, K = 4, 6000
    P = torch.randn(64, K * m, generator=torch.Generator().manual_seed(0)) / math.sqrt(m)
    a, b = (x @ P).view(K, m), (xa @ P).view(K, m)
    true = closed_form_mi(x, xa, m).item()
    assert 0.3 < true < 2.0, true
    est = estimate_mi(a / a.std(), b / b.std(), steps=800, batch_size=500, seed=0)
    assert est == pytest.approx(true, rel=0.15), (est, true)


def test_bad_inputs():
    x = torch.rand(2, 8)
    with pytest.raises(ValueError, match="same shape"):
        closed_form_mi(x, torch.rand(3, 8), 4)
    with pytest.raises(ValueError, match="m must be"):
        closed_form_mi(x, x, 0)
    with pytest.raises(ValueError, match="non-zero"):
        closed_form_mi(torch.zeros(1, 8), torch.rand(1, 8), 4)
