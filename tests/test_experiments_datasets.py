"""The dataset_samples experiment: registered, writes a figure and a table for the quick profile."""
from __future__ import annotations

import pandas as pd
import pytest

from uaelab.experiments import EXPERIMENTS, write_result
from uaelab.experiments.datasets import dataset_samples


def test_dataset_samples_quick(tmp_cache, tmp_path):
    assert EXPERIMENTS["dataset_samples"].fn is dataset_samples  # registered on import
    result = dataset_samples(profile="quick")
    table = result.tables["summary"]
    assert list(table.index) == ["digits"]
    row = table.loc["digits"]
    assert (row["n_train"], row["n_test"], row["shape"], row["classes"]) == (1438, 359, "1×8×8", 10)
    assert (row["min"], row["max"]) == (0.0, 1.0)
    fig = result.figures["grid"]
    assert len(fig.axes) == 10 * 8  # one row per digit class, 8 samples each
    assert fig.axes[8].get_ylabel() == "1"
    paths = write_result(result, "quick", figures_dir=tmp_path / "fig", results_dir=tmp_path / "res")
    names = sorted(p.name for p in paths)
    assert names == ["dataset_samples_config.json", "dataset_samples_grid.png",
                     "dataset_samples_summary.csv", "dataset_samples_summary.md"]
    assert pd.read_csv(tmp_path / "res" / "dataset_samples_summary.csv")["n_train"].tolist() == [1438]


def test_dataset_samples_overrides_and_tabular(tmp_cache, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n" + "\n".join(f"{i},{i * i % 7},{i % 3}" for i in range(30)) + "\n")
    result = dataset_samples(profile="quick", name=str(path), limit=12)
    row = result.tables["summary"].loc["t"]
    assert (row["kind"], row["n_train"], row["shape"], row["classes"]) == ("tabular", 12, "2", 3)
    assert len(result.figures["grid"].axes) == 1
    with pytest.raises(ValueError, match="no setting"):
        dataset_samples(profile="quick", nmae="digits")
