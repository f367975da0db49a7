"""Build every notebook of the series from its jupytext source: ``make notebooks``.

Each notebook ``notebooks/NN_name.ipynb`` has one source, ``notebooks/_src/NN_name.py``, in
jupytext's ``py:percent`` format (review and edit that file, never the JSON). Cells tagged
``solution`` make up the worked solutions, ``notebooks/solutions/NN_name_solutions.ipynb``; every
other cell is the students' notebook. Run from the repository root::

    .venv/bin/python notebooks/_src/build.py            # all notebooks
    .venv/bin/python notebooks/_src/build.py 03 06       # some
    .venv/bin/python notebooks/_src/build.py --check     # do the committed notebooks match their sources?
    .venv/bin/python notebooks/_src/build.py --executed build/book   # executed copies for `make book`

Markdown may cite a claim's verdict only as ``{verdict:ID}`` (an id of
``results/real/claims.csv``): the build writes the verdict the committed claims file states, in
bold, so prose cannot drift from the results (``--check`` and tests/test_notebook_sources.py fail
when a notebook states a verdict the claims file no longer gives).

A notebook with cells marked ``# NBVAL_CHECK_OUTPUT`` is executed once (quick profile, headless)
and stored with the outputs of those cells only (nbval compares them; it skips a cell stored
without outputs); every other notebook is stored without outputs. Cell ids are numbered, so a
rebuild of an unchanged source changes nothing.
"""
from __future__ import annotations

import csv
import functools
import re
import sys
from pathlib import Path

import jupytext
import nbformat
from nbformat.v4 import new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbtools import CHECK, keep_checked_outputs  # noqa: E402  (notebooks/_src/nbtools.py)

SRC = Path(__file__).resolve().parent  # notebooks/_src
NOTEBOOKS = SRC.parent  # notebooks/
SOLUTION = "solution"  # the cell tag that selects the worked solutions
METADATA = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}}


PLACEHOLDER = re.compile(r"\{verdict:([A-Za-z0-9.\-]+)\}")
CLAIMS = NOTEBOOKS.parent / "results" / "real" / "claims.csv"


@functools.lru_cache(maxsize=1)
def _verdicts() -> dict[str, str]:
    with open(CLAIMS, newline="") as fh:
        return {row["id"]: row["verdict"] for row in csv.DictReader(fh)}


def cite_verdicts(text: str, where: str = "") -> str:
    """``{verdict:ID}`` -> ``**<the verdict results/real/claims.csv states for ID>**``."""
    def one(m: re.Match) -> str:
        table = _verdicts()
        if m.group(1) not in table:
            raise ValueError(f"{where}: {{verdict:{m.group(1)}}} names no claim of {CLAIMS.name}; "
                             "see `python -m uaelab.claims` for the ids")
        return f"**{table[m.group(1)]}**"
    return PLACEHOLDER.sub(one, text)


def sources() -> list[Path]:
    """Every notebook source, in the series' order."""
    return sorted(SRC.glob("[0-9][0-9]_*.py"))


def targets(source: Path) -> tuple[Path, Path]:
    """The students' notebook and the solutions notebook built from ``source``."""
    return NOTEBOOKS / f"{source.stem}.ipynb", NOTEBOOKS / "solutions" / f"{source.stem}_solutions.ipynb"


def split(source: Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode | None]:
    """(students' notebook, solutions notebook or None), unexecuted, with stable cell ids."""
    text = jupytext.read(source, fmt="py:percent")
    key = source.stem[:2]
    student, solution = [], []
    for cell in text.cells:
        tags = list(cell.metadata.get("tags", []))
        is_solution = SOLUTION in tags
        tags = [t for t in tags if t != SOLUTION]
        cell.metadata = {"tags": tags} if tags else {}
        if cell.cell_type == "markdown":
            cell.source = cite_verdicts(cell.source, source.name)
        (solution if is_solution else student).append(cell)
    built = []
    for cells, prefix in ((student, f"nb{key}"), (solution, f"sol{key}")):
        if not cells:
            built.append(None)
            continue
        cells = [nbformat.from_dict(dict(c)) for c in cells]
        for i, cell in enumerate(cells):
            cell.id = f"{prefix}-{i:02d}"
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb = new_notebook(cells=cells, metadata=dict(METADATA))
        nbformat.validate(nb)
        built.append(nb)
    return built[0], built[1]


