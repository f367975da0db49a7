"""Checkers for the exercises at the end of each notebook.

Each notebook NN has a module ``uaelab.exercises.nbNN`` with ``check_<name>(answer, ...)``
functions. A checker never raises on a wrong answer: it returns :class:`Feedback`, which
renders as a short coloured message in a notebook, e.g. "your ε is too small: no sample
succeeds". Learners call ``check_...`` themselves; ``notebooks/solutions/`` holds worked answers.
"""
from __future__ import annotations

from dataclasses import dataclass


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
    return Feedback(False, message)
