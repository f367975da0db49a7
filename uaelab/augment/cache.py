"""The disk cache of computed results (experiments, augmentation rows, trained models), keyed by
everything a result depends on. Its own module so that the pipeline (:mod:`uaelab.augment`) and
the experiments built on it both use it without importing each other."""
from __future__ import annotations

import pickle
from typing import Any, Callable, TypeVar

from uaelab.utils import atomic_write_bytes, cache_dir, fingerprint

T = TypeVar("T")
CACHE_VERSION = 2  # bump to invalidate every cached result after a change in semantics


def cache_key(name: str, config: dict[str, Any]) -> str:
    return f"{name}-{fingerprint(CACHE_VERSION, name, config)}"


def cached(name: str, config: dict[str, Any], compute: Callable[[], T], *, refresh: bool = False) -> T:
    """Return ``compute()``, memoised on disk under the cache folder by ``(name, config)``.

    ``config`` must hold everything the result depends on (settings dicts, data fingerprints,
    seeds). The value must be picklable (DataFrames, tensors, dicts); build figures from it
    afterwards rather than caching them. Writes are atomic, so an interrupted run never leaves
    a half-written entry.
    """
    path = cache_dir("results") / f"{cache_key(name, config)}.pkl"
    if path.exists() and not refresh:
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except (EOFError, pickle.UnpicklingError):
            path.unlink()  # a corrupt entry is recomputed, never trusted
    value = compute()
    atomic_write_bytes(path, pickle.dumps(value))
    return value


def is_cached(name: str, config: dict[str, Any]) -> bool:
    """Whether :func:`cached` would return a stored value for ``(name, config)``."""
    return (cache_dir("results") / f"{cache_key(name, config)}.pkl").exists()
