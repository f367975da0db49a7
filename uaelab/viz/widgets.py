"""Notebook widgets that degrade to a plain call with defaults when run headless.

Every interactive cell in the notebooks goes through :func:`explore`::

    from uaelab.viz.widgets import explore, slider
    explore(show_estimate, sigma=slider(0.0, 1.0, 0.05, value=0.1), mode=["random", "conv"])

It always calls ``fn`` once with the default values, so the cell's output exists under nbval,
in a static HTML export and in CI. When a live frontend can show widgets (and the environment
variable ``UAELAB_HEADLESS`` is not set), it also shows the controls, and every change re-runs
``fn`` into the same output area.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import ipywidgets as w
from IPython import get_ipython
from IPython.display import display

ENV_HEADLESS = "UAELAB_HEADLESS"


@dataclass(frozen=True)
class Slider:
    """A numeric control: float slider, or int slider when every bound is an int."""

    min: float
    max: float
    step: float
    value: float
    description: str | None = None

    def widget(self, name: str):
        is_int = all(isinstance(v, int) for v in (self.min, self.max, self.step, self.value))
        cls = w.IntSlider if is_int else w.FloatSlider
        kw = {} if is_int else {"readout_format": ".3g"}
        return cls(min=self.min, max=self.max, step=self.step, value=self.value,
                   description=self.description or name, continuous_update=False, **kw)


def slider(min: float, max: float, step: float, value: float, description: str | None = None) -> Slider:
    """Describe a slider; ``value`` is also the headless default."""
    if not (min <= value <= max):
        raise ValueError(f"slider default {value} must lie in [{min}, {max}]")
    return Slider(min, max, step, value, description)


def _default(spec: Any) -> Any:
    if isinstance(spec, Slider):
        return spec.value
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError("a choice control needs at least one option")
        first = spec[0]
        return first[1] if isinstance(first, tuple) else first  # (label, value) pairs allowed
    return spec  # a fixed value


def _widget(name: str, spec: Any):
    if isinstance(spec, Slider):
        return spec.widget(name)
    if isinstance(spec, (list, tuple)):
        return w.Dropdown(options=list(spec), value=_default(spec), description=name)
    return w.fixed(spec)


def widgets_available() -> bool:
    """True inside an IPython kernel with ``UAELAB_HEADLESS`` unset."""
    if os.environ.get(ENV_HEADLESS):
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def explore(fn: Callable[..., Any], **controls: Any) -> None:
    """Call ``fn(**defaults)`` now; in a live notebook, also show controls that re-run it.

    ``controls`` maps each keyword of ``fn`` to a :func:`slider`, a list of choices (the first is
    the default) or a fixed value. Returns None, so a cell ending in ``explore(...)`` shows only
    the output of ``fn`` and the controls.
    """
    defaults = {k: _default(v) for k, v in controls.items()}
    if not widgets_available():
        fn(**defaults)
        return None
    ctrls = {k: _widget(k, v) for k, v in controls.items()}
    out = w.interactive_output(fn, ctrls)  # runs fn once with the defaults into `out`
    shown = [c for c in ctrls.values() if isinstance(c, w.DOMWidget)]
    display(w.VBox([w.HBox(shown, layout=w.Layout(flex_flow="row wrap")), out]))
    return None
