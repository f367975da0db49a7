"""Attack presets: the one table of named configurations.

A preset is a set of settings values applied after the profile and before the caller's
overrides. It changes only the fields a method *declares* it takes from presets
(``register_attack(..., preset_fields=...)``): a third-party attack whose settings happen to
have a field called ``c0``, ``fallback`` or ``delta_init`` keeps its own value unless it says
otherwise. Experiments and scripts take their preset choices from here (:data:`Preset` for a
settings field, ``list(PRESETS)`` for an argparse ``choices``).
"""
from __future__ import annotations

import typing
from typing import Any, Literal

from uaelab.attacks.minmax import REFERENCE_CODE

# "paper": the paper's text (c0 = 0, L2 norms, δ0 = 0, the original returned when nothing
# succeeds). "reference_code": the authors' released code, which produced the paper's numbers
# (REFERENCE.md): c0 = 1e-3, summed squared reconstruction error for the criterion and the
# L2-UAE objective, the lowest-f iterate when nothing succeeds, a random Glorot-uniform δ0, the
# projection redrawn at every evaluation. Per preset, per part: "attack" (the method's settings),
# "mine" (the per-sample MINE settings, shared by every method), "simclr" (attack settings applied
# only with kind="simclr": the released SimCLR attack's tiled-copies criterion
# (uaelab.attacks.criteria.TiledContrastive) and its dual step with t^(1/2)).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {},
    "reference_code": {"attack": REFERENCE_CODE, "mine": {"projection": "per_evaluation"},
                       "simclr": {"contrastive": "tiled", "dual_power": 0.5}},
}
# the type of a settings field that names a preset (config.coerce reads its choices from it)
Preset = Literal["paper", "reference_code"]
assert set(typing.get_args(Preset)) == set(PRESETS), "Preset must list exactly the keys of PRESETS"

# every attack-settings field some preset sets: what a method of the MinMax family declares
ALL_PRESET_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(
    k for p in PRESETS.values() for part in ("attack", "simclr") for k in p.get(part, {})))


def check_preset(preset: str) -> str:
    """``preset`` if it names a preset, else ``ValueError`` listing them."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(map(repr, PRESETS))} "
                         "('reference_code' = the authors' released code, 'paper' = the paper's text)")
    return preset


def preset_values(preset: str, kind: str, preset_fields: tuple[str, ...]) -> tuple[dict, dict]:
    """(attack settings, MINE settings) that ``preset`` sets for a method declaring
    ``preset_fields``, with model kind ``kind``."""
    ref = PRESETS[check_preset(preset)]
    attack = {**ref.get("attack", {}), **(ref.get("simclr", {}) if kind == "simclr" else {})}
    return {k: v for k, v in attack.items() if k in preset_fields}, dict(ref.get("mine", {}))
