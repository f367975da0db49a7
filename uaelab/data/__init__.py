"""One call to get train/test tensors by dataset name.

    from uaelab.data import load_dataset
    d = load_dataset("digits", limit=500, seed=0)   # embedded, no files needed
    d.x_train.shape, d.y_train.dtype                # (500, 1, 8, 8), torch.int64

Images come back float32 N×C×H×W in [0, 1]; tabular data float32 N×d in [0, 1] (min-max fit on
the training split only, the test split clipped); labels int64 in 0..n_classes-1.

Datasets: the names in :data:`DATASETS` (``digits`` embedded; ``mnist``, ``fashion-mnist``,
``cifar10``, ``svhn``, ``coil20``, ``isolet``; add one with :func:`register_dataset`), or a path
to any CSV (options ``label_column``, ``drop_columns``, ``non_numeric``, ``nan_policy``). Data
in memory: :meth:`DataSplits.from_arrays`, :meth:`DataSplits.from_frame`.
Files are looked up under ``root``, else ``$UAELAB_DATA``, else ``../shared/data`` next to the
checkout when it holds the dataset, else the cache folder ``data``.
Datasets without an official split are split by ``seed`` (stratified); ``limit`` and
``test_limit`` take class-balanced subsets, also by ``seed``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, Optional

from uaelab.config import Settings, register
from uaelab.data._common import ENV_DATA, balanced_subset, minmax_fit, stratified_split
from uaelab.data.registry import (
    DATASETS,
    DatasetSpec,
    canonical_name,
    data_root,
    register_dataset,
    registered_name,
    shared_data_root,
)
from uaelab.data.splits import DataSplits, finish
from uaelab.data.tabular import NAN_POLICIES, NON_NUMERIC, check_table_options, frame_arrays, load_csv

__all__ = ["DATASETS", "CsvOptions", "DataSettings", "DataSplits", "DatasetSpec", "ENV_DATA", "load", "load_dataset",
           "register_dataset", "canonical_name", "data_root", "shared_data_root", "balanced_subset",
           "stratified_split", "CSV_OPTIONS", "NAN_POLICIES", "NON_NUMERIC", "csv_stem", "frame_arrays", "is_csv",
           "known_as", "minmax_fit", "registered_name"]


@dataclass(frozen=True)
class CsvOptions:
    """How a CSV file becomes features and labels. Mixed into the settings of everything that
    loads a dataset by name (DataSettings, Tables 4-6), so the options pass through unchanged."""

    label_column: Optional[str] = None  # label column name or index (None: the last column)
    drop_columns: tuple[str, ...] = ()  # columns to leave out, e.g. sample IDs
    non_numeric: Literal["error", "drop", "onehot"] = "error"  # text feature columns
    nan_policy: Literal["error", "drop", "impute-mean"] = "error"  # missing values ("drop": those rows)

    def __post_init__(self) -> None:
        if not isinstance(self.drop_columns, tuple):  # a list, or one name
            cols = (self.drop_columns,) if isinstance(self.drop_columns, str) else tuple(self.drop_columns)
            object.__setattr__(self, "drop_columns", cols)
        check_table_options(self.nan_policy, self.non_numeric)

    def csv_options(self) -> dict[str, Any]:
        """The options as load_dataset keywords."""
        return {k: getattr(self, k) for k in CSV_OPTIONS}


CSV_OPTIONS = {f.name: f.default for f in fields(CsvOptions)}  # name -> default


@register("data")
@dataclass(frozen=True)
class DataSettings(Settings, CsvOptions):
    """Which dataset to load and how to subset it. Defaults follow the paper (MNIST)."""

    name: str = "mnist"  # a name in DATASETS, or a path to a CSV file
    root: Optional[str] = None  # data folder; None: $UAELAB_DATA, ../shared/data, else the cache folder "data"
    limit: Optional[int] = None  # class-balanced training subset size (None: all)
    test_limit: Optional[int] = None  # class-balanced test subset size (None: all)
    seed: int = 0  # seeds the splits and subsets
    test_fraction: float = 0.2  # test share where a dataset has no official split (digits, coil20, isolet, CSV)
    image_size: int = 32  # coil20 side length in pixels (the paper's concrete autoencoder uses 20)
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


def load(settings: DataSettings) -> DataSplits:
    """Load the dataset described by ``settings`` (see :class:`DataSettings`)."""
    s = settings
    name = canonical_name(s.name)
    spec = DATASETS.get(name)
    if spec is not None:
        used = [k for k, v in s.csv_options().items() if v != CSV_OPTIONS[k]]
        if used:  # never silently ignored
            raise ValueError(f"{', '.join(used)} apply to CSV files only, not to the dataset {name!r}; leave them out")
        arrays, kind = spec.loader(data_root(s.root, name), s), spec.kind
    else:  # a CSV path
        path = Path(name).expanduser()
        if not path.is_file():
            raise ValueError(f"CSV file {path} not found; give an existing path (or a name in {', '.join(DATASETS)})")
        arrays = load_csv(path, test_fraction=s.test_fraction, seed=s.seed, **s.csv_options())
        name, kind = csv_stem(path), "tabular"
    return finish(name, kind, *arrays, limit=s.limit, test_limit=s.test_limit, seed=s.seed)


def csv_stem(path: str | Path) -> str:
    """``data/Fashion_MNIST.csv.gz`` -> ``Fashion_MNIST``: a CSV dataset's name."""
    name = Path(path).name
    for suffix in (".gz", ".csv"):
        name = name[: -len(suffix)] if name.lower().endswith(suffix) else name
    return name


def is_csv(name: str) -> bool:
    """Whether ``name`` is a CSV path rather than a registered dataset."""
    return canonical_name(name) not in DATASETS


def known_as(name: str) -> str:
    """The registered dataset a name stands for, CSV files by their file name
    (``data/Fashion_MNIST.csv`` -> ``fashion-mnist``); otherwise the file name in lower case with
    dashes (``Mice_Protein.csv`` -> ``mice-protein``). Tables use it to find the paper's row."""
    if not is_csv(name):
        return canonical_name(name)
    stem = csv_stem(name).strip().lower().replace("_", "-").replace(" ", "-")
    return registered_name(stem) or registered_name(stem.replace("-", "")) or CSV_KNOWN_AS.get(stem, stem)


# Files distributed under another name than the paper's row: UCI ships Mice Protein Expression
# as Data_Cortex_Nuclear.csv (the file the paper's authors use)
CSV_KNOWN_AS = {"data-cortex-nuclear": "mice-protein"}


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

    ``options`` are the other :class:`DataSettings` fields: ``test_fraction``, ``image_size``
    (coil20) and, for CSV files, ``label_column``, ``drop_columns``, ``non_numeric``
    (``"error"``, ``"drop"``, ``"onehot"``) and ``nan_policy`` (``"error"``, ``"drop"``,
    ``"impute-mean"``). Unknown names raise ``ValueError``, and so do CSV options given for a
    dataset that is not a CSV file.
    """
    values = dict(name=name, root=None if root is None else str(root), limit=limit,
                  test_limit=test_limit, seed=seed, download=download, **options)
    return load(DataSettings.from_dict(values))
