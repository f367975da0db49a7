"""Verdicts from repeated runs (uaelab.verdicts): each judge on synthetic runs whose verdict is
known, the design (paired vs independent), Holm within a family, zero spread, and the retraining
seeds that feed the tables."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from uaelab.verdicts import (
    VERDICTS,
    claim_tests,
    compare,
    compare_proportion,
    decide,
    holm,
    judge_family,
    tolerance_check,
)

BASE = np.array([1.00, 1.30, 0.80, 1.10, 0.95, 1.20])  # per-seed offsets shared by paired arms


@pytest.mark.parametrize("a, b, paired, margin, direction, expected", [
    # clearly lower, far beyond the margin -> holds
    (BASE[:4], BASE[:4] + 1.0 + [0.01, -0.02, 0.015, 0.0], True, 0.1, "lower", "holds"),
    # clearly higher while the claim says lower -> does not hold
    (BASE[:4] + 1.0 + [0.01, -0.02, 0.015, 0.0], BASE[:4], True, 0.1, "lower", "does not hold"),
    # differences tiny against a wide margin -> equivalent
    (BASE, BASE + [0.001, -0.002, 0.001, 0.0, 0.002, -0.001], True, 0.5, "lower", "equivalent"),
    # wide spread, small n, small margin -> inconclusive
    ([1.0, 2.0, 3.0], [1.5, 1.9, 3.4], True, 0.05, "lower", "inconclusive"),
    # a claim of no difference: equivalence supports it, a clear difference refutes it
    (BASE, BASE + 0.001 * np.arange(6), True, 0.5, "equal", "equivalent"),
    (BASE[:4], BASE[:4] + 1.0 + [0.01, -0.02, 0.015, 0.0], True, 0.1, "equal", "does not hold"),
])
def test_compare_known_verdicts(a, b, paired, margin, direction, expected):
    c = compare(a, b, paired=paired, margin=margin, direction=direction)
    assert c.verdict == expected, c.summary()
    assert c.verdict in VERDICTS
    assert c.ci95[0] <= c.ci90[0] <= c.difference <= c.ci90[1] <= c.ci95[1]


def test_paired_design_removes_the_shared_seed_spread():
    """A consistent 0.05 gain on top of large per-seed offsets: the paired test finds it, Welch's
    test (which sees the offsets as noise) does not."""
    a, b = BASE, BASE + 0.05 + 0.002 * np.array([1, -1, 0, 1, -1, 0])
    p = compare(a, b, paired=True, margin=0.01, direction="lower")
    w = compare(a, b, paired=False, margin=0.01, direction="lower")
    assert p.design == "paired" and w.design == "independent"
    assert p.verdict == "holds" and w.verdict == "inconclusive"
    assert math.isclose(p.p_diff, stats.ttest_rel(a, b).pvalue, rel_tol=1e-9)
    assert math.isclose(w.p_diff, stats.ttest_ind(a, b, equal_var=False).pvalue, rel_tol=1e-9)
    assert np.isfinite(w.n_to_decide) and w.n_to_decide > len(a)


def test_tost_matches_two_one_sided_t_tests():
    """The equivalence p is the larger of the two one-sided tests against ±margin (Schuirmann)."""
    a = np.array([1.0, 1.2, 0.9, 1.1, 1.05])
    b = a + np.array([0.03, -0.01, 0.02, 0.0, 0.01])
    c = compare(a, b, paired=True, margin=0.05, direction="lower")
    d = a - b
    lower = stats.ttest_1samp(d, -0.05, alternative="greater").pvalue
    upper = stats.ttest_1samp(d, 0.05, alternative="less").pvalue
    assert math.isclose(c.p_equiv, max(lower, upper), rel_tol=1e-9)


def test_holm_changes_a_family_outcome():
    """p = 0.03 alone holds; in a family of eight with seven null comparisons Holm lifts it to 0.24."""
    raw = [0.03, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    adj = holm(raw)
    assert math.isclose(adj[0], min(1.0, 0.03 * 8))
    assert decide(-1.0, raw[0], math.nan, "lower") == "holds"
    assert decide(-1.0, adj[0], math.nan, "lower") == "inconclusive"
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 5)
    comps = [compare(a, a + 1.2 + rng.normal(0, 0.6, 5), paired=True, margin=0.1, direction="lower")]
    comps += [compare(a, a + rng.normal(0, 0.6, 5), paired=True, margin=0.1, direction="lower") for _ in range(7)]
    fam = judge_family(comps, "synthetic")
    assert all(f.family == "synthetic" for f in fam)
    assert [f.p_diff_adj for f in fam] == pytest.approx(holm([c.p_diff for c in comps]))
    assert all(f.p_diff_adj >= c.p_diff for f, c in zip(fam, comps))


def test_zero_spread_is_compared_with_the_margin():
    c = compare([1.0, 1.0, 1.0], [2.0, 2.0, 2.0], paired=True, margin=0.5, direction="lower")
    assert c.verdict == "holds" and "no test applies" in c.test
    c = compare([1.0, 1.0], [1.0, 1.0], paired=False, margin=0.5, direction="lower")
    assert c.verdict == "equivalent"
    c = compare([1.0], [2.0], paired=True, margin=0.5)
    assert c.verdict == "inconclusive" and "no test" in c.test


def test_no_margin_means_no_equivalence():
    c = compare(BASE, BASE + 1e-4, paired=True, margin=None, direction="lower")
    assert math.isnan(c.p_equiv) and c.verdict != "equivalent"


@pytest.mark.parametrize("kwargs, match", [
    (dict(paired=True, margin=0.1, direction="smaller"), "direction"),
    (dict(paired=True, margin=0.0), "margin must be > 0"),
    (dict(paired=True, margin=-1.0), "margin must be > 0"),
])
def test_compare_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compare([1, 2, 3], [2, 3, 4], **kwargs)


def test_paired_needs_equal_lengths():
    with pytest.raises(ValueError, match="paired=False"):
        compare([1, 2, 3], [1, 2], paired=True, margin=0.1)


def test_proportion_against_a_reference_rate():
    # 905 of 1000 against 0.9299: a significant shortfall, but within ±5 points -> equivalent
    c = compare_proportion(905, 1000, 0.9299, margin=0.05, direction="higher")
    assert c.verdict == "equivalent"
    assert math.isclose(c.p_diff, stats.binomtest(905, 1000, 0.9299).pvalue)
    # 800 of 1000: a shortfall beyond the margin -> does not hold
    assert compare_proportion(800, 1000, 0.9299, margin=0.05, direction="higher").verdict == "does not hold"
    # 30 of 40: too few to decide either way
    assert compare_proportion(35, 40, 0.9299, margin=0.05, direction="higher").verdict == "inconclusive"


def test_tolerance_checks():
    assert tolerance_check(0.0074, 0.0, 2 / 255, direction="higher", what="max").verdict == "equivalent"
    assert tolerance_check(0.0111, 0.0, 2 / 255, direction="equal", what="max").verdict == "does not hold"
    assert tolerance_check(0.5, 0.0, 0.1, direction="higher", what="move").verdict == "holds"


def test_claim_tests_per_model():
    rows = [{"model": "dense", "method": m, "key": m, "seed": 0, "retrain_seed": s, "error": e}
            for m, errs in {"MINE-UAE": [1.0, 1.1, 0.9], "Original": [2.0, 2.1, 1.9],
                            "Duplicate": [1.0, 1.2, 0.8]}.items()
            for s, e in enumerate(errs)]
    t = claim_tests(rows, "error", relative_margin=0.05)
    assert t.loc[("dense", "MINE-UAE beats Original"), "verdict"] == "holds"
    assert t.loc[("dense", "MINE-UAE beats Duplicate"), "verdict"] == "inconclusive"
    assert t.loc[("dense", "MINE-UAE beats Duplicate"), "runs"] == "3 vs 3"
    assert (t["design"] == "paired").all() and np.allclose(t["margin"], 0.05 * 2.0)
    assert (t["p_diff_adj"] >= t["p_diff"]).all()


def test_retrain_seeds_train_every_row_per_seed(tmp_path, monkeypatch):
    """Table 4 with retraining seeds: one run per (method, seed), the original retrained per seed,
    the examples made once (every attack row has the same ASR), a verdicts table."""
    monkeypatch.setenv("UAELAB_CACHE", str(tmp_path))
    from uaelab.experiments.table4_reconstruction import table4_reconstruction

    res = table4_reconstruction("quick", progress=False, kinds=("dense",),
                                methods=("original", "mine-uae", "no-mi", "duplicate"),
                                retrain_seeds=(0, 1), train_limit=40, test_limit=40, epochs=2)
    runs = res.tables["runs"]
    assert sorted(zip(runs["method"], runs["retrain_seed"])) == sorted(
        (m, s) for m in ("Original", "MINE-UAE", "no-MI", "Duplicate") for s in (0, 1))
    orig = runs[runs["method"] == "Original"]["error"].to_numpy()
    assert orig[0] != orig[1]  # two seeds, two original models
    assert runs[runs["method"] == "no-MI"]["asr"].nunique() == 1  # the same examples for both seeds
    assert set(res.tables["summary"]["runs"]) == {2}
    assert "retraining seeds (0, 1)" in res.notes
    tests = res.tables["tests"]
    assert set(tests.index.get_level_values("claim")) == {f"MINE-UAE beats {m}" for m in ("Original", "no-MI",
                                                                                          "Duplicate")}
    assert tests["runs"].eq("2 vs 2").all() and tests["verdict"].isin(VERDICTS).all()
    # what the notebooks read back: real_table4 on the written files
    from uaelab.experiments import write_result
    from uaelab.experiments.table4_reconstruction import real_table4

    res.name = "table4_mnist_dense_full"
    write_result(res, "quick", figures_dir=tmp_path / "out", results_dir=tmp_path / "out")
    back = real_table4("dense", root=tmp_path / "out")
    assert set(back) >= {"summary", "tests", "runs", "notes", "config"}
    assert back["tests"].set_index("claim").loc["MINE-UAE beats Duplicate", "verdict"] in VERDICTS
    assert real_table4("sparse", root=tmp_path / "out") is None


def test_docs_example_runs_and_says_what_it_prints():
    """docs/verdicts.md documents `compare` with a runnable example; its comments state the output."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "verdicts.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", doc, re.S)
    ns: dict = {}
    exec(compile(code, "docs/verdicts.md", "exec"), ns)
    assert ns["c"].verdict == "equivalent" and ns["c"].design == "paired"
    assert [f.verdict for f in ns["family"]] == ["holds", "equivalent"]
