"""Docs must not drift from code: every ```python block in README.md runs, in order, in one
namespace, on the embedded data (quick profile, isolated cache)."""
from __future__ import annotations

import re

from conftest import REPO


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert _blocks(), "README.md should show how to call uaelab from Python"


def test_readme_python_blocks_run(tmp_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("UAELAB_PROFILE", "quick")
    monkeypatch.chdir(tmp_path)
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {"__name__": "__readme__"}
    for i, block in enumerate(_blocks()):
        exec(compile(block, f"README.md block {i}", "exec"), namespace)
