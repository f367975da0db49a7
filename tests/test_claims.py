"""The README's statements about measured results hold for the committed results files.

The README and the notebooks state what the real-data runs found without typing their numbers;
these tests read the files in ``results/`` and fail if a statement stops holding (e.g. after a
rerun with other code).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
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


def test_readme_summary_and_claims_files_are_generated_from_results():
    """README, 'What reproduces': the block between the markers is the summary rendered now (rerun
    `python -m uaelab.claims` after new results); so are results/real/claims.{csv,md}, the forest
    plot's data and docs/findings.md."""
    from uaelab.claims import claims_markdown, claims_table
    from uaelab.claims.report import (
        FINDINGS,
        FOREST,
        FOREST_DATA,
        README_END,
        README_START,
        findings_markdown,
        forest_data,
        readme_block,
    )

    table = claims_table()
    start, end = README.index(README_START), README.index(README_END) + len(README_END)
    assert README[start:end] == readme_block(table)
    assert claims_markdown(table) in (REPO / "results" / "real" / "claims.md").read_text()
    assert (REPO / FINDINGS).read_text() == findings_markdown(table)
    saved = pd.read_csv(REPO / "results" / "real" / "claims.csv")
    assert saved["id"].tolist() == table["id"].tolist()
    assert saved["verdict"].tolist() == table["verdict"].tolist()
    assert np.allclose(saved["p_diff_adj"].astype(float), table["p_diff_adj"].astype(float), equal_nan=True)
    plotted = pd.read_csv(REPO / FOREST_DATA)
    fresh = forest_data(table)
    assert plotted["id"].tolist() == fresh["id"].tolist()
    assert np.allclose(plotted[["x", "ci95_low", "ci95_high"]], fresh[["x", "ci95_low", "ci95_high"]])
    for path in FOREST.values():
        assert (REPO / path).exists() and path.as_posix() in (README + (REPO / "results/real/claims.md").read_text())


def test_claims_without_results_are_not_run(tmp_path):
    from uaelab.claims import COLUMNS, all_claims, claims_table

    table = claims_table(tmp_path)
    assert list(table.columns)[:len(COLUMNS)] == COLUMNS and len(table) == len(all_claims())
    assert (table["verdict"] == "not run").all()


def test_claims_speak_the_four_verdicts_and_state_their_statistics():
    """Acceptance of the verdicts issue: design, family, raw and adjusted p, margin and CI in every
    tested row; only the four verdicts (and "not run"); no "within noise" anywhere users read."""
    from uaelab.claims import claims_table
    from uaelab.verdicts import VERDICTS

    t = claims_table()
    assert set(t["verdict"]) <= {*VERDICTS, "not run"}
    tested = t[t["verdict"] != "not run"]
    assert tested["family"].astype(str).str.len().gt(0).all() and tested["design"].notna().all()
    stat = tested[tested["design"].isin(["paired", "independent"])]
    assert len(stat) > 40
    for col in ("p_diff", "p_diff_adj", "p_equiv", "p_equiv_adj", "margin", "ci95_low", "ci95_high"):
        assert stat[col].notna().all(), col
    assert (stat["p_diff_adj"] >= stat["p_diff"] - 1e-12).all()
    assert (tested["margin_reason"].astype(str).str.len() > 5).all()
    inconclusive = stat[stat["verdict"] == "inconclusive"]
    assert inconclusive["test"].str.contains("would likely decide|no estimate", regex=True).mean() > 0.8
    texts = [README, (REPO / "results/real/claims.md").read_text(),
             *(p.read_text() for p in (REPO / "notebooks" / "_src").glob("[0-9]*.py"))]
    assert not any("within noise" in x for x in texts)


