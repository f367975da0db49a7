"""One call to get train/test tensors by dataset name.

    from uaelab.data import load_dataset
    d = load_dataset("digits", limit=500, seed=0)   # embedded, no files needed
    d.x_train.shape, d.y_train.dtype                # (500, 1, 8, 8), torch.int64

Images come back float32 N×C×H×W in [0, 1]; tabular data float32 N×d in [0, 1] (min-max fit on
the training split only, the test split clipped); labels int64 in 0..n_classes-1.

Datasets: ``digits`` (scikit-learn, embedded), ``mnist``, ``fashion-mnist``, ``cifar10``,
``svhn`` (torchvision layouts; downloaded when missing and the network is there), ``coil20``
(folder of ``objN__P.png``), ``isolet`` (UCI ``isolet5.data[.gz]``), or a path to any CSV.
Files are looked up under ``root``, else ``$UAELAB_DATA``, else the cache folder ``data``.
Datasets without an official split are split by ``seed`` (stratified); ``limit`` and
``test_limit`` take class-balanced subsets, also by ``seed``.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

from ..config import Settings, register
from ._common import ENV_DATA, DataSplits, balanced_subset, data_root, finish, stratified_split
from .images import load_cifar10, load_coil20, load_digits, load_mnist_like, load_svhn
from .tabular import load_csv, load_isolet

__all__ = ["DATASETS", "DataSettings", "DataSplits", "ENV_DATA", "load", "load_dataset",
           "balanced_subset", "stratified_split"]

DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "cifar10", "svhn", "coil20", "isolet")
IMAGE_SETS = {"digits", "mnist", "fashion-mnist", "cifar10", "svhn", "coil20"}
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist",
            "cifar-10": "cifar10", "cifar_10": "cifar10", "coil-20": "coil20", "coil_20": "coil20"}


@register("data")
@dataclass(frozen=True)
class DataSettings(Settings):
    """Which dataset to load and how to subset it. Defaults follow the paper (MNIST)."""

    name: str = "mnist"  # a name in DATASETS, or a path to a CSV file
    root: Optional[str] = None  # data folder; None: $UAELAB_DATA, else the cache folder "data"
    limit: Optional[int] = None  # class-balanced training subset size (None: all)
    test_limit: Optional[int] = None  # class-balanced test subset size (None: all)
    seed: int = 0  # seeds the splits and subsets
    test_fraction: float = 0.2  # test share where a dataset has no official split (digits, coil20, isolet, CSV)
    image_size: int = 32  # coil20 side length in pixels (the paper's concrete autoencoder uses 20)
    label_column: Optional[str] = None  # CSV: label column name or index (None: the last column)
    nan_policy: Optional[Literal["drop", "impute-mean"]] = None  # CSV missing values; None raises
    download: Optional[bool] = None  # fetch missing torchvision datasets: None tries, False never

    PROFILES = {"quick": {"name": "digits"}, "paper": {}}

    def validate(self) -> None:
        for key in ("limit", "test_limit"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"data.{key} must be a positive int or None, got {value!r}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"data.test_fraction must lie in (0, 1), got {self.test_fraction}")
        if not (isinstance(self.image_size, int) and self.image_size >= 1):
            raise ValueError(f"data.image_size must be a positive int, got {self.image_size!r}")
        if self.nan_policy not in (None, "drop", "impute-mean"):
            raise ValueError(f"data.nan_policy must be None, 'drop' or 'impute-mean', got {self.nan_policy!r}")


def canonical_name(name: str) -> str:
    """The DATASETS spelling of ``name`` (case and common aliases forgiven), or a CSV path."""
    key = str(name).strip()
    low = key.lower()
    if low in DATASETS:
        return low
    if low in _ALIASES:
        return _ALIASES[low]
    if low.endswith((".csv", ".csv.gz")) or Path(key).expanduser().is_file():
        return key
    close = difflib.get_close_matches(low, list(DATASETS) + list(_ALIASES), n=1)
    hint = f" Did you mean {_ALIASES.get(close[0], close[0])!r}?" if close else ""
    raise ValueError(f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(DATASETS)}; or give a path to a CSV file")


def load(settings: DataSettings) -> DataSplits:
    """Load the dataset described by ``settings`` (see :class:`DataSettings`)."""
    s = settings
    name = canonical_name(s.name)
    root = data_root(s.root)
    if name == "digits":
        arrays = load_digits(s.test_fraction, s.seed)
    elif name in ("mnist", "fashion-mnist"):
        arrays = load_mnist_like(name, root, s.download)
    elif name == "cifar10":
        arrays = load_cifar10(root, s.download)
    elif name == "svhn":
        arrays = load_svhn(root, s.download)
    elif name == "coil20":
        arrays = load_coil20(root, s.image_size, s.test_fraction, s.seed)
    elif name == "isolet":
        arrays = load_isolet(root, s.test_fraction, s.seed)
    else:  # a CSV path
        path = Path(name).expanduser()
        if not path.is_file():
            raise ValueError(f"CSV file {path} not found; give an existing path (or a name in {', '.join(DATASETS)})")
        arrays = load_csv(path, s.label_column, s.nan_policy, s.test_fraction, s.seed)
        name = path.stem
    kind: Literal["image", "tabular"] = "image" if name in IMAGE_SETS else "tabular"
    return finish(name, kind, *arrays, limit=s.limit, test_limit=s.test_limit, seed=s.seed)


def load_dataset(
    name: str,
    *,
    root: str | Path | None = None,
    limit: int | None = None,
    test_limit: int | None = None,
    seed: int = 0,
    download: bool | None = None,
    **options: Any,
) -> DataSplits:
    """Load a dataset by name (or CSV path) into :class:`DataSplits`.

    ``options`` are the other :class:`DataSettings` fields (``test_fraction``, ``image_size``,
    ``label_column``, ``nan_policy``); options a dataset does not use are ignored, unknown
    names raise ``ValueError``.
    """
    values = dict(name=name, root=None if root is None else str(root), limit=limit,
                  test_limit=test_limit, seed=seed, download=download, **options)
    return load(DataSettings.from_dict(values))
