"""Pieces shared by every loader: seeded splits and subsets, scaling, label encoding, errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from uaelab.utils import derive_seed

ENV_DATA = "UAELAB_DATA"
# what a loader returns: x_train, y_train, x_test, y_test, class_names
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]


# -- errors and labels -----------------------------------------------------------------------
def encode_labels(values) -> tuple[np.ndarray, list[str]]:
    """Any labels (ints, strings, floats) -> int64 0..K-1 in sorted order, and the K names.

    The names are the original values as text, so ``class_names[y]`` reads back the label."""
    values = np.asarray(values, dtype=object)
    classes = sorted(set(values.tolist()), key=lambda v: (str(type(v)), v))
    index = {c: i for i, c in enumerate(classes)}
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values)), [str(c) for c in classes]


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
