"""Experiments of notebooks 01–05 on tiny inputs: closed forms, table shapes, cache hits, red crosses.

The zoo classifier is replaced by a briefly trained digits network (seeded, about a second) so
that no test depends on the model cache; every result goes to an isolated cache folder.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from uaelab.experiments import (
    classifier_setup,
    eps_sweep,
    fid_kid,
    is_cached,
    mine_gaussians,
    minmax_vs_penalty,
    supervised,
)
from uaelab.models.classifiers import DigitsClassifier
from uaelab.viz.plotting import CROSS_GID

MODULES = (classifier_setup, mine_gaussians, supervised, eps_sweep, minmax_vs_penalty, fid_kid)
_NETS: dict = {}


def briefly_trained(data, seed: int) -> DigitsClassifier:
    """A digits net after 40 full-batch Adam steps (about a second): most test digits correct."""
    key = (data.fingerprint(), seed)
    if key not in _NETS:
        torch.manual_seed(seed)
        net = DigitsClassifier()
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in range(40):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(data.x_train), data.y_train).backward()
            opt.step()
        _NETS[key] = net.eval()
    return _NETS[key]


@pytest.fixture
def fast(monkeypatch, tmp_cache):
    """Briefly trained, seeded classifiers instead of the zoo's; a list of the requested seeds."""
    calls = []

    def fake_classifier(data, profile=None, seed=0):
        calls.append(seed)
        return briefly_trained(data, seed), {"kind": "briefly-trained-test-net", "seed": seed}

    for mod in MODULES:
        monkeypatch.setattr(mod, "classifier_for", fake_classifier)
    monkeypatch.setenv("UAELAB_OFFLINE", "1")
    return calls


def counting(monkeypatch, module, name):
    """Wrap ``module.name`` so that its calls are counted (to prove cache hits)."""
    fn = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


# -- 01: MINE ---------------------------------------------------------------------------------
def test_true_gaussian_mi_closed_form():
    assert mine_gaussians.true_gaussian_mi(0.0, 5) == 0.0
    assert mine_gaussians.true_gaussian_mi(0.8, 2) == pytest.approx(-math.log(1 - 0.64))
    with pytest.raises(ValueError):
        mine_gaussians.true_gaussian_mi(1.0)


def test_correlated_gaussians_have_the_asked_correlation():
    a, b = mine_gaussians.correlated_gaussians(0.7, 3, 20000, seed=1)
    corr = np.corrcoef(a[:, 0].numpy(), b[:, 0].numpy())[0, 1]
    cross = np.corrcoef(a[:, 0].numpy(), b[:, 1].numpy())[0, 1]
    assert corr == pytest.approx(0.7, abs=0.02) and abs(cross) < 0.03


def test_mine_gaussians_table_estimates_and_cache(tmp_cache, monkeypatch):
    calls = counting(monkeypatch, mine_gaussians, "gaussian_table")
    kw = dict(rhos=(0.0, 0.9), dim=1, n=256, steps=300)
    res = mine_gaussians.mine_gaussians("quick", **kw)
    t = res.tables["estimates"]
    assert list(t.index) == [0.0, 0.9] and list(t.columns) == ["true", "mine"]
    assert t.loc[0.9, "mine"] == pytest.approx(t.loc[0.9, "true"], abs=0.4)
    assert t.loc[0.9, "mine"] > t.loc[0.0, "mine"] + 0.5
    assert set(res.figures) == {"estimate_vs_truth"}
    again = mine_gaussians.mine_gaussians("quick", **kw)
    assert len(calls) == 1  # the second call was a cache hit
    pd.testing.assert_frame_equal(again.tables["estimates"], t)
    assert is_cached("mine_gaussians", res.config)


