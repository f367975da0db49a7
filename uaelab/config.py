"""Typed settings and named profiles: how every component states its knobs and their defaults.

Every component (data, MINE, a solver, a training loop, an experiment) describes its knobs
as a frozen dataclass that inherits :class:`Settings`, in its own module (the defaults live
beside the code that reads them, one definition per knob). The dataclass field defaults are the
paper's values; a class-level ``PROFILES`` dict holds the per-profile changes:

* ``quick`` - embedded data and subsets, a few CPU minutes per experiment. The default for
  tests, nbval and ``make reproduce``.
* ``paper`` - the paper's datasets and hyper-parameters, meant for a GPU.

The profile is picked by argument or by the environment variable ``UAELAB_PROFILE``; any field
can be overridden by typed keyword values (code, notebooks, experiments) or by
``"component.field=value"`` strings, which only the command line's ``--set`` passes: text is
converted to each field's type there, once (:func:`coerce`). An unknown profile, component or
field raises ``ValueError`` naming the closest valid one; a value of the wrong type (text for
an int, say) raises too: nothing is silently ignored or silently converted.

Example::

    @register("mine")
    @dataclass(frozen=True)
    class MineSettings(Settings):
        K: int = 500        # number of pairs made from one sample
        PROFILES = {"quick": {"K": 64}}

    MineSettings.from_profile("quick", K=96)
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from typing import Any, ClassVar, TypeVar

PROFILE_NAMES: tuple[str, ...] = ("quick", "paper")
ENV_PROFILE = "UAELAB_PROFILE"
DEFAULT_PROFILE = "quick"

S = TypeVar("S", bound="Settings")

# component name -> Settings subclass; filled by @register at class definition time.
COMPONENTS: dict[str, type[Settings]] = {}


def active_profile(profile: str | None = None) -> str:
    """Return the profile name to use: ``profile`` if given, else ``$UAELAB_PROFILE``, else quick."""
    name = profile if profile is not None else os.environ.get(ENV_PROFILE, DEFAULT_PROFILE)
    if name not in PROFILE_NAMES:
        raise ValueError(
            f"unknown profile {name!r}; choose one of {', '.join(PROFILE_NAMES)} "
            f"(by argument or the environment variable {ENV_PROFILE})"
        )
    return name


def did_you_mean(name: str, options: typing.Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` naming the option closest to ``name``, or "" when none is close."""
    by_lower = {o.lower(): o for o in options}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
    return f" Did you mean {by_lower[close[0]]!r}?" if close else ""


class Settings:
    """Base class for settings dataclasses (subclasses are ``@dataclass(frozen=True)``).

    Subclasses may define ``PROFILES: ClassVar[dict[str, dict[str, Any]]]`` mapping a profile
    name to field overrides, and ``validate(self)`` raising ``ValueError`` on bad values.
    """

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {}
    # fields added after results were cached under keys without them: left out of key_dict()
    # while at their default, so those caches (UAE folders of day-long runs) stay valid
    KEY_OMIT_AT_DEFAULT: ClassVar[tuple[str, ...]] = ()

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_profile(cls: type[S], profile: str | None = None, **overrides: Any) -> S:
        """Defaults, then the profile's values, then ``overrides`` (unknown names raise)."""
        name = active_profile(profile)
        for prof in cls.PROFILES:
            assert prof in PROFILE_NAMES, f"{cls.__name__}.PROFILES names unknown profile {prof}"
        values = dict(cls.PROFILES.get(name, {}))
        values.update(overrides)
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls: type[S], values: dict[str, Any]) -> S:
        """Build from a plain dict (e.g. a saved config); unknown keys raise ``ValueError``."""
        cls._check_names(values)
        obj = cls(**cls._typed(values))  # type: ignore[call-arg]
        obj.validate()
        return obj

    def replace(self: S, **overrides: Any) -> S:
        """A copy with some fields changed; unknown names raise ``ValueError``."""
        self._check_names(overrides)
        obj = dataclasses.replace(self, **self._typed(overrides))  # type: ignore[type-var]
        obj.validate()
        return obj

    def with_overrides(self: S, assignments: typing.Iterable[str]) -> S:
        """Apply ``"field=value"`` strings, converting the text to each field's type."""
        values = {}
        for item in assignments:
            key, sep, text = item.partition("=")
            key = key.strip()
            if not sep:
                raise ValueError(f"override {item!r} must look like field=value")
            self._check_names({key: None})
            values[key] = coerce(type(self), key, text.strip())
        return self.replace(**values)

    # -- inspection -----------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of the fields (tuples become lists)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def key_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` for cache keys: fields in ``KEY_OMIT_AT_DEFAULT`` are left out while
        they hold their default (a key made before the field existed still matches)."""
        out = self.to_dict()
        defaults = {f.name: f.default for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        for name in self.KEY_OMIT_AT_DEFAULT:
            assert name in defaults, f"{type(self).__name__}.KEY_OMIT_AT_DEFAULT names unknown field {name}"
            if out[name] == defaults[name]:
                del out[name]
        return out

    def validate(self) -> None:
        """Raise ``ValueError`` on bad field values; subclasses extend this."""

    @classmethod
    def _typed(cls, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` checked against the int / float / bool fields' types: an int given for a
        float becomes that float (so 1 and 1.0 key a cache alike); text, or a float for an int,
        raises ``ValueError`` (text is read only at the CLI's ``--set``, by :func:`coerce`)."""
        hints = typing.get_type_hints(cls)
        out = dict(values)
        for key, value in values.items():
            tp = hints.get(key)
            if tp not in (int, float, bool):
                continue
            ok = isinstance(value, tp) and (tp is bool or not isinstance(value, bool))
            if tp is float and isinstance(value, int) and not isinstance(value, bool):
                out[key], ok = float(value), True
            if not ok:
                raise ValueError(f"{cls.__name__}.{key} takes a {tp.__name__}, got {type(value).__name__} "
                                 f"{value!r}; pass a {tp.__name__} (text is read only from the command line's --set)")
        return out

    @classmethod
    def _check_names(cls, values: dict[str, Any]) -> None:
        names = cls.field_names()
        for key in values:
            if key not in names:
                raise ValueError(
                    f"{cls.__name__} has no setting {key!r}.{did_you_mean(key, names)} "
                    f"Valid settings: {', '.join(names)}"
                )


