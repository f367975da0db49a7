"""Used by notebooks/_src/build.py: execute a notebook headless and keep only the outputs
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