def test_per_sample_mi_ranks_itself_above_another_image():
    from uaelab.data import load_dataset

    x = load_dataset("digits").x_test[:4]
    mi = mine_gaussians.per_sample_mi(torch.cat([x, x]), torch.cat([x, x.roll(1, 0)]), "random", steps=150)
    assert mi.shape == (8,) and torch.isfinite(mi).all()
    assert mi[:4].mean() > mi[4:].mean()
    with pytest.raises(ValueError, match="conv"):
        mine_gaussians.per_sample_mi(x, x, "conv")
    with pytest.raises(ValueError, match="mode"):
        mine_gaussians.per_sample_mi(x, x, "dense")


def test_mine_per_sample_shapes(fast):
    res = mine_gaussians.mine_per_sample("quick", n_images=2, sigmas=(0.0, 0.5), steps=5, evals=1)
    assert res.tables["per_image"].shape == (2 * 3, 3)  # (itself, σ=0.5, other) × 2 images; random, conv, sigma
    summary = res.tables["summary"]
    assert list(summary.index) == ["itself", "σ=0.5", "other image"]
    assert summary.shape == (3, 4)


# -- 02: supervised ---------------------------------------------------------------------------
def test_supervised_table_figures_and_cache(fast, monkeypatch):
    calls = counting(monkeypatch, supervised, "attack_samples")
    kw = dict(n_samples=2, T=3, n_show=2)
    res = supervised.supervised_attack("quick", **kw)
    t = res.tables["summary"]
    assert t.shape == (2, 5) and list(t.index) == ["untargeted", "targeted (y+1)"]
    assert t["samples"].tolist() == [2, 2] and t["success_rate"].between(0, 1).all()
    assert set(res.figures) == {"untargeted", "targeted"}
    assert len(calls) == 2
    supervised.supervised_attack("quick", **kw)
    assert len(calls) == 2  # both attacks came from the cache


def test_next_class_wraps():
    assert supervised.next_class(torch.tensor([0, 8, 9])).tolist() == [1, 9, 0]


# -- 03: ε sweep ------------------------------------------------------------------------------
def fake_results(success: dict) -> dict:
    return {m: {e: {"x_adv": torch.rand(len(ok), 1, 8, 8), "success": torch.tensor(ok)} for e, ok in per.items()}
            for m, per in success.items()}


def test_red_crosses_mark_exactly_the_failures():
    results = fake_results({"minmax": {0.1: [False, True, False], 0.5: [True, True, False]},
                            "pgd": {0.1: [True, True, True], 0.5: [True, True, True]}})
    mask = eps_sweep.crosses(results, "minmax")
    assert mask.tolist() == [[True, False], [False, False], [True, True]]
    fig = eps_sweep.sweep_figure(results, "minmax", "t")
    crossed = [i for i, ax in enumerate(fig.axes) if any(l.get_gid() == CROSS_GID for l in ax.lines)]
    assert crossed == [0, 4, 5]  # row-major cells (sample, ε) of the three failures
    assert not any(l.get_gid() == CROSS_GID for ax in eps_sweep.sweep_figure(results, "pgd", "t").axes
                   for l in ax.lines)
    table = eps_sweep.success_table(results)
    assert table.loc["minmax"].tolist() == pytest.approx([1 / 3, 2 / 3])


def test_eps_sweep_shapes_and_cache(fast, monkeypatch):
    calls = counting(monkeypatch, eps_sweep, "sweep")
    kw = dict(epsilons=(0.05, 1.0), samples=(0, 1), T=2, pgd_steps=3)
    res = eps_sweep.fig3_eps_sweep("quick", **kw)
    assert res.tables["success_rate"].shape == (2, 2)
    assert list(res.tables["success_rate"].columns) == [0.05, 1.0]
    linf = res.tables["mean_linf"]
    assert (linf[0.05] <= 0.05 + 1e-6).all()  # the L∞ bound holds
    assert len(res.figures["minmax"].axes) == 4
    eps_sweep.fig3_eps_sweep("quick", **kw)
    assert len(calls) == 1


