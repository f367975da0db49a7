"""The README's statements about measured results hold for the committed results files.

The README and the notebooks state what the real-data runs found without typing their numbers;
these tests read the files in ``results/`` and fail if a statement stops holding (e.g. after a
rerun with other code).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def _released() -> dict:
    path = REPO / "results" / "real" / "uae_released_mnist.json"
    if not path.exists():
        pytest.skip("results/real/uae_released_mnist.json not committed")
    return json.loads(path.read_text())


def test_released_uaes_on_mnist():
    """README, 'What per-sample MINE measures': MINE-UAE and no-MI return almost the same images;
    the exact MI at m = 128 outweighs the criterion (its ASR is little more than the start's)."""
    r = _released()
    m = r["methods"]
    assert "MINE-UAE and no-MI return almost the same images" in README.replace("\n", " ")
    assert r["max_abs_diff_mine_uae_vs_no_mi"] < 0.01
    assert m["closed-form"]["asr"] <= m["closed-form"]["start_succeeds"] + 0.05 < m["mine-uae"]["asr"]
    # issue 12's acceptance at the released settings (the file states the budget)
    assert r["n"] == 1000 and r["model"]["train_images"] == 60000
    assert m["mine-uae"]["asr"] >= 0.90 and m["mine-uae"]["linf_mean"] >= 0.05
    assert m["l2-uae"]["asr"] >= 0.70


def test_mine_saturates_below_log_k_on_mnist():
    """README: the DV estimate saturates near log K while the truth is hundreds of nats."""
    path = REPO / "results" / "real" / "mine_closed_form_mnist.csv"
    if not path.exists():
        pytest.skip("results/real/mine_closed_form_mnist.csv not committed")
    s = pd.read_csv(path, index_col=0)
    assert (s["mine"] < s["log_K"]).all()
    assert s["closed_form"].iloc[0] > 100 and s["ratio"].iloc[0] < 0.1
    assert (REPO / "figures" / "real" / "mine_closed_form_mnist.png").exists()
    assert "figures/real/mine_closed_form_mnist.png" in README
    assert math.isclose(s["log_K"].iloc[0], math.log(500))


def test_readme_claims_table_is_generated_from_results():
    """README, 'What reproduces': the table between the markers is claims_table() rendered now
    (rerun `python -m uaelab.claims` after new results), and so is results/real/claims.md."""
    from uaelab.claims import README_END, README_START, claims_markdown, claims_table, readme_block

    table = claims_table()
    start, end = README.index(README_START), README.index(README_END) + len(README_END)
    assert README[start:end] == readme_block(table)
    assert claims_markdown(table) in (REPO / "results" / "real" / "claims.md").read_text()


def test_claims_without_results_are_not_tested(tmp_path):
    from uaelab.claims import COLUMNS, all_claims, claims_table

    table = claims_table(tmp_path)
    assert list(table.columns) == [*COLUMNS, "readme"] and len(table) == len(all_claims())
    assert (table["verdict"] == "not tested").all()
    assert table["measured"].str.startswith("not run yet").all()
    assert table["id"].is_unique


def test_table5_claims_read_the_experiment_files(tmp_path):
    """The Table 5 judges parse what table5_simclr writes (quick profile, the released SimCLR
    attack): every comparison gets a verdict, and the released criterion is found constant."""
    from uaelab.claims import claims_table
    from uaelab.experiments import write_result
    from uaelab.experiments.table5_simclr import table5_simclr

    res = table5_simclr("quick", progress=False, preset="reference_code", retrain_seeds=(0, 1), epochs=2,
                        train_limit=60, test_limit=60,
                        methods=("original", "mine-uae", "no-mi", "start-only", "ga:0.01", "duplicate"))
    out = tmp_path / "results" / "real"
    res.name = "table5_fashion-mnist_full"
    write_result(res, "quick", figures_dir=out, results_dir=out)
    crit = res.tables["criterion"].iloc[0]
    assert crit["max_abs_f"] < 1e-4 and abs(crit["loss_min"] - crit["closed_form"]) < 1e-4
    t5 = claims_table(tmp_path).set_index("id").filter(like="t5-", axis=0)
    assert len(t5) == 11 and (t5["verdict"] != "not tested").all(), t5[["verdict", "measured"]]
    assert t5.loc["t5-criterion-constrains", "verdict"] == "does not hold"
