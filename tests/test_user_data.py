"""A user's own table, the way it comes: an ID column, text factors, gaps and text labels,
through load_dataset, DataSplits.from_frame/from_arrays, Tables 4 and 6 and ``uaelab generate``."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from uaelab.augment import store
from uaelab.cli import main as cli_main
from uaelab.data import DataSplits, load_dataset
from uaelab.experiments import table4_reconstruction as t4
from uaelab.experiments.table6_concrete import Table6Settings, table6_concrete
from uaelab.models import ConcreteAutoencoder, checkpoint

OPTIONS = dict(label_column="class", drop_columns=["sample_id"], non_numeric="onehot", nan_policy="impute-mean")
TINY_ATTACK = ("T=2", "mine.K=8", "mine.m=8", "mine.steps=1", "mi_eval_steps=0")


def user_frame(n: int = 90, seed: int = 0) -> pd.DataFrame:
    """sample_id, 4 numeric columns (2 with gaps), 3 text factors (1 with gaps), a text label."""
    rng = np.random.default_rng(seed)
    y = np.array(["setosa", "versicolor", "virginica"])[np.arange(n) % 3]
    df = pd.DataFrame({
        "sample_id": np.arange(1000, 1000 + n),
        "length": rng.normal(size=n) + (np.arange(n) % 3),
        "width": rng.normal(size=n) * 10,
        "site": rng.choice(["north", "south"], size=n),
        "height": rng.uniform(-5, 5, size=n),
        "soil": rng.choice(["clay", "sand", "loam"], size=n),
        "weight": rng.exponential(size=n),
        "season": rng.choice(["spring", "autumn"], size=n),
        "class": y,
    })
    df.loc[[3, 17, 40], "width"] = np.nan
    df.loc[[5, 41], "weight"] = np.nan
    df.loc[[8], "soil"] = None
    return df


@pytest.fixture
def user_csv(tmp_path):
    path = tmp_path / "my_plants.csv"
    user_frame().to_csv(path, index=False)
    return path


def test_each_problem_names_its_option(user_csv):
    with pytest.raises(ValueError, match=r"\['site', 'soil', 'season'\] are not numeric.*non_numeric='onehot'"):
        load_dataset(str(user_csv), label_column="class")
    with pytest.raises(ValueError, match=r"rows have missing values.*nan_policy='drop'"):
        load_dataset(str(user_csv), label_column="class", non_numeric="drop")
    with pytest.raises(ValueError, match="drop_columns.*'sampleid'"):
        load_dataset(str(user_csv), **{**OPTIONS, "drop_columns": ["sampleid"]})
    with pytest.raises(ValueError, match="no label column 'label'.*label_column"):
        load_dataset(str(user_csv), **{**OPTIONS, "label_column": "label"})
    with pytest.raises(ValueError, match="non_numeric must be one of"):
        load_dataset(str(user_csv), **{**OPTIONS, "non_numeric": "encode"})
    with pytest.raises(ValueError, match="apply to CSV files only"):
        load_dataset("digits", nan_policy="drop")


def test_load_with_options(user_csv):
    d = load_dataset(str(user_csv), seed=1, **OPTIONS)
    # 5 numeric columns without sample_id: length, width, height, weight; + 2 + 3 + 2 one-hot columns
    assert d.name == "my_plants" and d.kind == "tabular" and d.sample_shape == (4 + 2 + 3 + 2,)
    assert d.class_names == ["setosa", "versicolor", "virginica"] and d.n_classes == 3
    assert len(d.x_train) + len(d.x_test) == 90  # nothing dropped: gaps imputed
    for x in (d.x_train, d.x_test):
        assert not torch.isnan(x).any() and x.min() >= 0 and x.max() <= 1
    dropped = load_dataset(str(user_csv), **{**OPTIONS, "nan_policy": "drop"})
    assert len(dropped.x_train) + len(dropped.x_test) == 90 - 6  # 6 rows have a gap
    only_numbers = load_dataset(str(user_csv), **{**OPTIONS, "non_numeric": "drop"})
    assert only_numbers.sample_shape == (4,)
    # a DataFrame already in memory gives the same data as its CSV
    same = DataSplits.from_frame(user_frame(), name="my_plants", seed=1, **OPTIONS)
    assert same.fingerprint() == d.fingerprint()


def test_from_arrays_labels_and_errors():
    rng = np.random.default_rng(0)
    d = DataSplits.from_arrays(rng.normal(size=(40, 3)) * 50, np.array(["b", "a"] * 20), seed=0)
    assert d.kind == "tabular" and d.class_names == ["a", "b"] and d.x_train.min() >= 0 and d.x_train.max() <= 1
    imgs = DataSplits.from_arrays((rng.random((20, 1, 4, 4)) * 255).astype(np.uint8), np.arange(20) % 2,
                                  rng.random((6, 1, 4, 4)), np.arange(6) % 2)
    assert imgs.kind == "image" and len(imgs.x_test) == 6 and imgs.class_names == ["0", "1"]
    with pytest.raises(ValueError, match=r"x\[:, None\]"):
        DataSplits.from_arrays(rng.random((20, 4, 4)), np.arange(20) % 2)
    with pytest.raises(ValueError, match="divide by 255"):
        DataSplits.from_arrays(rng.random((20, 1, 4, 4)) * 255, np.arange(20) % 2)
    with pytest.raises(ValueError, match="nan_policy"):
        DataSplits.from_arrays(np.full((20, 3), np.nan), np.arange(20) % 2)


def test_table4_settings_pass_the_options(user_csv):
    s = t4.Table4Settings.from_profile("quick", dataset=str(user_csv), train_limit=30, test_limit=9, **OPTIONS)
    d = t4.load_data(s)
    assert d.sample_shape == (11,) and len(d.x_train) == 30 and len(d.x_test) == 9


def test_table6_on_a_csv_named_after_a_paper_dataset(tmp_path, tmp_cache):
    path = tmp_path / "Isolet.csv"  # matched to the paper's Isolet row by its file name
    user_frame().to_csv(path, index=False)
    with pytest.raises(ValueError, match="apply to CSV files only"):
        Table6Settings.from_profile("quick", nan_policy="drop")  # quick: digits only
    res = table6_concrete("quick", progress=False, datasets=(str(path),), train_limit=30, test_limit=18, epochs=1,
                          attack_set=TINY_ATTACK, methods=("original", "mine-uae"), M=3, **OPTIONS)
    vs = res.tables["vs_paper"]
    assert vs.loc[("isolet", "Original"), "paper_error"] == 0.01200  # the paper's Table 6 row
    assert "isolet: d=11, M=3, 30 train, 18 test" in res.notes


def test_generate_on_a_csv(user_csv, tmp_path, tmp_cache, capsys):
    torch.manual_seed(0)
    model = ConcreteAutoencoder(11, 3, hidden=8)
    ckpt = tmp_path / "concrete.pt"
    checkpoint.save(ckpt, model, kind="concrete", settings={}, in_shape=(11,), data_fingerprint="none")
    out = tmp_path / "uaes"
    argv = ["generate", "--data", str(user_csv), "--label-column", "class", "--drop-columns", "sample_id",
            "--non-numeric", "onehot", "--nan-policy", "impute-mean", "--checkpoint", str(ckpt),
            "--method", "mine-uae", "--profile", "quick", "--out", str(out), "--device", "cpu", "--limit", "6",
            "--no-progress", "--set", "minmax.T=2", "--set", "mine.steps=1", "--set", "mine.K=8", "--set", "mine.m=8"]
    assert cli_main(argv) == 0
    manifest = store.read_manifest(out)
    assert manifest["n_samples"] == 6 and manifest["config"]["data"]["nan_policy"] == "impute-mean"
    assert cli_main(argv[:3] + argv[11:]) == 2  # without the options: one line naming non_numeric, exit 2
    assert "non_numeric='onehot'" in capsys.readouterr().err
