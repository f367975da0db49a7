"""No prose is stranded in a code cell: a markdown heading (``# ## Exercises``) or an exercise
statement (``# **Exercise 1** ...``) written as comments of a ``# %%`` cell renders as code, not
as text, when the cell above forgot its ``# %% [markdown]`` marker."""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks" / "_src").glob("[0-9][0-9]_*.py"))

# a markdown heading inside a comment ("# ## Exercises", "# # 07 · ...") or an exercise's bold label
PROSE_LINE = re.compile(r"^#\s*(#{1,6}\s+\S|\*\*Exercise\b)")


def stranded_prose(cell_source: str) -> list[str]:
    """The lines of a code cell that are markdown prose written as comments."""
    return [line for line in cell_source.splitlines() if PROSE_LINE.match(line)]


def stranded_cells(source_text: str) -> list[tuple[int, list[str]]]:
    """(cell index, prose lines) for every code cell of a py:percent source holding prose."""
    nb = jupytext.reads(source_text, fmt="py:percent")
    return [(i, lines) for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and (lines := stranded_prose(cell.source))]


def test_there_are_sources():
    assert len(SOURCES) >= 10


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_no_markdown_is_stranded_in_a_code_cell(source):
    found = stranded_cells(source.read_text())
    assert found == [], f"{source.name}: prose in a code cell (add `# %% [markdown]` above it): {found}"


# notebook 07's source before the fix (commit 6b1fda1, lines 157-188): "## Exercises" and
# exercise 1's statement ended the code cell above them
OLD_07 = '''# %% [markdown]
# The full run's verdicts:

# %%
import pandas as pd

frames = []
if frames:
    display(pd.concat(frames).reset_index(drop=True))
#
# ## Exercises
#
# **Exercise 1** (★★★ stretch). Return the M input indices that the select layer uses at test time, as
# `model.selected_features()` does.

# %%
from uaelab.exercises.nb07 import check_downstream_accuracy, check_selected_features
'''


def test_the_rule_catches_the_old_notebook_07_cell():
    found = stranded_cells(OLD_07)
    assert [i for i, _ in found] == [1]
    assert found[0][1] == ["# ## Exercises", "# **Exercise 1** (★★★ stretch). Return the M input indices "
                           "that the select layer uses at test time, as"]


def test_the_rule_leaves_code_comments_and_markdown_alone():
    text = ('# %% [markdown]\n# ## Exercises\n#\n# **Exercise 1** (★☆☆ warm-up). Compute it.\n\n'
            '# %%\n# NBVAL_CHECK_OUTPUT\nx = 1  # ## not a heading at the start of a line\n'
            '# step 2: print it\nprint(x)\n')
    assert stranded_cells(text) == []


EXERCISE = re.compile(r"^# \*\*Exercise (\d+)\*\* \((★+)(☆*) ", re.MULTILINE)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_exercises_state_their_difficulty_in_increasing_order(source):
    """Each exercise is numbered 1, 2, ... and states its difficulty (★☆☆ to ★★★); a harder one
    never comes before an easier one, so a warm-up never depends on a stretch exercise."""
    found = EXERCISE.findall(source.read_text())
    labels = re.findall(r"^# \*\*Exercise \d+\*\*", source.read_text(), re.MULTILINE)
    assert len(found) == len(labels), f"{source.name}: an exercise without its ★ difficulty"
    assert [int(n) for n, _, _ in found] == list(range(1, len(found) + 1))
    stars = [len(full) for _, full, _ in found]
    assert all(len(f) + len(e) == 3 for _, f, e in found)
    assert stars == sorted(stars), f"{source.name}: difficulties {stars} are not in increasing order"
