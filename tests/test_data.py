"""Tests for uaelab.data: every loader on real data (digits always; MNIST, Fashion-MNIST, COIL-20,
Isolet from the shared copy) or on small files written here in the real on-disk formats
(CIFAR-10 pickles, SVHN .mat, CSV), plus splits, subsets, scaling and every error path."""
from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from uaelab.data import DATASETS, DataSettings, balanced_subset, load, load_dataset, stratified_split


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def _assert_images(d, shape):
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert tuple(x.shape[1:]) == shape and len(x) == len(y)
        assert x.min() >= 0 and x.max() <= 1
    assert d.sample_shape == shape and d.kind == "image"


# -- digits (embedded) ----------------------------------------------------------------------
def test_digits_shapes_split_and_determinism():
    d = load_dataset("digits")
    _assert_images(d, (1, 8, 8))
    assert len(d.x_train) + len(d.x_test) == 1797 and d.n_classes == 10
    assert d.x_train.max() == 1.0 and torch.all((d.x_train * 16).round() == d.x_train * 16)  # values k/16
    # stratified 80/20: every class has round(0.2 * n_c) test samples
    from sklearn.datasets import load_digits

    counts = np.bincount(load_digits().target)
    assert d.y_test.bincount().tolist() == [round(0.2 * c) for c in counts]
    again = load_dataset("digits")
    assert again.fingerprint() == d.fingerprint()
    other = load_dataset("digits", seed=1)
    assert other.fingerprint() != d.fingerprint()
    assert len(other.x_test) == len(d.x_test)


def test_digits_split_is_a_partition():
    from sklearn.datasets import load_digits

    full = torch.tensor(load_digits().images, dtype=torch.float32).flatten(1) / 16
    d = load_dataset("digits", seed=5, test_fraction=0.3)
    rows = torch.cat([d.x_train, d.x_test]).flatten(1)
    # same multiset of rows as the full data set: sort rows lexicographically by hashing
    key = lambda t: sorted(map(bytes, t.numpy().view(np.uint8).reshape(len(t), -1)))  # noqa: E731
    assert key(rows) == key(full)
    assert abs(len(d.x_test) / 1797 - 0.3) < 0.01


def test_balanced_limit_and_test_limit():
    d = load_dataset("digits", limit=95, test_limit=30, seed=2)
    assert len(d.x_train) == 95 and len(d.x_test) == 30
    counts = d.y_train.bincount(minlength=10)
    assert counts.max() - counts.min() <= 1
    assert d.y_test.bincount(minlength=10).tolist() == [3] * 10
    full = load_dataset("digits", seed=2)
    # the subset is made of rows of the full training split, in their original order
    idx = [int(torch.nonzero((full.x_train == x).flatten(1).all(1))[0]) for x in d.x_train[:10]]
    assert idx == sorted(idx)
    assert load_dataset("digits", limit=95, test_limit=30, seed=2).fingerprint() == d.fingerprint()
    assert load_dataset("digits", limit=95, test_limit=30, seed=3).fingerprint() != d.fingerprint()


def test_balanced_subset_when_a_class_runs_out():
    y = np.array([0] * 50 + [1] * 3 + [2] * 50)
    idx = balanced_subset(y, 40, seed=0)
    counts = np.bincount(y[idx], minlength=3)
    assert counts.sum() == 40 and counts[1] == 3 and abs(counts[0] - counts[2]) <= 1
    assert np.array_equal(balanced_subset(y, None, 0), np.arange(len(y)))
    with pytest.raises(ValueError, match="limit"):
        balanced_subset(y, 0, 0)


def test_stratified_split_keeps_singletons_in_train():
    y = np.array([0, 0, 0, 0, 0, 1])
    tr, te = stratified_split(y, 0.4, seed=0)
    assert 5 in tr and len(te) == 2 and set(y[te]) == {0}
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(6))


