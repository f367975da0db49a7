"""Image loaders: digits (embedded), MNIST, Fashion-MNIST, CIFAR-10, SVHN, COIL-20.

Each returns raw arrays ``(x_train, y_train, x_test, y_test, class_names)`` with ``x`` uint8 or
float in [0, 1], N×C×H×W; :func:`uaelab.data._common.finish` applies limits and makes tensors.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import re
import shutil
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from uaelab.data._common import Arrays, missing_files_error, stratified_split
from uaelab.utils import cache_dir, writable


def fetch_or_fail(dataset: str, where: Path, expected: str, download: bool | None, fetch: Callable[[], None]) -> None:
    """Run ``fetch()`` (a torchvision download) unless ``download`` is False; any failure,
    e.g. no network, becomes a ``ValueError`` that says where the files were expected."""
    if download is False:
        raise missing_files_error(dataset, where, expected, "files not found (download=False)")
    try:
        fetch()
    except Exception as exc:  # URLError, HTTPError, socket errors, torchvision's RuntimeError
        raise missing_files_error(
            dataset, where, expected, f"files not found and the download failed ({type(exc).__name__}: {exc})"
        ) from exc


# -- digits ---------------------------------------------------------------------------------
def load_digits(test_fraction: float, seed: int) -> Arrays:
    """scikit-learn's 8×8 digits (1797 images, values 0..16 -> /16), split by seed."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]  # N×1×8×8
    y = d.target.astype(np.int64)
    tr, te = stratified_split(y, test_fraction, seed)
    return x[tr], y[tr], x[te], y[te], [str(c) for c in range(10)]


# -- MNIST and Fashion-MNIST ----------------------------------------------------------------
def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _extract_gz(src: Path, dst: Path, md5: str, dataset: str) -> None:
    """Check ``src`` against torchvision's md5, then gunzip it to ``dst`` atomically."""
    got = _md5(src)
    if got != md5:
        raise ValueError(
            f"{dataset}: corrupt archive {src} (md5 {got}, expected {md5}); delete it and download "
            "the file again (or run with download=True and network access)"
        )
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")  # per process: concurrent loads must not collide
    try:
        with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    except (OSError, EOFError, zlib.error) as exc:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"{dataset}: corrupt archive {src} ({exc}); delete it and download it again") from exc
    tmp.replace(dst)


def load_mnist_like(dataset: str, root: Path, download: bool | None) -> Arrays:
    """MNIST or Fashion-MNIST in torchvision's layout ``<root>/MNIST/raw/*.gz``.

    The ``.gz`` files are md5-checked and extracted next to them when ``root`` is writable,
    otherwise (e.g. a read-only shared copy) into the cache folder ``data``; nothing is
    written into a read-only root. Reading is torchvision's own.
    """
    from torchvision.datasets import MNIST, FashionMNIST

    cls = MNIST if dataset == "mnist" else FashionMNIST
    folder = cls.__name__  # torchvision's folder name: MNIST / FashionMNIST
    archives = [name for name, _ in cls.resources]
    plain = [name[: -len(".gz")] for name in archives]
    src_raw = root / folder / "raw"
    work = root if writable(src_raw) else cache_dir("data")
    work_raw = work / folder / "raw"
    if all((src_raw / p).is_file() for p in plain):
        work = root  # already extracted: read in place, write nothing
    elif not all((work_raw / p).is_file() for p in plain):
        if all((src_raw / a).is_file() for a in archives):
            work_raw.mkdir(parents=True, exist_ok=True)
            for (archive, md5), p in zip(cls.resources, plain):
                _extract_gz(src_raw / archive, work_raw / p, md5, dataset)
        else:
            expected = f"{folder}/raw/ with {', '.join(archives)}"
            fetch_or_fail(dataset, root, expected, download, lambda: cls(str(work), train=True, download=True))
    try:
        train, test = cls(str(work), train=True), cls(str(work), train=False)
    except (RuntimeError, AssertionError, ValueError, OSError) as exc:
        raise ValueError(
            f"{dataset}: cannot read the extracted files in {work / folder / 'raw'} ({exc}); delete them "
            "so they are extracted again from the .gz archives"
        ) from exc
    x_tr, x_te = train.data.numpy()[:, None], test.data.numpy()[:, None]  # uint8 N×1×28×28
    names = [c.split(" - ")[0] for c in cls.classes]  # MNIST's "0 - zero" -> "0"
    return x_tr, train.targets.numpy(), x_te, test.targets.numpy(), names


# -- CIFAR-10 -------------------------------------------------------------------------------
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST = ["test_batch"]


def _unpickle(path: Path, dataset: str) -> dict:
    # the same format reading as torchvision.datasets.CIFAR10 (latin1 pickles of numpy arrays);
    # torchvision's extra md5 check is left out so that any copy in this format loads
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError, OSError) as exc:
        raise ValueError(f"{dataset}: corrupt file {path} ({exc}); delete it and download it again") from exc


def _cifar_batches(folder: Path, names: list[str], dataset: str) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for name in names:
        entry = _unpickle(folder / name, dataset)
        if "data" not in entry or not ({"labels", "fine_labels"} & set(entry)):
            raise ValueError(f"{dataset}: {folder / name} is not a CIFAR batch (keys {sorted(entry)})")
        xs.append(np.asarray(entry["data"], dtype=np.uint8))
        ys.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
    return np.vstack(xs).reshape(-1, 3, 32, 32), np.asarray(ys, dtype=np.int64)


