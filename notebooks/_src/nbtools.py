"""Shared by the notebook build scripts: execute a notebook headless and keep only the outputs
that nbval compares (cells marked ``# NBVAL_CHECK_OUTPUT``; nbval skips cells stored without
outputs, so those cells must be stored with theirs)."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat

CHECK = "# NBVAL_CHECK_OUTPUT"


def keep_checked_outputs(nb: nbformat.NotebookNode, path: Path, timeout: int = 900) -> None:
    """Execute ``nb`` (to be saved at ``path``) in the quick profile; keep marked cells' text outputs."""
    from nbclient import NotebookClient

    env = {"UAELAB_PROFILE": "quick", "UAELAB_HEADLESS": "1", "OMP_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, (cell.source, errors)
        if not cell.source.startswith(CHECK):
            cell.outputs, cell.execution_count = [], None
        else:  # keep text only: stderr (progress bars, warnings) is not part of the checked output
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
        cell.metadata.pop("execution", None)


# --- teaching scaffolding shared by every notebook -----------------------------------------
REFS = {  # each notebook links a reference once, where it first names it
    "hsu": ("Hsu et al., AAAI 2022", "https://arxiv.org/abs/2103.01895"),
    "mine": ("Belghazi et al., 2018", "https://arxiv.org/abs/1801.04062"),
    "cw": ("Carlini & Wagner, 2017", "https://arxiv.org/abs/1608.04644"),
    "madry": ("Madry et al., 2018", "https://arxiv.org/abs/1706.06083"),
    "fid": ("Heusel et al., 2017", "https://arxiv.org/abs/1706.08500"),
    "kid": ("Bińkowski et al., 2018", "https://arxiv.org/abs/1801.01401"),
    "simclr": ("Chen et al., 2020", "https://arxiv.org/abs/2002.05709"),
    "concrete": ("Balın, Abid & Zou, 2019", "https://arxiv.org/abs/1901.09346"),
}
GLOSSARY = "../docs/glossary.md"  # relative to notebooks/


def ref(key: str) -> str:
    """A markdown link to a reference of :data:`REFS`."""
    text, url = REFS[key]
    return f"[{text}]({url})"


def intro(minutes: int, objectives: list[str], prerequisites: list[str]) -> str:
    """The block under a notebook's title: teaching time, objectives, prerequisites, glossary."""
    obj = "\n".join(f"* {o}" for o in objectives)
    pre = "\n".join(f"* {p}" for p in prerequisites)
    return (f"**Teaching time:** about {minutes} minutes · terms (DV bound, ASR, UAE, NT-Xent, KID, ...): "
            f"[glossary]({GLOSSARY}) · paper: {ref('hsu')}\n\n"
            f"**You will learn to**\n\n{obj}\n\n**Before you start**\n\n{pre}")


def takeaways(items: list[str]) -> str:
    """The key-takeaways box that closes a notebook (a quote block renders everywhere)."""
    body = "\n".join(f"> * {t}" for t in items)
    return f"> **Key takeaways**\n>\n{body}"


# The first code cell of every solutions notebook: a checker that rejects a worked answer raises,
# so the tests (nbval) fail when a solution stops passing its own checker.
STRICT_SOURCE = """\
from uaelab.exercises import strict

strict()  # worked answers must pass their checkers: a rejected one raises ExerciseFailed"""
