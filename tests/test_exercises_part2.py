"""Exercise checkers of notebooks 06-08: right answers pass, typical mistakes get specific feedback."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from uaelab.exercises import nb06, nb07, nb08


def test_nb06_improvement():
    assert nb06.check_improvement(lambda o, n: (o - n) / o).ok
    fb = nb06.check_improvement(lambda o, n: (n - o) / o)
    assert not fb.ok and "sign" in fb.message
    fb = nb06.check_improvement(lambda o, n: 100 * (o - n) / o)
    assert not fb.ok and "fraction" in fb.message
    assert "raised" in nb06.check_improvement(lambda o, n: 1 / 0).message


def test_nb06_augmented_set():
    def right(x, x_adv, ok):
        return torch.cat([x, torch.where(ok.view(-1, 1, 1, 1), x_adv, x)])

    assert nb06.check_augmented_set(right).ok
    fb = nb06.check_augmented_set(lambda x, xa, ok: torch.cat([x, xa[ok]]))
    assert not fb.ok and "replicates" in fb.message
    fb = nb06.check_augmented_set(lambda x, xa, ok: torch.cat([x, xa]))
    assert not fb.ok and "failed examples were kept" in fb.message
    assert not nb06.check_augmented_set(lambda x, xa, ok: torch.cat([right(x, xa, ok)[len(x):], x])).ok


def test_nb06_control():
    assert nb06.check_control("Duplicate").ok
    assert not nb06.check_control("original").ok and not nb06.check_control("ga:0.01").ok


class _Select(torch.nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(logits))


def _concrete(logits):
    from uaelab.models.concrete import ConcreteSelect

    model = torch.nn.Module()
    model.select = _Select(logits)
    model.selected_features = lambda: ConcreteSelect.indices(model.select)
    model.select.M = len(logits)
    return model


def test_nb07_selected_features():
    model = _concrete([[0.0, 3.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    assert nb07.check_selected_features(lambda m: m.select.logits.argmax(1), model).ok
    fb = nb07.check_selected_features(lambda m: m.select.logits.argmax(0), model)
    assert not fb.ok
    assert not nb07.check_selected_features(lambda m: torch.tensor([2, 3]), model).ok


def test_nb07_selected_features_collision():
    # both rows prefer feature 1; row 0 is the more confident, so row 1 takes its next best (3)
    model = _concrete([[0.0, 5.0, 1.0, 0.0], [0.0, 2.0, 0.0, 1.0]])
    assert model.selected_features().tolist() == [1, 3]
    fb = nb07.check_selected_features(lambda m: m.select.logits.argmax(1), model)
    assert not fb.ok and "distinct" in fb.message
    assert nb07.check_selected_features(lambda m: torch.tensor([3, 1]), model).ok


def test_strict_mode_raises_and_restores():
    from uaelab.exercises import ExerciseFailed, is_strict, strict

    assert not is_strict()
    with strict():
        assert nb06.check_control("Duplicate").ok
        try:
            nb06.check_control("original")
        except ExerciseFailed as err:
            assert "❌" in str(err)
        else:
            raise AssertionError("a rejected answer must raise in strict mode")
    assert not is_strict() and not nb06.check_control("original").ok


def test_nb07_downstream_accuracy():
    from types import SimpleNamespace

    from uaelab.evaluate.metrics import extra_trees_accuracy

    g = torch.Generator().manual_seed(0)
    y = torch.arange(120) % 3
    x = torch.rand(120, 6, generator=g)
    x[:, 2] = y / 2.0  # feature 2 gives the label away
    data = SimpleNamespace(x_train=x[:80], y_train=y[:80], x_test=x[80:], y_test=y[80:])
    model = SimpleNamespace(selected_features=lambda: torch.tensor([0, 1]))
    want = extra_trees_accuracy(x[:80, :2], y[:80], x[80:, :2], y[80:])
    assert nb07.check_downstream_accuracy(want, model, data).ok
    fb = nb07.check_downstream_accuracy(1.0, model, data)  # the all-features accuracy
    assert not fb.ok and "all" in fb.message
    assert not nb07.check_downstream_accuracy(100 * want, model, data).ok


def test_nb08_nt_xent():
    def right(z1, z2, t):
        n = len(z1)
        z = F.normalize(torch.cat([z1, z2]), dim=1)
        s = z @ z.t() / t
        s.fill_diagonal_(float("-inf"))
        return F.cross_entropy(s, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))

    assert nb08.check_nt_xent(right).ok
    fb = nb08.check_nt_xent(lambda z1, z2, t: right(z1 * 3, z2 * 3, t) * 0 + _unnormalised(z1, z2, t))
    assert not fb.ok and "normalise" in fb.message


def _unnormalised(z1, z2, t):
    n = len(z1)
    z = torch.cat([z1, z2])
    s = z @ z.t() / t
    s.fill_diagonal_(float("-inf"))
    return F.cross_entropy(s, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))


def test_nb08_project():
    assert nb08.check_project(lambda xa, x, e: torch.minimum(torch.maximum(xa, x - e), x + e).clamp(0, 1)).ok
    fb = nb08.check_project(lambda xa, x, e: torch.minimum(torch.maximum(xa, x - e), x + e))
    assert not fb.ok and "[0, 1]" in fb.message
    fb = nb08.check_project(lambda xa, x, e: xa.clamp(0, 1))
    assert not fb.ok and "within" in fb.message
