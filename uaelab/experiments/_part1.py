"""Helpers shared by the supervised experiments of notebooks 01–05 (data, classifier, samples).

The quick profile uses the embedded 8×8 digits; the paper profile uses MNIST, read from
``../shared/data`` next to the checkout when it is there (else ``$UAELAB_DATA``, the cache
folder, or a download).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..utils import repo_root


def shared_data_root() -> Path | None:
    """``$UAELAB_SHARED_DATA`` or ``<checkout>/../shared/data`` when that folder exists."""
    env = os.environ.get("UAELAB_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [repo_root().parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


def load_data(profile: str | None = None, **overrides: Any):
    """The profile's dataset (``DataSettings``: quick -> digits, paper -> MNIST) as DataSplits.

    MNIST and Fashion-MNIST are read from the shared data folder when it holds them and no
    ``root`` or ``$UAELAB_DATA`` says otherwise.
    """
    from ..data import DataSettings, ENV_DATA, load

    s = DataSettings.from_profile(profile, **overrides)
    folder = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}.get(s.name.lower())
    shared = shared_data_root()
    if folder and s.root is None and not os.environ.get(ENV_DATA) and shared and (shared / folder).is_dir():
        s = s.replace(root=str(shared))
    return load(s)


def classifier_for(data, profile: str | None = None, seed: int = 0) -> tuple[torch.nn.Module, dict]:
    """The zoo's trained classifier for ``data`` (eval mode) and a small dict that keys caches."""
    from ..zoo import get_model, model_path

    model = get_model("classifier", data, profile=profile, seed=seed, progress=False).eval()
    info = {"kind": "classifier", "file": model_path("classifier", data, profile=profile, seed=seed).name}
    return model, info


@torch.no_grad()
def correct_samples(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first ``n`` samples that ``model`` classifies correctly (the paper attacks only
    those): ``(x[idx], y[idx], idx)``. Raises ``ValueError`` when fewer than ``n`` exist."""
    pred = torch.cat([model(x[i:i + 512]).argmax(1) for i in range(0, len(x), 512)])
    idx = torch.nonzero(pred == y).flatten()[:n]
    if len(idx) < n:
        raise ValueError(f"only {len(idx)} of {len(x)} samples are classified correctly; ask for n <= {len(idx)}")
    return x[idx], y[idx], idx


def make_mine_attack(method: str, model, profile: str | None, overrides: list[str], seed: int = 0,
                     target: torch.Tensor | int | None = None, kappa: float | None = None):
    """``uaelab.attacks.make_attack`` for a classifier, optionally targeted (``target``: a class
    or one class per sample). Returns the attack; its settings key the caches."""
    from .. import criteria as C
    from ..attacks import make_attack

    attack = make_attack(method, model, profile=profile, overrides=overrides, seed=seed, kind="classifier")
    if target is not None:
        k = attack.settings.kappa if kappa is None else kappa
        attack.criterion = C.as_factory(C.cw(model, kappa=k, target=target))
    return attack


def attack_config(attack) -> dict:
    """The settings that determine an attack's result (for cache keys)."""
    cfg = {"attack": type(attack).__name__, "settings": attack.settings.to_dict(), "seed": attack.seed}
    if getattr(attack, "uses_mine", False) or hasattr(attack.settings, "mi_eval_steps"):
        cfg["mine"] = attack.mine_settings.to_dict()
    return cfg


def slim(result) -> dict:
    """An AttackResult as a plain dict of CPU tensors (what the caches store)."""
    out = {k: getattr(result, k).detach().cpu() for k in ("x_adv", "success", "mi_final", "mi_best", "c", "f")}
    out["history"] = {k: v.detach().cpu() for k, v in result.history.items()}
    return out
