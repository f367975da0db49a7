"""The worked solutions are checked: each runs its checkers in strict mode, so a solution that a
checker rejects fails the test suite (nbval runs every solution notebook). Shown here by breaking
one solution on purpose and running it the way `make test` does."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("*_solutions.ipynb"))


def _first_code(nb) -> str:
    return next(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_solution_notebook_starts_strict(path):
    nb = nbformat.read(path, as_version=4)
    first = _first_code(nb)
    assert "from uaelab.exercises import strict" in first and "strict()" in first, path.name


def test_student_notebooks_never_switch_strict_mode_on():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert not any("strict()" in c.source for c in nb.cells if c.cell_type == "code"), path.name


def test_a_broken_solution_fails_nbval(tmp_path):
    """Solutions 08 with a wrong `project` (the clamp to [0, 1] forgotten): nbval must fail on the
    checker's cell, and pass again with the worked answer."""
    src = ROOT / "notebooks" / "solutions" / "08_uae_simclr_solutions.ipynb"
    nb = nbformat.read(src, as_version=4)
    right = "return torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp(0, 1)"
    cells = [c for c in nb.cells if right in c.source]
    assert len(cells) == 1, "the worked answer to exercise 1 (project) moved: update this test"
    env = {**os.environ, "UAELAB_HEADLESS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}

    def nbval(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
                               str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)

    cells[0].source = cells[0].source.replace(right, "return torch.minimum(torch.maximum(x_adv, x - eps), x + eps)")
    broken = tmp_path / "broken_solutions.ipynb"
    nbformat.write(nb, broken)
    run = nbval(broken)
    assert run.returncode != 0, run.stdout[-2000:]
    assert "ExerciseFailed" in run.stdout, run.stdout[-2000:]

    intact = tmp_path / "intact_solutions.ipynb"
    nbformat.write(nbformat.read(src, as_version=4), intact)
    run = nbval(intact)
    assert run.returncode == 0, run.stdout[-2000:]
