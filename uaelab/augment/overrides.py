"""An augmentation run's attack budget, given once for every method, turned into each method's
typed ``make_attack`` values: shared by Tables 4-6 and :class:`uaelab.augment.AutoencoderTask`."""
from __future__ import annotations

from typing import Any

from uaelab.attacks import METHODS
from uaelab.augment.pipeline import Method
from uaelab.config import COMPONENTS, coerce, did_you_mean
from uaelab.mi.mine import MineSettings


def attack_components() -> dict[str, type]:
    """Settings class of every registered attack method's component (MINE's is not among them)."""
    return {spec.component: COMPONENTS[spec.component] for spec in METHODS.values()}


def parse_attack_set(attack_set: tuple[str, ...]) -> list[tuple[str | None, str, str]]:
    """``attack_set`` entries as (component or None, field, value text), checked: an
    un-prefixed field must belong to some attack's settings, a prefix must be ``mine`` or an
    attack's settings component, and the field must be one of its settings. Anything else raises
    ``ValueError`` with the closest valid name (a typo never applies to nothing)."""
    comps = {"mine": MineSettings, **attack_components()}
    unprefixed = sorted({f for c in attack_components().values() for f in c.field_names()})
    out = []
    for item in attack_set:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"attack_set entry {item!r} must look like field=value or component.field=value")
        prefix, dot, name = key.strip().partition(".")
        if not dot:
            name, prefix = prefix, None
            if name not in unprefixed:
                raise ValueError(f"attack_set entry {item!r}: no attack has a setting {name!r}."
                                 f"{did_you_mean(name, unprefixed)} Prefix MINE settings with 'mine.'")
        elif prefix not in comps:
            raise ValueError(f"attack_set entry {item!r}: unknown settings component {prefix!r}."
                             f"{did_you_mean(prefix, comps)} Components: {', '.join(comps)}")
        else:
            comps[prefix]._check_names({name: None})
        out.append((prefix, name, text.strip()))
    return out


def attack_overrides(method: Method, attack_set: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Typed ``make_attack`` keyword values for ``method``'s attack: ``{"attack": {...}, "mine": {...}}``.

    ``attack_set`` entries, read from text once here: ``"T=20"`` (no prefix) applies to every
    method whose settings have that field, so MINE-UAE and L2-UAE get the same iteration budget;
    ``"mine.K=64"`` to the per-sample MINE of every method; ``"minmax.T=20"`` only to that
    component. Misspelt names raise (:func:`parse_attack_set`). Then ``method.overrides`` (typed
    already), last so that they win: "start-only" keeps T = 1 and "closed-form" its estimator
    whatever budget the run sets for every method (a run-wide T = 20 once turned start-only into a
    full no-MI run).
    """
    comp = METHODS[method.attack].component
    settings_cls = COMPONENTS[comp]
    fields = settings_cls.field_names()
    attack: dict[str, Any] = {}
    mine: dict[str, Any] = {}
    for prefix, name, text in parse_attack_set(attack_set):
        if prefix is None and name in fields or prefix == comp:
            attack[name] = coerce(settings_cls, name, text)
        elif prefix == "mine":
            mine[name] = coerce(MineSettings, name, text)
    for key, value in method.overrides.items():
        prefix, dot, name = key.partition(".")
        if not dot or prefix == comp:
            attack[name if dot else key] = value
        elif prefix == "mine":
            mine[name] = value
        else:
            raise ValueError(f"method {method.key!r}: override {key!r} names neither 'mine' nor {comp!r}")
    return {"attack": attack, "mine": mine}