# -- 04: MinMax vs penalty --------------------------------------------------------------------
def test_best_so_far_keeps_the_running_max_of_successful_iterates():
    hist = {"mi": torch.tensor([[1.0, 5.0], [3.0, 2.0], [2.0, 9.0]]),
            "success": torch.tensor([[False, True], [True, True], [True, False]])}
    best = minmax_vs_penalty.best_so_far(hist)
    assert torch.isnan(best[0, 0]) and best[1:, 0].tolist() == [3.0, 3.0]
    assert best[:, 1].tolist() == [5.0, 5.0, 5.0]


def test_table3_shapes_paper_numbers_and_cache(fast, monkeypatch):
    calls = counting(monkeypatch, minmax_vs_penalty, "compare")
    kw = dict(n_samples=2, budget=4, binary_steps=2)
    res = minmax_vs_penalty.table3_minmax_vs_penalty("quick", **kw)
    t = res.tables["table3"]
    assert list(t.index) == ["penalty", "minmax"]
    assert t.loc["minmax", "paper_mi"] == 51.29 and t.loc["penalty", "paper_mi"] == 28.28
    assert t["paper_dataset"].tolist() == ["mnist", "mnist"]
    assert t["mine_steps_per_iteration"].tolist() == [20, 1]
    curves = res.tables["fig2_curves"]
    assert len(curves) == 2 * 2 * 4 and curves.iteration.max() == 4
    # the equal-MINE-training variant gives the penalty method MinMax's 1 step per iteration
    assert res.tables["table3_equal_mine_steps"]["mine_steps_per_iteration"].tolist() == [1, 1]
    assert set(res.figures) == {"fig2_mi_vs_iteration", "fig2_equal_mine_steps"}
    assert len(calls) == 2
    minmax_vs_penalty.table3_minmax_vs_penalty("quick", **kw)
    assert len(calls) == 2  # both runs came from the cache
    with pytest.raises(ValueError, match="multiple"):
        minmax_vs_penalty.MinMaxVsPenaltySettings.from_profile("quick", budget=10, binary_steps=3)


# -- 05: FID / KID ----------------------------------------------------------------------------
def test_table2_rows_extractor_and_kid_size(fast):
    res = fid_kid.table2_fid_kid("quick", n_samples=4, T=2, random_runs=2, n_reference=20, n_show=2)
    t = res.tables["table2"]
    assert list(t.index) == ["random", "conv", "clean test samples"]
    assert t["runs"].tolist() == [2, 1, 1]
    assert (t["kid_subset_size"] == 4).all()
    assert t["extractor"].str.startswith("uaelab-classifier-").all()
    assert t.loc["random", "paper_fid"] == 339.47 and t.loc["conv", "paper_kid"] == 10.78
    assert "NOT Inception" in res.notes and "reduced from 1000 to 4" in res.notes
    assert np.isfinite(t["fid"]).all()
    assert res.tables["per_run"].shape[0] == 4
    assert fast.count(1) >= 1  # the extractor classifier is a different network (seed 1)


def test_mi_controls_reject_unknown_controls():
    """The MI controls of Figure 3 and Table 2 name their choices (keys of supervised.ABLATIONS)."""
    import pytest

    from uaelab.experiments.eps_sweep import CONTROLS as EPS_CONTROLS
    from uaelab.experiments.eps_sweep import eps_sweep_controls
    from uaelab.experiments.fid_kid import CONTROLS as FID_CONTROLS
    from uaelab.experiments.fid_kid import control_examples
    from uaelab.experiments.supervised import ABLATIONS

    assert set(EPS_CONTROLS) <= set(ABLATIONS) and set(FID_CONTROLS) <= set(ABLATIONS)
    with pytest.raises(ValueError, match="no MI term"):
        eps_sweep_controls(controls=("MINE off",))
    with pytest.raises(ValueError, match="no MI term"):
        control_examples(controls=("MINE off",))
