"""Pieces shared by every loader: the DataSplits container, seeded splits and subsets, scaling."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..utils import cache_dir, derive_seed, fingerprint, writable  # noqa: F401 (writable re-exported)

ENV_DATA = "UAELAB_DATA"


@dataclass
class DataSplits:
    """Train/test tensors of one dataset.

    Images: ``x_*`` float32 N×C×H×W in [0, 1]. Tabular: float32 N×d in [0, 1] (min-max fit on
    the training split; the test split is clipped to [0, 1]). Labels: int64 in 0..n_classes-1.
    """

    name: str
    kind: Literal["image", "tabular"]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    class_names: list[str]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) for images, (d,) for tabular data."""
        return tuple(self.x_train.shape[1:])

    def fingerprint(self) -> str:
        """Short hash of the name and all four tensors (for cache keys)."""
        return fingerprint(self.name, self.x_train, self.y_train, self.x_test, self.y_test)

    def __repr__(self) -> str:
        return (f"DataSplits({self.name!r}, {self.kind}, train={tuple(self.x_train.shape)}, "
                f"test={tuple(self.x_test.shape)}, n_classes={self.n_classes})")

    def check(self) -> "DataSplits":
        """Assert the documented invariants (called by every loader before returning)."""
        for x, y in ((self.x_train, self.y_train), (self.x_test, self.y_test)):
            assert x.dtype == torch.float32 and y.dtype == torch.int64, (x.dtype, y.dtype)
            assert x.dim() == (4 if self.kind == "image" else 2), x.shape
            assert len(x) == len(y), (x.shape, y.shape)
            assert x.numel() == 0 or (0 <= x.min() and x.max() <= 1), "values outside [0, 1]"
            assert len(y) == 0 or (0 <= y.min() and y.max() < self.n_classes)
        assert len(self.class_names) == self.n_classes
        return self


# -- locations ------------------------------------------------------------------------------
def data_root(root: str | os.PathLike | None) -> Path:
    """``root`` if given, else ``$UAELAB_DATA``, else the cache folder ``data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_DATA)
    return Path(env).expanduser() if env else cache_dir("data")




def missing_files_error(dataset: str, where: Path, expected: str, reason: str) -> ValueError:
    return ValueError(
        f"{dataset}: {reason}. Expected {expected} under {where}. Put the files there, pass "
        f"root=<folder> (data.root=...), or set the environment variable {ENV_DATA} to a folder "
        "that holds them; with network access, download=True fetches them."
    )


# -- seeded splits and subsets --------------------------------------------------------------
def _rng(seed: int, *parts: str | int) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *parts))


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test), each sorted, with ``round(test_fraction * n_c)`` of every class in test.

    Deterministic for a given seed; classes with one sample stay in train.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    rng = _rng(seed, "split")
    train, test = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        k = int(round(test_fraction * len(idx))) if len(idx) > 1 else 0
        k = min(k, len(idx) - 1)
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def balanced_subset(y: np.ndarray, limit: int | None, seed: int, tag: str = "train") -> np.ndarray:
    """Sorted indices of at most ``limit`` samples, as equal per class as the data allows.

    Samples are taken round-robin over the classes (each class in a seeded random order), so
    class counts differ by at most one unless a class runs out. ``None`` keeps everything.
    """
    n = len(y)
    if limit is None or limit >= n:
        return np.arange(n)
    if limit < 1:
        raise ValueError(f"limit must be a positive number of samples (or None for all), got {limit}")
    rng = _rng(seed, "subset", tag)
    rank = np.empty(n, dtype=np.int64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rank[idx[rng.permutation(len(idx))]] = np.arange(len(idx))
    class_order = rng.permutation(int(y.max()) + 1)  # which class gets the leftover first
    key = rank * (len(class_order) + 1) + class_order[y]
    return np.sort(np.argsort(key, kind="stable")[:limit])


def minmax_fit(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale features to [0, 1] with min/max of the training split; clip the test split.

    A constant training column maps to 0 (its range is treated as 1, not divided by zero).
    """
    lo = x_train.min(axis=0)
    span = x_train.max(axis=0) - lo
    span = np.where(span > 0, span, 1.0)
    scale = lambda x: np.clip((x - lo) / span, 0.0, 1.0).astype(np.float32)  # noqa: E731
    return scale(x_train), scale(x_test)


def finish(
    name: str,
    kind: Literal["image", "tabular"],
    x_train: np.ndarray | torch.Tensor,
    y_train: np.ndarray | torch.Tensor,
    x_test: np.ndarray | torch.Tensor,
    y_test: np.ndarray | torch.Tensor,
    class_names: list[str],
    limit: int | None,
    test_limit: int | None,
    seed: int,
) -> DataSplits:
    """Apply the class-balanced limits, convert to tensors and check the invariants.

    ``x`` arrays are float in [0, 1] already, or uint8 pixels (divided by 255 here).
    """
    y_train = np.asarray(y_train, dtype=np.int64)
    y_test = np.asarray(y_test, dtype=np.int64)
    tr = balanced_subset(y_train, limit, seed, "train")
    te = balanced_subset(y_test, test_limit, seed, "test")

    def as_x(x, idx):  # subset first, then convert: saves memory for the large image sets
        part = np.ascontiguousarray(np.asarray(x)[idx])
        if part.dtype == np.uint8:  # raw 8-bit pixels
            return torch.from_numpy(part).float().div_(255.0)
        return torch.from_numpy(part.astype(np.float32, copy=False))

    return DataSplits(
        name=name, kind=kind,
        x_train=as_x(x_train, tr), y_train=torch.from_numpy(y_train[tr].copy()),
        x_test=as_x(x_test, te), y_test=torch.from_numpy(y_test[te].copy()),
        n_classes=len(class_names), class_names=list(class_names),
    ).check()
