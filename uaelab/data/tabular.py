"""Tabular loaders: UCI Isolet, any CSV file or DataFrame. Features end up N×d float32 in [0, 1],
min-max scaled with statistics of the training split only (test values clipped)."""
from __future__ import annotations

import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from uaelab.data._common import Arrays, encode_labels, minmax_fit, missing_files_error, stratified_split


def _read_csv(path: Path, dataset: str, **kw) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kw)  # .gz is decompressed by pandas
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValueError(f"{dataset}: cannot read {path} ({type(exc).__name__}: {exc}); "
                         "is it a corrupt archive?") from exc
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{dataset}: {path} is empty") from exc


# -- Isolet ---------------------------------------------------------------------------------
ISOLET_TRAIN = "isolet1+2+3+4.data"
ISOLET_TEST = "isolet5.data"


def _isolet_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _isolet_rows(path: Path) -> tuple[np.ndarray, np.ndarray]:
    df = _read_csv(path, "isolet", header=None, skipinitialspace=True)
    values = df.to_numpy(dtype=np.float64)
    if values.shape[1] != 618 or np.isnan(values).any():
        raise ValueError(f"isolet: {path} should have 617 features + class per row without gaps, got {values.shape}")
    y = values[:, -1].round().astype(np.int64) - 1  # classes 1..26 -> 0..25
    if y.min() < 0 or y.max() > 25:
        raise ValueError(f"isolet: {path} has classes outside 1..26")
    return values[:, :-1], y


def load_isolet(root: Path, test_fraction: float, seed: int) -> Arrays:
    """UCI Isolet (617 features in [-1, 1], 26 letters) from ``<root>/ISOLET/`` or ``<root>/``.

    Uses the official split when both ``isolet1+2+3+4.data`` and ``isolet5.data`` (or ``.gz``)
    exist; with only one of them, splits it by seed (stratified, ``test_fraction`` to test).
    """
    folder = next((f for f in (root / "ISOLET", root)
                   if _isolet_file(f, ISOLET_TEST) or _isolet_file(f, ISOLET_TRAIN)), None)
    if folder is None:
        raise missing_files_error(
            "isolet", root, f"ISOLET/ with {ISOLET_TEST}[.gz] and/or {ISOLET_TRAIN}[.gz]",
            "files not found (no automatic download; get them from the UCI repository, dataset 54)",
        )
    train_path, test_path = _isolet_file(folder, ISOLET_TRAIN), _isolet_file(folder, ISOLET_TEST)
    if train_path and test_path:
        (x_tr, y_tr), (x_te, y_te) = _isolet_rows(train_path), _isolet_rows(test_path)
    else:
        x, y = _isolet_rows(train_path or test_path)
        tr, te = stratified_split(y, test_fraction, seed)
        x_tr, y_tr, x_te, y_te = x[tr], y[tr], x[te], y[te]
    x_tr, x_te = minmax_fit(x_tr, x_te)
    return x_tr, y_tr, x_te, y_te, [chr(ord("a") + c) for c in range(26)]


# -- any table (a CSV file or a pandas DataFrame) ---------------------------------------------
# The options, with the value that raises first: a table needs an explicit choice to lose data.
NAN_POLICIES = ("error", "drop", "impute-mean")  # missing values: raise / drop those rows / column means
NON_NUMERIC = ("error", "drop", "onehot")  # text columns: raise / leave out / one 0-1 column per value


def _label_column(df: pd.DataFrame, label_column: str | int | None, source: str) -> str:
    cols = list(df.columns)
    if label_column is None:
        return cols[-1]
    if label_column in cols:
        return label_column
    text = str(label_column).strip()
    if text.lstrip("-").isdigit() and -len(cols) <= int(text) < len(cols):
        return cols[int(text)]
    raise ValueError(
        f"{source}: no label column {label_column!r}; set label_column to one of the columns "
        f"{cols} or to an index 0..{len(cols) - 1}"
    )


def check_table_options(nan_policy: str, non_numeric: str) -> None:
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {', '.join(map(repr, NAN_POLICIES))}, got {nan_policy!r}")
    if non_numeric not in NON_NUMERIC:
        raise ValueError(f"non_numeric must be one of {', '.join(map(repr, NON_NUMERIC))}, got {non_numeric!r}")


