"""Attacks and datasets from other installed distributions, through ``importlib.metadata`` entry points.

A distribution declares, in its ``pyproject.toml``::

    [project.entry-points."uaelab.attacks"]
    extras = "uaelab_extras:register_attacks"

    [project.entry-points."uaelab.datasets"]
    extras = "uaelab_extras:register_datasets"

Each entry point names a function without arguments that calls
:func:`uaelab.attacks.register_attack` / :func:`uaelab.data.register_dataset` (or a module whose
import does). A group is loaded lazily, once per process, the first time uaelab needs its full
registry (``make_attack``, ``uaelab generate``, a dataset name that is not built in, ...); a plugin
that fails raises :class:`PluginError` naming the distribution, then and on every later use.

This module imports nothing else of uaelab, so every registry can call it without a cycle.
"""
from __future__ import annotations

import importlib.metadata as md
from types import ModuleType

ATTACKS = "uaelab.attacks"  # entry-point group of attack methods (uaelab.attacks.METHODS)
DATASETS = "uaelab.datasets"  # entry-point group of datasets (uaelab.data.DATASETS)
GROUPS = (ATTACKS, DATASETS)

# group -> None (loaded) or the error of its failed plugin (raised again on every later use,
# since half a group is registered and loading it again would re-register those names)
_LOADED: dict[str, PluginError | None] = {}


class PluginError(RuntimeError):
    """An installed uaelab plugin could not be loaded."""


def _entry_points(group: str) -> list[md.EntryPoint]:
    # sorted by name, so plugins register in the same order on every machine
    return sorted(md.entry_points(group=group), key=lambda ep: (ep.name, ep.value))


def _dist_name(ep: md.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else None


def load_plugins(group: str) -> None:
    """Run every entry point of ``group`` (:data:`ATTACKS` or :data:`DATASETS`) once per process."""
    assert group in GROUPS, group
    if group in _LOADED:
        if _LOADED[group] is not None:
            raise _LOADED[group]
        return
    _LOADED[group] = None  # set first: a plugin that asks for the registry while loading sees it as loaded
    for ep in _entry_points(group):
        try:
            obj = ep.load()
            if not isinstance(obj, ModuleType):
                obj()
        except Exception as exc:  # any failure of third-party code: say whose it is and how to get past it
            dist = _dist_name(ep)
            where = f"the distribution {dist!r}" if dist else "an installed distribution"
            fix = f"pip uninstall {dist}" if dist else "pip uninstall the distribution that declares it"
            err = PluginError(
                f"the uaelab plugin {ep.name!r} (entry point {ep.value!r} in group {group!r}, from {where}) "
                f"failed to load: {type(exc).__name__}: {exc}. Fix that distribution or uninstall it ({fix})")
            _LOADED[group] = err
            raise err from exc
