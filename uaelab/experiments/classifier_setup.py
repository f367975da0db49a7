"""Shared setup of the supervised experiments of notebooks 01–05: the profile's data, the zoo's
classifier, the samples it classifies correctly, a configured attack, and the cache-key config.

The quick profile uses the embedded 8×8 digits; the paper profile uses MNIST (found by
:func:`uaelab.data.data_root`: ``$UAELAB_DATA``, ``../shared/data``, the cache, or a download).
"""
from __future__ import annotations

from typing import Any

import torch

from uaelab.attacks import criteria as C
from uaelab.attacks import make_attack
from uaelab.data import DataSettings, load
from uaelab.models.zoo import get_model, model_path


def load_data(profile: str | None = None, **overrides: Any):
    """The profile's dataset (``DataSettings``: quick -> digits, paper -> MNIST) as DataSplits;
    the data layer finds the files (``root``, ``$UAELAB_DATA``, ``../shared/data``, the cache)."""
    return load(DataSettings.from_profile(profile, **overrides))


def classifier_for(data, profile: str | None = None, seed: int = 0) -> tuple[torch.nn.Module, dict]:
    """The zoo's trained classifier for ``data`` (eval mode) and a small dict that keys caches."""
    model = get_model("classifier", data, profile=profile, seed=seed, progress=False).eval()
    info = {"kind": "classifier", "file": model_path("classifier", data, profile=profile, seed=seed).name}
    return model, info


@torch.no_grad()
def correct_samples(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                    n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first ``n`` samples that ``model`` classifies correctly (the paper attacks only
    those): ``(x[idx], y[idx], idx)``. Raises ``ValueError`` when fewer than ``n`` exist."""
    pred = torch.cat([model(x[i:i + 512]).argmax(1) for i in range(0, len(x), 512)])
    idx = torch.nonzero(pred == y).flatten()[:n]
    if len(idx) < n:
        raise ValueError(f"only {len(idx)} of {len(x)} samples are classified correctly; ask for n <= {len(idx)}")
    return x[idx], y[idx], idx


def make_mine_attack(method: str, model, profile: str | None, *, attack: dict[str, Any] | None = None,
                     mine: dict[str, Any] | None = None, seed: int = 0,
                     target: torch.Tensor | int | None = None, preset: str = "paper"):
    """:func:`uaelab.attacks.make_attack` with ``kind="classifier"``, plus a target: a thin
    wrapper. ``attack``/``mine``: typed settings values (``{"T": 100}``, ``{"sampler": "conv"}``);
    ``target``: a class or one class per sample (C&W's targeted margin, with the attack's κ);
    ``preset``: the paper's text by default, or "reference_code". Its settings key the caches."""
    built = make_attack(method, model, profile=profile, attack=attack, mine=mine, seed=seed,
                        kind="classifier", preset=preset)
    if target is not None:
        built.criterion = C.as_factory(C.cw(model, kappa=built.settings.kappa, target=target))
    return built


def slim(result) -> dict:
    """An AttackResult as a plain dict of CPU tensors (what the caches store)."""
    out = {k: getattr(result, k).detach().cpu() for k in ("x_adv", "success", "mi_final", "mi_best", "c", "f")}
    out["history"] = {k: v.detach().cpu() for k, v in result.history.items()}
    return out
