"""Small shared helpers: seeding, per-sample random streams, input checks, fingerprints, paths.

Nothing here has side effects at import time.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

ENV_CACHE = "UAELAB_CACHE"
ENV_OUTPUT = "UAELAB_OUTPUT"  # where `uaelab reproduce` writes figures/ and results/ (default: the working directory)


# -- randomness -----------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) global RNGs from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derive_seed(*parts: int | str) -> int:
    """A stable 63-bit seed from any tuple of ints/strings (e.g. ``(seed, sample_index)``).

    Used to give every sample its own random stream, so a sample's result does not depend on
    which other samples share its batch.
    """
    h = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little") & (2**63 - 1)


def generator(seed: int, *parts: int | str, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded by ``derive_seed(seed, *parts)``."""
    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(seed, *parts))
    return g


# -- input checks ---------------------------------------------------------------------------
def check_unit_interval(x: torch.Tensor, name: str = "x", ndim: int | Iterable[int] | None = None) -> None:
    """Raise ``ValueError`` unless ``x`` is a finite floating tensor with values in [0, 1].

    ``ndim`` (an int or a set of ints) additionally checks the number of dimensions, e.g. 4 for
    images N×C×H×W or 2 for tabular N×d.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = {ndim} if isinstance(ndim, int) else set(ndim)
        if x.dim() not in allowed:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, sorted(allowed)))} dimensions "
                f"(images N×C×H×W, tabular N×d), got shape {tuple(x.shape)}"
            )
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}; use x.float() / 255")
    if torch.isnan(x).any():
        raise ValueError(f"{name} contains NaN; clean or impute the data first")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"{name} must lie in [0, 1], got range [{x.min().item():.4g}, {x.max().item():.4g}]; "
            "rescale it, e.g. (x - x.min()) / (x.max() - x.min())"
        )


def check_epsilon(eps: float) -> None:
    """Raise ``ValueError`` unless 0 < eps <= 1 (an L∞ bound in the [0, 1] data box)."""
    if not (isinstance(eps, (int, float)) and 0 < eps <= 1):
        raise ValueError(f"epsilon must satisfy 0 < epsilon <= 1 (1 means no L∞ bound), got {eps!r}")


# -- fingerprints ---------------------------------------------------------------------------
def fingerprint(*objs: Any) -> str:
    """A short sha256 hex digest of tensors, arrays and JSON-able objects, in order.

    Tensors and arrays hash their dtype, shape and bytes, so equal data gives equal prints.
    """
    h = hashlib.sha256()
    for obj in objs:
        if isinstance(obj, torch.Tensor):
            obj = obj.detach().cpu().contiguous().numpy()
        if isinstance(obj, np.ndarray):
            h.update(f"{obj.dtype}{obj.shape}".encode())
            h.update(np.ascontiguousarray(obj).tobytes())
        else:
            h.update(json.dumps(obj, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


# -- paths ----------------------------------------------------------------------------------
def cache_dir(*parts: str) -> Path:
    """The uaelab cache folder (``$UAELAB_CACHE`` or ``~/.cache/uaelab``), created on demand."""
    base = os.environ.get(ENV_CACHE) or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "uaelab"
    )
    path = Path(base, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def repo_root() -> Path:
    """The folder above the ``uaelab`` package: a source checkout's root, whose committed
    ``results/real/`` the notebooks read. In an installed package it is ``site-packages``: read
    from it (nothing is there), never write to it; outputs go to :func:`output_dir`."""
    return Path(__file__).resolve().parent.parent


def is_checkout() -> bool:
    """Whether uaelab runs from a source checkout (editable install or PYTHONPATH), not an installed copy."""
    return (repo_root() / "pyproject.toml").is_file()


def output_dir(out: Path | str | None = None) -> Path:
    """The folder that results and figures are written under: ``out`` if given, else
    ``$UAELAB_OUTPUT``, else the working directory (in a checkout run from its root, where the
    committed ``figures/`` and ``results/`` are). Never the installed package itself."""
    base = Path(out if out is not None else os.environ.get(ENV_OUTPUT) or Path.cwd()).expanduser().resolve()
    package = Path(__file__).resolve().parent
    if base == package or package in base.parents:
        raise ValueError(f"the output folder {base} lies inside the uaelab package ({package}); run from "
                         f"another folder, or name one with --out DIR or ${ENV_OUTPUT}")
    return base


def writable(path: Path | str) -> bool:
    """Whether files may be created in ``path`` (or in its nearest existing parent).

    The permission bits are honoured explicitly: root passes ``os.access`` on any folder, but a
    folder marked read-only (no write bit for anyone, like a shared data copy) must stay as it is.
    """
    path = Path(path)
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    return bool(path.stat().st_mode & 0o222) and os.access(path, os.W_OK | os.X_OK)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary name and a rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (CPU when it has none)."""
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module | None):
    """``model.eval()`` inside the block; afterwards the model's previous train/eval mode is
    back, so an evaluation never changes a model the caller goes on training. None: no-op."""
    was_training = model.training if model is not None else False
    if model is not None:
        model.eval()
    try:
        yield model
    finally:
        if model is not None:
            model.train(was_training)