def test_table6_claims_follow_the_paper():
    """COIL-20 is judged against the paper's degradation; no row cites a Table 6 column the paper
    lacks; Mice Protein has rows and Activity says why it cannot run."""
    from uaelab.claims import all_claims

    claims = {c.id: c for c in all_claims()}
    assert "degrades" in claims["t6-coil20-error-vs-original"].claim
    assert "0.01374" in claims["t6-coil20-error-vs-original"].paper
    for cid, c in claims.items():
        if cid.startswith("t6-") and not cid.endswith("-vs-original") and cid != "t6-activity":
            assert c.paper.startswith("not in the paper"), (cid, c.paper)
    assert "t6-mice-protein-error-vs-original" in claims
    from uaelab.claims import claims_table

    t = claims_table().set_index("id")
    assert "not reachable" in t.loc["t6-activity", "measured"] or "UCI HAR" in t.loc["t6-activity", "measured"]
    cfg = REPO / "results" / "real" / "table6_mnist_full_config.json"
    if cfg.exists():  # the MNIST rerun uses the protocol of the other datasets
        c = json.loads(cfg.read_text())["config"]
        assert c["table6"]["preset"] == "reference_code" and len(c["augment"]["retrain_seeds"]) >= 3


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
    for name in ("table5_fashion-mnist_full", "table5_fashion-mnist_startonly"):  # the start-only rerun's name
        res.name = name
        write_result(res, "quick", figures_dir=out, results_dir=out)
    crit = res.tables["criterion"].iloc[0]
    assert crit["max_abs_f"] < 1e-4 and abs(crit["loss_min"] - crit["closed_form"]) < 1e-4
    t5 = claims_table(tmp_path).set_index("id").filter(like="t5-", axis=0)
    assert len(t5) == 11 and (t5["verdict"] != "not run").all(), t5[["verdict", "measured"]]
    assert t5.loc["t5-criterion-constrains", "verdict"] == "equivalent"  # the criterion is a constant


def test_a_rerun_replaces_a_methods_rows_only_over_the_same_originals(tmp_path):
    """runs() merges a rerun of one method into a full run (the Table 5 start-only rows) only when
    both trained the same originals; the merged family then judges the rerun's rows."""
    from uaelab.claims.table import runs

    def frame(method_rows: dict[str, list[float]]) -> pd.DataFrame:
        rows = [{"model": "m", "method": m, "seed": 0, "retrain_seed": s, "loss": v}
                for m, vals in method_rows.items() for s, v in enumerate(vals)]
        return pd.DataFrame(rows)

    full = tmp_path / "full_runs.csv"
    frame({"Original": [5.0, 5.1, 5.2], "MINE-UAE": [4.0, 4.1, 4.2], "start": [9.0, 9.0, 9.0]}).to_csv(full)
    rerun = tmp_path / "rerun_runs.csv"
    frame({"Original": [5.0, 5.1, 5.2], "start": [4.5, 4.6, 4.7]}).to_csv(rerun)
    merged = runs((full, rerun))
    assert sorted(merged[merged["method"] == "start"]["loss"]) == [4.5, 4.6, 4.7]
    assert len(merged[merged["method"] == "Original"]) == 3 and len(merged) == 9
    other = tmp_path / "other_runs.csv"
    frame({"Original": [5.0, 5.1, 5.3], "start": [4.5, 4.6, 4.7]}).to_csv(other)
    with pytest.raises(ValueError, match="Original rows differ"):
        runs((full, other))


def test_table5_start_only_claims_never_read_the_void_rows():
    """The full Table 5 run's start-only rows repeat its no-MI rows (a run-wide T overrode the
    method's T = 1); the claims read the rerun or say "not run"."""
    from uaelab.claims import claims_table

    t = claims_table().set_index("id")
    for metric in ("loss", "accuracy"):
        row = t.loc[f"t5-{metric}-vs-randomstartonly"]
        assert row["evidence"].endswith("table5_fashion-mnist_startonly_runs.csv")
        if row["verdict"] != "not run":
            assert "from their own run" in row["budget"]
