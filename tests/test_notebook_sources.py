"""Every notebook is built from one reviewable jupytext source (notebooks/_src/NN_name.py,
py:percent); the committed notebooks must agree with their sources, solutions are the cells
tagged "solution", and no notebook imports a private uaelab module."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _build_module():
    spec = importlib.util.spec_from_file_location("nb_build", NOTEBOOKS / "_src" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()
SOURCES = build.sources()


def test_every_notebook_has_one_source():
    stems = [s.stem for s in SOURCES]
    assert stems == sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert "09_what_reproduces" in stems
    solutions = sorted(p.stem.removesuffix("_solutions") for p in (NOTEBOOKS / "solutions").glob("*.ipynb"))
    assert solutions == [s.stem for s in SOURCES if build.split(s)[1] is not None]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_notebooks_agree_with_their_source(source):
    assert build.differences(source) == [], "rebuild with `make notebooks`"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_solutions_are_the_cells_tagged_solution(source):
    student, solution = build.split(source)
    assert student is not None and student.cells[0].source.startswith(f"# {source.stem[:2]} ·")
    assert not any("strict()" in c.source for c in student.cells)
    if solution is not None:
        first_code = next(c for c in solution.cells if c.cell_type == "code")
        assert "strict()" in first_code.source  # worked answers must pass their checkers


def test_build_check_reports_a_drifted_notebook(tmp_path, monkeypatch):
    """`build.py --check` fails when a committed notebook no longer matches its source."""
    import nbformat

    source = SOURCES[0]
    student, _ = build.split(source)
    student.cells[-1].source += "\nedited by hand"
    drifted = tmp_path / f"{source.stem}.ipynb"
    nbformat.write(student, drifted)
    monkeypatch.setattr(build, "targets", lambda s: (drifted, tmp_path / "solutions" / "none.ipynb"))
    assert any("differs" in p for p in build.differences(source))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_no_private_uaelab_imports(source):
    imports = re.findall(r"^\s*(?:from|import)\s+(uaelab[\w.]*)", source.read_text(), flags=re.M)
    private = [m for m in imports if any(part.startswith("_") for part in m.split("."))]
    assert not private, f"{source.name} imports private modules {private}: use their public names"