def test_settings_profiles_and_load():
    s = DataSettings.from_profile("quick", limit=50)
    assert s.name == "digits" and DataSettings.from_profile("paper").name == "mnist"
    assert load(s).fingerprint() == load_dataset("digits", limit=50).fingerprint()
    assert s.with_overrides(["image_size=20"]).image_size == 20
    with pytest.raises(ValueError, match="limit"):
        DataSettings(limit=0).validate()
    with pytest.raises(ValueError, match="no setting 'imagesize'"):
        load_dataset("digits", imagesize=20)


# -- errors ---------------------------------------------------------------------------------
def test_unknown_name_lists_datasets():
    with pytest.raises(ValueError, match="Did you mean 'mnist'") as info:
        load_dataset("minst")
    for name in DATASETS:
        assert name in str(info.value)


def test_aliases():
    assert load_dataset("DIGITS", limit=10).name == "digits"


@pytest.mark.parametrize("name, expected", [
    ("mnist", "MNIST/raw"), ("fashion-mnist", "FashionMNIST/raw"),
    ("cifar10", "cifar-10-batches-py"), ("svhn", "train_32x32.mat"),
    ("coil20", "coil-20-proc"), ("isolet", "isolet5.data"),
])
def test_missing_files_offline(tmp_path, tmp_cache, name, expected):
    with pytest.raises(ValueError) as info:
        load_dataset(name, root=tmp_path / "empty", download=False)
    msg = str(info.value)
    assert name in msg and expected in msg and "UAELAB_DATA" in msg


def test_root_from_environment(tmp_path, tmp_cache, monkeypatch):
    monkeypatch.setenv("UAELAB_DATA", str(tmp_path / "from-env"))
    with pytest.raises(ValueError, match="from-env"):
        load_dataset("mnist", download=False)


def test_corrupt_mnist_archive(tmp_path, tmp_cache):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (raw / f"{name}.gz").write_bytes(gzip.compress(b"not mnist")[:-4])
    with pytest.raises(ValueError, match="corrupt archive .*train-images-idx3-ubyte.gz"):
        load_dataset("mnist", root=tmp_path, download=False)