def _features(feats: pd.DataFrame, non_numeric: str, source: str) -> pd.DataFrame:
    """Numeric features; text columns dropped or one-hot encoded (a missing text value stays
    missing in all its 0-1 columns, so ``nan_policy`` decides about it like about any NaN)."""
    text = [c for c in feats.columns if not pd.api.types.is_numeric_dtype(feats[c])]
    if not text or non_numeric == "drop":
        return feats.drop(columns=text)
    if non_numeric == "error":
        examples = {str(c): feats[c].dropna().iloc[0] if feats[c].notna().any() else None for c in text[:3]}
        raise ValueError(
            f"{source}: columns {[str(c) for c in text]} are not numeric (e.g. {examples}); set "
            "non_numeric='onehot' to encode them, non_numeric='drop' to leave them out, or list ID "
            "columns in drop_columns"
        )
    parts = [feats.drop(columns=text)]
    for c in text:
        onehot = pd.get_dummies(feats[c], prefix=str(c), dtype=np.float64)
        onehot.loc[feats[c].isna().to_numpy()] = np.nan
        parts.append(onehot)
    return pd.concat(parts, axis=1)


def frame_arrays(df: pd.DataFrame, source: str, *, label_column: str | int | None = None,
                 drop_columns: tuple[str, ...] = (), non_numeric: str = "error", nan_policy: str = "error",
                 test_fraction: float = 0.2, seed: int = 0) -> Arrays:
    """A table with one label column (default: the last) -> split arrays scaled to [0, 1].

    ``drop_columns`` (e.g. IDs) are removed; text feature columns follow ``non_numeric``;
    missing values follow ``nan_policy`` (``"drop"``: drop those rows; ``"impute-mean"``: fill
    with the training split's column means, rows without a label dropped). Labels may be any
    values; they become 0..K-1 in sorted order and ``class_names`` keeps them.
    """
    check_table_options(nan_policy, non_numeric)
    label = _label_column(df, label_column, source)
    drop = [drop_columns] if isinstance(drop_columns, str) else list(drop_columns)
    missing = [c for c in drop if c not in df.columns]
    if missing or label in drop:
        raise ValueError(f"{source}: drop_columns {drop} must name feature columns of {list(df.columns)} "
                         f"(not the label column {label!r})")
    feats = _features(df.drop(columns=[label, *drop]), non_numeric, source)
    if feats.shape[1] == 0:
        raise ValueError(f"{source}: no feature columns left besides the label column {label!r}; "
                         "check label_column, drop_columns and non_numeric")
    x = feats.to_numpy(dtype=np.float64)
    labels = df[label]
    x_nan, y_nan = np.isnan(x).any(axis=1), labels.isna().to_numpy()
    if (x_nan.any() or y_nan.any()) and nan_policy == "error":
        cols = [str(c) for c in feats.columns[np.isnan(x).any(axis=0)]] + ([str(label)] if y_nan.any() else [])
        raise ValueError(
            f"{source}: {int((x_nan | y_nan).sum())} rows have missing values (columns {cols}); set "
            "the option nan_policy='drop' (data.nan_policy=drop) or nan_policy='impute-mean'"
        )
    keep = ~y_nan if nan_policy == "impute-mean" else ~(x_nan | y_nan)
    x, labels = x[keep], labels[keep]
    if len(x) == 0:
        raise ValueError(f"{source}: no rows left after dropping missing values; try nan_policy='impute-mean'")
    y, class_names = encode_labels(labels.to_numpy())
    tr, te = stratified_split(y, test_fraction, seed)
    x_tr, x_te = x[tr], x[te]
    if nan_policy == "impute-mean":
        with warnings.catch_warnings():  # an all-missing column has no mean: it becomes 0
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nan_to_num(np.nanmean(x_tr, axis=0))
        x_tr = np.where(np.isnan(x_tr), means, x_tr)
        x_te = np.where(np.isnan(x_te), means, x_te)
    x_tr, x_te = minmax_fit(x_tr, x_te)
    return x_tr, y[tr], x_te, y[te], class_names


def load_csv(path: Path, **options) -> Arrays:
    """A CSV with a header row (``.gz`` too); ``options`` are those of :func:`frame_arrays`."""
    return frame_arrays(_read_csv(path, f"CSV {path.name}"), f"CSV {path}", **options)
