"""Checkers for the exercises at the end of each notebook.

Each notebook NN has a module ``uaelab.exercises.nbNN`` with ``check_<name>(answer, ...)``
functions. A checker never raises on a wrong answer: it returns :class:`Feedback`, which
renders as a short coloured message in a notebook, e.g. "your ε is too small: no sample
succeeds". Learners call ``check_...`` themselves; ``notebooks/solutions/`` holds worked answers.

**Strict mode.** The worked solutions call :func:`strict` in their first cell: from then on a
checker that rejects an answer raises :class:`ExerciseFailed` (an ``AssertionError``) instead of
printing ❌, so a solution that stops passing its own checker fails the test suite (nbval runs
every solution notebook). The students' notebooks never switch it on: their unsolved exercises
print ❌ and the notebook still runs to the end.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

ENV_STRICT = "UAELAB_STRICT_EXERCISES"  # "1": strict from the start (e.g. for a whole test run)
_state = {"strict": bool(os.environ.get(ENV_STRICT))}


class ExerciseFailed(AssertionError):
    """A checker rejected an answer while :func:`strict` mode was on."""


class strict:
    """Switch strict mode on (``strict()``) or off (``strict(False)``) for this kernel.

    It takes effect at the call; used as a context manager (``with strict(): ...``) it restores the
    previous mode on exit, which is what tests do.
    """

    def __init__(self, enabled: bool = True):
        self.previous = _state["strict"]
        _state["strict"] = bool(enabled)

    def __enter__(self) -> "strict":
        return self

    def __exit__(self, *exc) -> None:
        _state["strict"] = self.previous

    def __repr__(self) -> str:
        return f"exercise checkers in strict mode: {_state['strict']} (a rejected answer raises ExerciseFailed)"


def is_strict() -> bool:
    """Whether a rejected answer raises (see :func:`strict`)."""
    return _state["strict"]


@dataclass(frozen=True)
class Feedback:
    """The verdict on one exercise answer."""

    ok: bool  # whether the answer is accepted
    message: str  # what to do next, or why it is right

    def _repr_markdown_(self) -> str:
        icon = "✅" if self.ok else "❌"
        return f"{icon} {self.message}"

    def __repr__(self) -> str:
        return f"{'OK' if self.ok else 'NOT YET'}: {self.message}"

    def __bool__(self) -> bool:
        return self.ok


def passed(message: str) -> Feedback:
    return Feedback(True, message)


def failed(message: str) -> Feedback:
    """A rejected answer: returned as feedback, or raised as :class:`ExerciseFailed` in strict mode."""
    if _state["strict"]:
        raise ExerciseFailed(f"❌ {message}")
    return Feedback(False, message)