# -- real data from the shared copy ---------------------------------------------------------
def test_mnist_from_read_only_shared_copy(shared_data, tmp_cache):
    before = _files(shared_data)
    d = load_dataset("mnist", root=shared_data, download=False)
    _assert_images(d, (1, 28, 28))
    assert (len(d.x_train), len(d.x_test)) == (60000, 10000)
    assert d.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the well-known first labels
    assert d.y_test.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(d.x_train.mean().item() - 0.1307) < 1e-3  # the usual MNIST normalisation mean
    assert torch.equal((d.x_test[:100] * 255).round() / 255, d.x_test[:100])  # 8-bit pixels
    assert _files(shared_data) == before  # nothing written into the shared copy
    assert (tmp_cache / "data" / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()


def test_fashion_mnist_in_writable_root_with_limit(shared_data, tmp_path, tmp_cache):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (shared_data / "FashionMNIST" / "raw").glob("*.gz"):
        os.symlink(gz, raw / gz.name)
    d = load_dataset("fashion-mnist", root=tmp_path, limit=200, test_limit=50, seed=1)
    _assert_images(d, (1, 28, 28))
    assert d.y_train.bincount().tolist() == [20] * 10 and len(d.x_test) == 50
    assert d.class_names[0] == "T-shirt/top" and d.class_names[9] == "Ankle boot"
    assert (raw / "train-images-idx3-ubyte").is_file()  # writable root: extracted next to the .gz
    assert not (tmp_cache / "data" / "FashionMNIST").exists()


def test_coil20(shared_data):
    d = load_dataset("coil20", root=shared_data)
    _assert_images(d, (1, 32, 32))
    assert d.n_classes == 20 and len(d.x_train) + len(d.x_test) == 1440
    assert d.y_test.bincount().tolist() == [round(0.2 * 72)] * 20
    assert d.x_train.max() > 0.9 and d.x_train.min() < 0.1
    small = load_dataset("coil20", root=shared_data / "COIL20" / "coil-20-proc", image_size=20, limit=40)
    _assert_images(small, (1, 20, 20))
    assert small.y_train.bincount().tolist() == [2] * 20


def test_isolet(shared_data):
    d = load_dataset("isolet", root=shared_data)
    assert d.kind == "tabular" and d.sample_shape == (617,) and d.n_classes == 26
    assert len(d.x_train) + len(d.x_test) == 1559  # only isolet5 exists here: split by seed
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    # min-max fit on the training split: each varying column spans exactly [0, 1] there
    span = d.x_train.amax(0) - d.x_train.amin(0)
    assert torch.allclose(d.x_train.amin(0), torch.zeros(617))
    assert torch.all((span == 1) | (span == 0))
    assert d.x_test.min() >= 0 and d.x_test.max() <= 1
    assert d.class_names[:3] == ["a", "b", "c"]


def test_isolet_official_split_and_corrupt_gz(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "ISOLET"
    folder.mkdir()
    for name, n in (("isolet1+2+3+4.data", 52), ("isolet5.data", 26)):
        x = rng.uniform(-1, 1, (n, 617)).round(4)
        y = np.arange(n) % 26 + 1
        lines = [", ".join(f"{v:.4f}" for v in row) + f", {c}." for row, c in zip(x, y)]
        (folder / name).write_text("\n".join(lines) + "\n")
    d = load_dataset("isolet", root=tmp_path)
    assert (len(d.x_train), len(d.x_test)) == (52, 26)
    assert d.y_test.tolist() == list(range(26))
    bad = tmp_path / "bad" / "ISOLET"
    bad.mkdir(parents=True)
    (bad / "isolet5.data.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ValueError, match="isolet"):
        load_dataset("isolet", root=tmp_path / "bad")


# -- CIFAR-10 and SVHN in their real formats, small files written here ----------------------
def _write_cifar(root: Path, n_per_batch: int = 6) -> tuple[np.ndarray, list[int]]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    all_x, all_y = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        y = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        with open(folder / name, "wb") as fh:
            pickle.dump({"batch_label": name, "data": x, "labels": y}, fh)
        all_x.append(x)
        all_y += y
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": names, "num_vis": 3072}, fh)
    return np.vstack(all_x), all_y


def test_cifar10_matches_torchvision(tmp_path, monkeypatch):
    x_all, y_all = _write_cifar(tmp_path)
    d = load_dataset("cifar10", root=tmp_path, download=False)
    _assert_images(d, (3, 32, 32))
    assert (len(d.x_train), len(d.x_test)) == (30, 6)
    assert d.class_names[0] == "airplane"
    assert d.y_train.tolist() == y_all[:30] and d.y_test.tolist() == y_all[30:]
    # pixel layout: row-major R plane, G plane, B plane of 32×32
    assert torch.equal(d.x_train[1, 2, 3, 4] * 255, torch.tensor(float(x_all[1, 2 * 1024 + 3 * 32 + 4])))
    # torchvision reads the same files to the same pixels once its md5 check is bypassed
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)
    tv = tv_cifar.CIFAR10(str(tmp_path), train=True, download=False)
    assert np.array_equal(tv.data.transpose(0, 3, 1, 2), (d.x_train * 255).round().to(torch.uint8).numpy())
    assert tv.targets == d.y_train.tolist() and tv.classes == d.class_names


def test_cifar10_corrupt_batch(tmp_path):
    _write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x04junk")
    with pytest.raises(ValueError, match="corrupt file .*data_batch_3"):
        load_dataset("cifar10", root=tmp_path, download=False)


def test_svhn_matches_torchvision(tmp_path, monkeypatch):
    from scipy.io import savemat

    folder = tmp_path / "SVHN"
    folder.mkdir()
    rng = np.random.default_rng(1)
    mats = {}
    for split, n in (("train", 12), ("test", 5)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)  # H×W×3×N as in the real files
        y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # 1..10, 10 meaning 0
        savemat(str(folder / f"{split}_32x32.mat"), {"X": x, "y": y})
        mats[split] = (x, y)
    d = load_dataset("svhn", root=tmp_path, download=False)
    _assert_images(d, (3, 32, 32))
    assert d.y_train.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]
    x, _ = mats["train"]
    assert d.x_train[4, 1, 7, 9].item() * 255 == pytest.approx(float(x[7, 9, 1, 4]))  # H, W, C, N
    import torchvision.datasets.svhn as tv_svhn

    monkeypatch.setattr(tv_svhn.SVHN, "_check_integrity", lambda self: True)
    tv = tv_svhn.SVHN(str(folder), split="test", download=False)
    assert np.array_equal(tv.data, (d.x_test * 255).round().to(torch.uint8).numpy())
    assert tv.labels.tolist() == d.y_test.tolist()


# -- CSV ------------------------------------------------------------------------------------
def _write_csv(path: Path, with_nan: bool = False) -> None:
    rng = np.random.default_rng(0)
    rows = ["f1,f2,kind,f3"]
    for i in range(40):
        a, b, c = rng.normal(size=3)
        if with_nan and i in (3, 17):
            b = float("nan")
        rows.append(f"{a:.4f},{'' if np.isnan(b) else f'{b:.4f}'},{'cat' if i % 2 else 'dog'},{c:.4f}")
    path.write_text("\n".join(rows) + "\n")


def test_csv_label_column_scaling_and_split(tmp_path):
    path = tmp_path / "pets.csv"
    _write_csv(path)
    d = load_dataset(str(path), label_column="kind", seed=0)
    assert d.name == "pets" and d.kind == "tabular" and d.sample_shape == (3,)
    assert d.class_names == ["cat", "dog"] and d.n_classes == 2
    assert (len(d.x_train), len(d.x_test)) == (32, 8)
    assert torch.allclose(d.x_train.amin(0), torch.zeros(3)) and torch.allclose(d.x_train.amax(0), torch.ones(3))
    assert d.x_test.min() >= 0 and d.x_test.max() <= 1
    assert load_dataset(str(path), label_column="2").fingerprint() == d.fingerprint()  # index works too


def test_csv_wrong_label_column(tmp_path):
    path = tmp_path / "pets.csv"
    _write_csv(path)
    with pytest.raises(ValueError, match=r"no label column 'species'.*\['f1', 'f2', 'kind', 'f3'\]"):
        load_dataset(str(path), label_column="species")
    with pytest.raises(ValueError, match=r"\[.kind.\] are not numeric.*non_numeric=.onehot."):
        load_dataset(str(path))  # default: last column f3 is the label, 'kind' is then a text feature


def test_csv_nan_policies(tmp_path):
    path = tmp_path / "gaps.csv"
    _write_csv(path, with_nan=True)
    with pytest.raises(ValueError, match=r"2 rows have missing values \(columns \['f2'\]\).*nan_policy"):
        load_dataset(str(path), label_column="kind")
    dropped = load_dataset(str(path), label_column="kind", nan_policy="drop")
    assert len(dropped.x_train) + len(dropped.x_test) == 38
    imputed = load_dataset(str(path), label_column="kind", nan_policy="impute-mean")
    assert len(imputed.x_train) + len(imputed.x_test) == 40
    assert not torch.isnan(imputed.x_train).any() and not torch.isnan(imputed.x_test).any()
    with pytest.raises(ValueError, match="nan_policy"):
        load_dataset(str(path), label_column="kind", nan_policy="zero")


def test_csv_missing_file(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_dataset(str(tmp_path / "nope.csv"))
