"""Exercise checkers of notebooks 01–05: right answers pass, typical mistakes get specific feedback."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import torch

from uaelab.exercises import nb01, nb02, nb03, nb04, nb05
from uaelab.experiments import classifier_setup


def test_nb01_true_mi():
    right = -math.log(1 - 0.64)
    assert nb01.check_true_mi(right)
    assert "bits" in nb01.check_true_mi(right / math.log(2)).message
    assert "add up" in nb01.check_true_mi(right / 2).message
    assert not nb01.check_true_mi(None)
    assert "never negative" in nb01.check_true_mi(-right).message


def test_nb01_dv_bound():
    def good(j, m):
        return j.mean(1) - (torch.logsumexp(m, 1) - math.log(m.shape[1]))

    def overflowing(j, m):
        return j.mean(1) - torch.log(torch.exp(m).mean(1))

    assert nb01.check_dv_bound(good)
    fb = nb01.check_dv_bound(overflowing)
    assert not fb and "logsumexp" in fb.message
    assert "log" in nb01.check_dv_bound(lambda j, m: j.mean(1) - m.exp().mean(1)).message
    assert "raised" in nb01.check_dv_bound(lambda j, m: 1 / 0).message


def test_nb02_cw_margin():
    def good(logits, y):
        own = logits.gather(1, y[:, None]).squeeze(1)
        return own - logits.masked_fill(torch.nn.functional.one_hot(y, 10).bool(), float("-inf")).amax(1)

    assert nb02.check_cw_margin(good)
    assert "sign" in nb02.check_cw_margin(lambda l, y: -good(l, y)).message
    no_mask = nb02.check_cw_margin(lambda l, y: l.gather(1, y[:, None]).squeeze(1) - l.amax(1))
    assert not no_mask and "exclude" in no_mask.message


@pytest.fixture
def tiny_net(monkeypatch, tmp_cache):
    from test_experiments_part1 import briefly_trained

    monkeypatch.setattr(classifier_setup, "classifier_for",
                        lambda data, profile=None, seed=0: (briefly_trained(data, seed), {}))


def test_nb02_small_epsilon_runs_the_attack(tiny_net):
    too_big = nb02.check_small_epsilon(1.0, n=4, T=15)
    assert not too_big and "too large" in too_big.message
    assert nb02.check_small_epsilon(0.001, n=4, T=5)
    assert not nb02.check_small_epsilon(0.0)


def test_nb03_checkers():
    ok = torch.tensor([[True, False], [True, True]])
    assert nb03.check_cross_mask(ok, ~ok)
    assert "~success" in nb03.check_cross_mask(ok, ok).message
    assert not nb03.check_cross_mask(ok, (~ok).float())
    table = pd.DataFrame({0.1: [0.5, 1.0], 0.2: [1.0, 1.0]}, index=["minmax", "pgd"])
    assert nb03.check_smallest_epsilon(0.2, "minmax", table)
    assert not nb03.check_smallest_epsilon(0.1, "minmax", table)
    assert nb03.check_smallest_epsilon(0.1, "pgd", table)
    assert not nb03.check_smallest_epsilon(None, "minmax", table)


def test_nb04_checkers():
    assert nb04.check_budget_split(9000, 9, 1000)
    assert not nb04.check_budget_split(9000, 9, 900)

    def good(c, f, t, beta):
        return ((1 - beta / t ** 0.25) * c + beta * f.clamp(min=0)).clamp(min=0)

    assert nb04.check_c_update(good)
    no_relu = nb04.check_c_update(lambda c, f, t, b: ((1 - b / t ** 0.25) * c + b * f).clamp(min=0))
    assert not no_relu and "f⁺" in no_relu.message
    table = pd.DataFrame({"mean_mi": [28.28, 51.29]}, index=["penalty", "minmax"])
    assert nb04.check_higher_mi("minmax", table) and not nb04.check_higher_mi("penalty", table)
    assert not nb04.check_higher_mi("?", table)


def test_nb05_checkers():
    assert nb05.check_kid_subset_size(200, 50000, 200)
    assert "without replacement" in nb05.check_kid_subset_size(200, 50000, 1000).message
    assert not nb05.check_kid_subset_size(200, 50000, 100)

    def good(m1, c1, m2, c2):
        return float(((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * scipy.linalg.sqrtm(c1 @ c2).real))

    def elementwise(m1, c1, m2, c2):
        return float(((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * np.sqrt(np.abs(c1 @ c2))))

    assert nb05.check_fid_gaussians(good)
    fb = nb05.check_fid_gaussians(elementwise)
    assert not fb and ("sqrtm" in fb.message or "itself" in fb.message)
