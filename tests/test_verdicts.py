"""Verdicts from repeated runs (uaelab.verdicts) and the retraining seeds that feed them."""
from __future__ import annotations

import math

import pytest

from uaelab.verdicts import VERDICTS, claim_tests, paired, verdict, welch


def test_welch_matches_the_textbook_formula():
    a, b = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0, 8.0]
    t, p = welch(a, b)
    va, vb = 1.0 / 3, (20.0 / 3) / 4  # sample variances over n
    assert math.isclose(t, (2.0 - 5.0) / math.sqrt(va + vb), rel_tol=1e-12)
    assert 0 < p < 1


@pytest.mark.parametrize("a, b, better, expected", [
    ([1.0, 1.1, 0.9], [5.0, 5.1, 4.9], "lower", "holds"),
    ([1.0, 1.1, 0.9], [5.0, 5.1, 4.9], "higher", "does not hold"),
    ([1.0, 2.0, 3.0], [1.5, 2.5, 1.0], "lower", "within noise"),
    ([1.0], [2.0, 3.0], "lower", "not tested"),
    ([1.0, 1.0], [1.0, 1.0], "lower", "within noise"),  # no spread, no difference
    ([1.0, 1.0], [2.0, 2.0], "lower", "holds"),  # no spread, a deterministic difference
])
def test_verdicts(a, b, better, expected):
    assert verdict(a, b, better) == expected


def test_verdict_rejects_unknown_direction():
    with pytest.raises(ValueError, match="'lower' or 'higher'"):
        verdict([1, 2], [3, 4], "smaller")


def test_paired_uses_the_differences():
    t, p = paired([1.0, 2.0, 3.0, 4.0], [0.9, 1.9, 2.9, 3.8])  # differences 0.1, 0.1, 0.1, 0.2
    assert t > 0 and p < 0.05
    assert math.isnan(paired([1.0], [2.0])[1])


def test_claim_tests_per_model():
    rows = [{"model": "dense", "method": m, "key": m, "seed": 0, "retrain_seed": s, "error": e}
            for m, errs in {"MINE-UAE": [1.0, 1.1, 0.9], "Original": [2.0, 2.1, 1.9],
                            "Duplicate": [1.0, 1.2, 0.8]}.items()
            for s, e in enumerate(errs)]
    t = claim_tests(rows, "error")
    assert t.loc[("dense", "MINE-UAE beats Original"), "verdict"] == "holds"
    assert t.loc[("dense", "MINE-UAE beats Duplicate"), "verdict"] == "within noise"
    assert t.loc[("dense", "MINE-UAE beats Duplicate"), "runs"] == "3 vs 3"


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