def register(name: str):
    """Class decorator: make a Settings class addressable as ``name.field=value``."""

    def deco(cls: type[S]) -> type[S]:
        assert issubclass(cls, Settings), cls
        assert name not in COMPONENTS or COMPONENTS[name] is cls, f"component {name} twice"
        COMPONENTS[name] = cls
        return cls

    return deco


def coerce(cls: type, field: str, text: str) -> Any:
    """Convert ``text`` to the annotated type of ``cls.field`` (int, float, bool, str,
    Optional[...], tuple[...]); raise ``ValueError`` when it does not parse."""
    hints = typing.get_type_hints(cls)
    return _coerce(hints[field], text, f"{cls.__name__}.{field}")


def _coerce(tp: Any, text: str, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and text.lower() in ("none", "null", ""):
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, text, where)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(f"{where}: cannot read {text!r} ({'; '.join(errors)})")
    if origin is typing.Literal:
        for choice in args:
            if str(choice) == text:
                return choice
        raise ValueError(f"{where}: {text!r} is not one of {list(args)}")
    if origin in (tuple, list):
        parts = [p.strip() for p in text.strip("()[]").split(",") if p.strip()]
        inner = args[0] if args else str
        return tuple(_coerce(inner, p, where) for p in parts)
    if tp is bool:
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{where}: {text!r} is not a boolean (use true/false)")
    if tp in (int, float, str):
        try:
            return tp(text)
        except ValueError:
            raise ValueError(f"{where}: {text!r} is not a valid {tp.__name__}") from None
    if tp is Any:
        return text
    raise ValueError(f"{where}: settings of type {tp!r} cannot be set from text")


def apply_overrides(
    settings: dict[str, Settings], assignments: typing.Iterable[str]
) -> dict[str, Settings]:
    """Apply ``"component.field=value"`` strings to a dict of component name -> settings.

    Raises ``ValueError`` for an unknown component or field, naming the valid ones.
    """
    out = dict(settings)
    grouped: dict[str, list[str]] = {}
    for item in assignments:
        key = item.partition("=")[0].strip()
        comp, dot, field = key.partition(".")
        if not dot or not field:
            raise ValueError(
                f"override {item!r} must look like component.field=value, "
                f"with component one of {', '.join(sorted(out))}"
            )
        if comp not in out:
            raise ValueError(
                f"unknown settings component {comp!r} in {item!r}.{did_you_mean(comp, out)} "
                f"Components here: {', '.join(sorted(out))}"
            )
        grouped.setdefault(comp, []).append(item.split(".", 1)[1])
    for comp, items in grouped.items():
        out[comp] = out[comp].with_overrides(items)
    return out
