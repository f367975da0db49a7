"""The trained-model cache: every notebook and experiment gets its models from here.

``get_model(kind, data, ...)`` trains a model with :mod:`uaelab.models.train`'s recipe once and
stores a checkpoint under ``cache_dir("models")``, keyed by (kind, training settings, model
arguments, data fingerprint, seed, uaelab version). Later calls with the same key load it.
A cached file that is corrupt or does not match is reported with a warning and retrained
(never loaded silently). Training writes its state to ``<checkpoint>.partial`` after every
epoch, so a run that is interrupted (Ctrl-C, a killed kernel) resumes where it stopped on the
next call; the file is removed once the checkpoint is saved.

Kinds: ``classifier`` (architecture by image size, or ``arch=``), ``dense``, ``sparse``,
``conv``, ``adversarial``, ``concrete`` (``M=`` features), ``simclr`` (``encoder=`` small or
resnet18).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from torch import nn

from uaelab import __version__
from uaelab.config import active_profile
from uaelab.models import MODEL_KINDS, SimCLR, checkpoint
from uaelab.models.train import (
    TrainSettings,
    model_defaults,
    recipe_settings,
    train_autoencoder,
    train_classifier,
    train_concrete,
    train_resuming,
    train_simclr,
)
from uaelab.utils import cache_dir, fingerprint

ZOO_VERSION = 1  # bump when a recipe changes meaning, to retrain every cached model
# Per-kind revisions, bumped when one model's meaning changes (sparse: KL averaged over units
# like the released code; adversarial: released sizes; simclr: no flips for grey images), so only
# that kind is retrained.
KIND_REVISIONS = {"sparse": 2, "adversarial": 2, "simclr": 2}
KINDS = ("classifier", "dense", "sparse", "conv", "adversarial", "concrete", "simclr")


def _resolve(kind: str, data, settings: TrainSettings | None, profile: str | None, seed: int,
             model_kwargs: dict[str, Any]) -> tuple[TrainSettings, dict[str, Any]]:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}")
    s = (settings if settings is not None else recipe_settings(kind, profile)).replace(seed=seed)
    kw = {**model_defaults(kind, profile), **model_kwargs}
    if kind == "concrete":
        kw.setdefault("M", 50)
    if kind == "simclr":
        kw.setdefault("encoder", "small" if active_profile(profile) == "quick" else "resnet18")
    return s, kw


def model_path(kind: str, data, *, settings: TrainSettings | None = None, profile: str | None = None,
               seed: int = 0, **model_kwargs) -> Path:
    """Where :func:`get_model` keeps this model (whether or not it exists yet)."""
    s, kw = _resolve(kind, data, settings, profile, seed, model_kwargs)
    parts = [ZOO_VERSION, __version__, kind, s.to_dict(), kw, data.fingerprint(), seed]
    if kind in KIND_REVISIONS:
        parts.append(KIND_REVISIONS[kind])
    key = fingerprint(*parts)
    return cache_dir("models") / f"{getattr(data, 'name', 'data')}-{kind}-{key}.pt"


def _train(kind: str, data, s: TrainSettings, seed: int, kw: dict, progress: bool, profile: str | None,
           state_path: Path):
    common = dict(seed=seed, progress=progress, state_path=state_path)
    if kind == "classifier":
        return train_classifier(data, s, **common, **kw)
    if kind == "concrete":
        return train_concrete(data, settings=s, **common, **kw)
    if kind == "simclr":
        return train_simclr(data, s, **common, **kw)
    return train_autoencoder(kind, data, s, profile=profile, **common, **kw)


def partial_path(path: Path) -> Path:
    """The resume file of the checkpoint ``path`` while its model is being trained."""
    return path.with_name(path.name + ".partial")


def _build_kind(model: nn.Module) -> str:
    if isinstance(model, SimCLR):
        return "simclr"
    for name, cls in MODEL_KINDS.items():
        if type(model) is cls:
            return name
    raise AssertionError(f"no build kind for {type(model).__name__}")


def get_trained(kind: str, data, *, settings: TrainSettings | None = None, profile: str | None = None,
                seed: int = 0, progress: bool = True, refresh: bool = False,
                **model_kwargs) -> tuple[nn.Module, pd.DataFrame]:
    """(model in eval mode, training history) from the cache, training it on a miss.

    ``data`` is a DataSplits (``uaelab.data.load_dataset``); training uses x_train (and y_train
    for classifiers). ``settings`` defaults to the recipe of ``kind`` for ``profile``;
    ``refresh=True`` retrains and overwrites.
    """
    s, kw = _resolve(kind, data, settings, profile, seed, model_kwargs)
    path = model_path(kind, data, settings=s, profile=profile, seed=seed, **model_kwargs)
    if path.exists() and not refresh:
        try:
            model, meta = checkpoint.load(path, expected_fingerprint=data.fingerprint(), expected_settings=s)
            return model, pd.DataFrame(meta["extra"].get("history", {}))
        except ValueError as exc:
            warnings.warn(f"ignoring cached model: {exc}; retraining", stacklevel=2)
    partial = partial_path(path)
    if refresh:
        partial.unlink(missing_ok=True)
    model, history = train_resuming(lambda state: _train(kind, data, s, seed, kw, progress, profile, state), partial)
    in_shape = (model.d,) if kind == "concrete" else tuple(data.x_train.shape[1:])
    checkpoint.save(path, model, kind=_build_kind(model), settings=s.to_dict(), in_shape=in_shape,
                    data_fingerprint=data.fingerprint(),
                    extra={"history": history.to_dict(orient="list"), "zoo_kind": kind, "model_kwargs": kw,
                           "seed": seed})
    partial.unlink(missing_ok=True)
    return model, history


def get_model(kind: str, data, *, settings: TrainSettings | None = None, profile: str | None = None,
              seed: int = 0, progress: bool = True, refresh: bool = False, **model_kwargs) -> nn.Module:
    """The trained model of ``kind`` for ``data`` (cached; see :func:`get_trained`)."""
    return get_trained(kind, data, settings=settings, profile=profile, seed=seed, progress=progress,
                       refresh=refresh, **model_kwargs)[0]
