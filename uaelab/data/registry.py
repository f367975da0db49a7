"""The dataset registry: one ``{name: DatasetSpec}`` dict that load_dataset, the settings, the CLI
help and the experiments read (as torch-fidelity registers its feature extractors).

A loader is ``loader(root: Path, settings: DataSettings) -> (x_train, y_train, x_test, y_test,
class_names)`` with ``x`` uint8 pixels or float in [0, 1] (images N×C×H×W, tabular N×d) and
``y`` int labels in 0..K-1. Add one with :func:`register_dataset`::

    from uaelab.data import register_dataset

    def load_blobs(root, settings):
        ...
        return x_train, y_train, x_test, y_test, ["a", "b"]

    register_dataset("blobs", load_blobs, kind="tabular", help="two Gaussian blobs")
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from uaelab import plugins
from uaelab.data._common import ENV_DATA, Arrays
from uaelab.data.images import load_cifar10, load_coil20, load_digits, load_mnist_like, load_svhn
from uaelab.data.tabular import load_isolet
from uaelab.utils import cache_dir, is_checkout, repo_root

if TYPE_CHECKING:
    from uaelab.data import DataSettings

ENV_SHARED = "UAELAB_SHARED_DATA"  # the shared read-only copy (default: ../shared/data next to the checkout)

Loader = Callable[[Path, "DataSettings"], Arrays]


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: how to load it and where its files live."""

    loader: Loader
    kind: Literal["image", "tabular"]
    folder: str | None = None  # its sub-folder in the shared data folder (None: not looked up there)
    aliases: tuple[str, ...] = ()  # other spellings load_dataset accepts (lower case)
    help: str = ""  # one line for the CLI and the docs


DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(name: str, loader: Loader, *, kind: Literal["image", "tabular"], folder: str | None = None,
                     aliases: tuple[str, ...] = (), help: str = "") -> DatasetSpec:
    """Make ``load_dataset(name)`` (and ``uaelab generate --data name``, every experiment setting
    that names a dataset) call ``loader``. Names are lower case; re-registering a name raises."""
    key = name.strip().lower()
    if not key or key != name:
        raise ValueError(f"dataset name {name!r} must be non-empty lower case without surrounding spaces")
    if kind not in ("image", "tabular"):
        raise ValueError(f"kind must be 'image' or 'tabular', got {kind!r}")
    taken = {a for s in DATASETS.values() for a in s.aliases} | set(DATASETS)
    clash = [n for n in (key, *aliases) if n in taken]
    if clash:
        raise ValueError(f"dataset name(s) {clash} are registered already; pick another name")
    DATASETS[key] = spec = DatasetSpec(loader, kind, folder, tuple(aliases), help)
    return spec


def _lookup(low: str) -> str | None:
    if low in DATASETS:
        return low
    return next((real for real, spec in DATASETS.items() if low in spec.aliases), None)


def registered_name(name: str) -> str | None:
    """The registered spelling of ``name`` (case and aliases forgiven), or None. A name that is
    not built in loads the installed plugins' datasets first (:mod:`uaelab.plugins`)."""
    low = str(name).strip().lower()
    real = _lookup(low)
    if real is None:
        plugins.load_plugins(plugins.DATASETS)
        real = _lookup(low)
    return real


def canonical_name(name: str) -> str:
    """The registered spelling of ``name`` (case and aliases forgiven), or a CSV path as given."""
    key = str(name).strip()
    low = key.lower()
    real = registered_name(key)
    if real is not None:
        return real
    if low.endswith((".csv", ".csv.gz")) or Path(key).expanduser().is_file():
        return key
    aliases = {a: real for real, s in DATASETS.items() for a in s.aliases}
    close = difflib.get_close_matches(low, list(DATASETS) + list(aliases), n=1)
    hint = f" Did you mean {aliases.get(close[0], close[0])!r}?" if close else ""
    # (notebook 00 checks this text)
    raise ValueError(f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(DATASETS)}; "
                     "or give a path to a CSV file")


def shared_data_root() -> Path | None:
    """``$UAELAB_SHARED_DATA``, else ``<checkout>/../shared/data``, when that folder exists."""
    env = os.environ.get(ENV_SHARED)
    beside = [repo_root().parent / "shared" / "data"] if is_checkout() else []  # an installed copy has no checkout
    for cand in ([Path(env).expanduser()] if env else []) + beside:
        if cand.is_dir():
            return cand
    return None


def data_root(root: str | os.PathLike | None, name: str | None = None) -> Path:
    """Where dataset ``name``'s files are looked up: ``root`` if given, else ``$UAELAB_DATA``, else
    the shared data folder when it holds the dataset's folder, else the cache folder ``data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser()
    spec = DATASETS.get(name or "")
    shared = shared_data_root()
    if spec is not None and spec.folder and shared is not None and (shared / spec.folder).is_dir():
        return shared
    return cache_dir("data")


# -- the built-in datasets ---------------------------------------------------------------------
register_dataset("digits", lambda root, s: load_digits(s.test_fraction, s.seed), kind="image",
                 help="scikit-learn's 8×8 digits, embedded (no files)")
register_dataset("mnist", lambda root, s: load_mnist_like("mnist", root, s.download), kind="image",
                 folder="MNIST", help="MNIST, torchvision layout MNIST/raw/")
register_dataset("fashion-mnist", lambda root, s: load_mnist_like("fashion-mnist", root, s.download),
                 kind="image", folder="FashionMNIST", aliases=("fashion_mnist", "fashionmnist", "fmnist"),
                 help="Fashion-MNIST, torchvision layout FashionMNIST/raw/")
register_dataset("cifar10", lambda root, s: load_cifar10(root, s.download), kind="image",
                 aliases=("cifar-10", "cifar_10"), help="CIFAR-10 python batches")
register_dataset("svhn", lambda root, s: load_svhn(root, s.download), kind="image", folder="SVHN",
                 help="SVHN cropped digits (.mat)")
register_dataset("coil20", lambda root, s: load_coil20(root, s.image_size, s.test_fraction, s.seed),
                 kind="image", folder="COIL20", aliases=("coil-20", "coil_20"),
                 help="COIL-20 processed, COIL20/coil-20-proc/objN__P.png")
register_dataset("isolet", lambda root, s: load_isolet(root, s.test_fraction, s.seed), kind="tabular",
                 folder="ISOLET", help="UCI Isolet, ISOLET/isolet*.data[.gz]")