def load_cifar10(root: Path, download: bool | None) -> Arrays:
    """CIFAR-10 python batches in ``<root>/cifar-10-batches-py/`` (torchvision's layout)."""
    from torchvision.datasets import CIFAR10

    needed = CIFAR_TRAIN + CIFAR_TEST + ["batches.meta"]
    candidates = [root] + ([cache_dir("data")] if not writable(root) else [])
    found = next((r for r in candidates if all((r / CIFAR_FOLDER / n).is_file() for n in needed)), None)
    if found is None:
        work = root if writable(root) else cache_dir("data")
        expected = f"{CIFAR_FOLDER}/ with {', '.join(needed)}"
        fetch_or_fail("cifar10", root, expected, download, lambda: CIFAR10(str(work), train=True, download=True))
        found = work
    folder = found / CIFAR_FOLDER
    x_tr, y_tr = _cifar_batches(folder, CIFAR_TRAIN, "cifar10")
    x_te, y_te = _cifar_batches(folder, CIFAR_TEST, "cifar10")
    names = list(_unpickle(folder / "batches.meta", "cifar10").get("label_names", []))
    if len(names) != 10:
        names = [str(c) for c in range(10)]
    return x_tr, y_tr, x_te, y_te, names


# -- SVHN -----------------------------------------------------------------------------------
def _read_svhn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
        x, y = mat["X"], mat["y"]
    except (ValueError, OSError, KeyError, TypeError) as exc:
        raise ValueError(f"svhn: corrupt or foreign file {path} ({exc}); delete it and download it again") from exc
    if x.ndim != 4 or x.shape[2] != 3:
        raise ValueError(f"svhn: {path} holds X of shape {x.shape}, expected H×W×3×N")
    y = y.astype(np.int64).reshape(-1)
    y[y == 10] = 0  # SVHN stores the digit 0 as class 10, as torchvision undoes too
    return np.ascontiguousarray(np.transpose(x, (3, 2, 0, 1))).astype(np.uint8), y


def load_svhn(root: Path, download: bool | None) -> Arrays:
    """SVHN cropped digits ``train_32x32.mat`` and ``test_32x32.mat`` in ``<root>/SVHN/`` or ``<root>/``."""
    from torchvision.datasets import SVHN

    files = ["train_32x32.mat", "test_32x32.mat"]
    candidates = [root / "SVHN", root] + ([cache_dir("data") / "SVHN"] if not writable(root) else [])
    found = next((c for c in candidates if all((c / f).is_file() for f in files)), None)
    if found is None:
        work = (root if writable(root) else cache_dir("data")) / "SVHN"
        fetch = lambda: [SVHN(str(work), split=s, download=True) for s in ("train", "test")]  # noqa: E731
        fetch_or_fail("svhn", root, f"SVHN/ with {', '.join(files)}", download, fetch)
        found = work
    x_tr, y_tr = _read_svhn(found / files[0])
    x_te, y_te = _read_svhn(found / files[1])
    return x_tr, y_tr, x_te, y_te, [str(c) for c in range(10)]


# -- COIL-20 --------------------------------------------------------------------------------
COIL_PATTERN = re.compile(r"obj(\d+)__(\d+)\.png$")


def coil20_folder(root: Path) -> Path | None:
    """The first of ``<root>/COIL20/coil-20-proc``, ``<root>/coil-20-proc``, ``<root>`` holding objN__P.png."""
    for cand in (root / "COIL20" / "coil-20-proc", root / "coil-20-proc", root):
        if cand.is_dir() and any(COIL_PATTERN.match(p.name) for p in cand.iterdir()):
            return cand
    return None


def load_coil20(root: Path, image_size: int, test_fraction: float, seed: int) -> Arrays:
    """COIL-20 processed (grey objects, 72 poses each) resized to image_size², split by seed."""
    from PIL import Image

    folder = coil20_folder(root)
    if folder is None:
        raise missing_files_error(
            "coil20", root, "COIL20/coil-20-proc/ (or coil-20-proc/) with obj1__0.png ... obj20__71.png",
            "files not found (COIL-20 has no automatic download; get coil-20-proc.zip from "
            "https://www.cs.columbia.edu/CAVE/software/softlib/coil-20.php)",
        )
    entries = sorted(
        (int(m[1]), int(m[2]), p) for p in folder.iterdir() if (m := COIL_PATTERN.match(p.name))
    )
    xs, ys = [], []
    for obj, _, path in entries:
        try:
            with Image.open(path) as im:
                im = im.convert("L")
                if im.size != (image_size, image_size):
                    im = im.resize((image_size, image_size), Image.BILINEAR)  # antialiased when shrinking
                xs.append(np.asarray(im, dtype=np.uint8))
        except OSError as exc:
            raise ValueError(f"coil20: cannot read {path} ({exc}); replace the file") from exc
        ys.append(obj - 1)
    x, y = np.stack(xs)[:, None], np.asarray(ys, dtype=np.int64)
    n_classes = int(y.max()) + 1
    tr, te = stratified_split(y, test_fraction, seed)
    return x[tr], y[tr], x[te], y[te], [f"obj{c + 1}" for c in range(n_classes)]
