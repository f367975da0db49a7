"""The container every loader returns: :class:`DataSplits`, and :func:`finish` that builds it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from uaelab.data._common import balanced_subset, encode_labels, minmax_fit, stratified_split
from uaelab.data.tabular import frame_arrays
from uaelab.utils import fingerprint


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

    @classmethod
    def from_arrays(cls, x_train, y_train, x_test=None, y_test=None, *, name: str = "arrays",
                    test_fraction: float = 0.2, seed: int = 0, limit: int | None = None,
                    test_limit: int | None = None) -> "DataSplits":
        """Data already in memory (numpy arrays or tensors) as DataSplits.

        Images: N×C×H×W, uint8 pixels or float in [0, 1]. Tabular: N×d numbers, min-max scaled
        to [0, 1] with the training split's statistics (the test split clipped), as
        :func:`uaelab.data.load_dataset` does for CSV files. Labels: any values (ints, strings),
        mapped to 0..K-1 in sorted order; ``class_names`` keeps them. Without ``x_test`` the
        data is split by ``seed`` (stratified, ``test_fraction`` to test).
        """
        if (x_test is None) != (y_test is None):
            raise ValueError("give both x_test and y_test, or neither (then test_fraction splits the data)")
        xs = [np.asarray(x.cpu() if torch.is_tensor(x) else x) for x in (x_train, x_test) if x is not None]
        ys = [np.asarray(y.cpu() if torch.is_tensor(y) else y).reshape(-1) for y in (y_train, y_test) if y is not None]
        for x, y in zip(xs, ys):
            if x.ndim == 3:
                raise ValueError(f"x has shape {x.shape}: images are N×C×H×W; add the channel axis, x[:, None]")
            if x.ndim not in (2, 4):
                raise ValueError(f"x has shape {x.shape}; pass images N×C×H×W or tabular data N×d")
            if len(x) != len(y):
                raise ValueError(f"{len(x)} samples but {len(y)} labels; pass one label per sample")
            if x.dtype != np.uint8 and np.isnan(x).any():
                raise ValueError("x has missing values (NaN); impute them, or pass a DataFrame to "
                                 "DataSplits.from_frame(..., nan_policy='impute-mean' or 'drop')")
        if len(xs) == 2 and xs[0].shape[1:] != xs[1].shape[1:]:
            raise ValueError(f"x_train samples have shape {xs[0].shape[1:]} but x_test {xs[1].shape[1:]}")
        kind = "image" if xs[0].ndim == 4 else "tabular"
        if kind == "image" and any(x.dtype != np.uint8 and (x.min() < 0 or x.max() > 1) for x in xs if x.size):
            raise ValueError("image values must lie in [0, 1] (or be uint8 pixels); divide by 255 or rescale")
        y_all, class_names = encode_labels(np.concatenate(ys))
        if len(xs) == 1:
            tr, te = stratified_split(y_all, test_fraction, seed)
            x_tr, y_tr, x_te, y_te = xs[0][tr], y_all[tr], xs[0][te], y_all[te]
        else:
            x_tr, x_te = xs
            y_tr, y_te = y_all[:len(x_tr)], y_all[len(x_tr):]
        if kind == "tabular":
            x_tr, x_te = minmax_fit(x_tr.astype(np.float64), x_te.astype(np.float64))
        return finish(name, kind, x_tr, y_tr, x_te, y_te, class_names, limit, test_limit, seed)

    @classmethod
    def from_frame(cls, df, *, label_column: str | int | None = None, drop_columns: tuple[str, ...] = (),
                   non_numeric: str = "error", nan_policy: str = "error", name: str = "frame",
                   test_fraction: float = 0.2, seed: int = 0, limit: int | None = None,
                   test_limit: int | None = None) -> "DataSplits":
        """A pandas DataFrame with one label column as tabular DataSplits; the options are those
        of :func:`uaelab.data.load_dataset` for CSV files (see :func:`uaelab.data.tabular.frame_arrays`)."""
        arrays = frame_arrays(df, f"DataFrame {name!r}", label_column=label_column, drop_columns=drop_columns,
                              non_numeric=non_numeric, nan_policy=nan_policy, test_fraction=test_fraction, seed=seed)
        return finish(name, "tabular", *arrays, limit=limit, test_limit=test_limit, seed=seed)

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