def has_checked_cells(nb: nbformat.NotebookNode) -> bool:
    return any(c.cell_type == "code" and c.source.startswith(CHECK) for c in nb.cells)


def build(source: Path) -> None:
    for nb, path in zip(split(source), targets(source)):
        if nb is None:
            continue
        if has_checked_cells(nb):
            keep_checked_outputs(nb, path)
            nb.metadata = nbformat.from_dict(dict(METADATA))  # not the kernel's version: rebuilds stay diff-free
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        print(f"wrote {path.relative_to(NOTEBOOKS.parent)}")


def differences(source: Path) -> list[str]:
    """Where the committed notebooks differ from ``source`` (cell kinds, ids, sources, tags; and
    a checked cell stored without its output). Empty when they agree."""
    found = []
    for nb, path in zip(split(source), targets(source)):
        if nb is None:
            if path.exists():
                found.append(f"{path.name}: exists but {source.name} has no cell tagged '{SOLUTION}'")
            continue
        if not path.exists():
            found.append(f"{path.name}: missing; run make notebooks")
            continue
        have = nbformat.read(path, as_version=4)
        want_cells = [(c.cell_type, c.id, c.source, c.metadata.get("tags", [])) for c in nb.cells]
        have_cells = [(c.cell_type, c.get("id"), c.source, c.metadata.get("tags", [])) for c in have.cells]
        if want_cells != have_cells:
            first = next((i for i, (a, b) in enumerate(zip(want_cells, have_cells)) if a != b),
                         min(len(want_cells), len(have_cells)))
            found.append(f"{path.name}: differs from {source.name} from cell {first} on "
                         f"({len(have_cells)} cells committed, {len(want_cells)} in the source)")
        for c in have.cells:
            if c.cell_type == "code" and c.source.startswith(CHECK) and not c.outputs:
                found.append(f"{path.name}: checked cell {c.get('id')} stored without its output (nbval would skip it)")
    return found


def execute_into(dest: Path, chosen: list[Path]) -> None:
    """Executed copies of the students' notebooks (every output kept) under ``dest/notebooks``, for
    the static site; the committed notebooks are not touched. Quick profile, headless."""
    import os
    import time

    from nbclient import NotebookClient

    out = dest / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    env = {"UAELAB_PROFILE": "quick", "UAELAB_HEADLESS": "1", "OMP_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for source in chosen:
            path = targets(source)[0]
            nb = nbformat.read(path, as_version=4)
            t0 = time.monotonic()
            NotebookClient(nb, timeout=900, kernel_name="python3",
                           resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
            nbformat.write(nb, out / path.name)
            print(f"executed {path.name} in {time.monotonic() - t0:.0f} s")
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    # the book's table of contents follows the sources, so a new notebook needs no other entry
    toc = ["format: jb-book", "root: intro", "parts:", "  - caption: The notebooks", "    chapters:"]
    toc += [f"      - file: notebooks/{s.stem}" for s in chosen]
    toc += ["  - caption: For teachers and learners", "    chapters:",
            "      - file: docs/findings", "      - file: docs/verdicts", "      - file: docs/glossary",
            "      - file: docs/workshop"]
    (dest / "_toc.yml").write_text("\n".join(toc) + "\n")


def main(argv: list[str]) -> int:
    check = "--check" in argv
    if "--executed" in argv:
        i = argv.index("--executed")
        dest, argv = Path(argv[i + 1]), argv[:i] + argv[i + 2:]
    else:
        dest = None
    keys = [a for a in argv if not a.startswith("--")]
    chosen = [s for s in sources() if not keys or s.stem[:2] in keys]
    if keys and len(chosen) != len(set(keys)):
        raise SystemExit(f"unknown notebook number(s) in {keys}; sources: {[s.stem for s in sources()]}")
    if dest is not None:
        execute_into(dest, chosen)
        return 0
    if check:
        problems = [p for s in chosen for p in differences(s)]
        print("\n".join(problems) or f"{len(chosen)} sources agree with their notebooks")
        return 1 if problems else 0
    for source in chosen:
        build(source)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
