"""The package's import structure: every module imports on its own, there is no import cycle
inside uaelab/, and imports sit at module top (function-level only for slow optional libraries)."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

PKG = REPO / "uaelab"
# third-party modules that cost about a second to import and only some calls need: imported on use
SLOW = ("torchvision", "sklearn", "torch_fidelity", "scipy", "statsmodels", "PIL", "matplotlib.pyplot")
# the command dispatcher imports each command's modules when that command runs, so that
# `uaelab generate --help` never imports matplotlib or the experiments (tests/test_plugins.py)
DISPATCHERS = ("uaelab.cli",)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported (module body, also inside top-level
    if/try blocks, but not under ``if TYPE_CHECKING``)."""
    out = []
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            continue
        nodes = ast.walk(stmt) if isinstance(stmt, (ast.If, ast.Try)) else [stmt]
        out += [n for n in nodes if isinstance(n, (ast.Import, ast.ImportFrom))]
    return out


def uaelab_targets(name: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The uaelab modules an import statement of module ``name`` executes."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    if node.level:
        package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    if base not in MODULES:
        return set()
    subs = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}  # from . import store
    return subs | ({base} if len(subs) < len(node.names) else set())


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        imports = top_level_imports(ast.parse(path.read_text()))
        graph[name] = set().union(*[uaelab_targets(name, n) for n in imports]) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_known_edges():
    graph = import_graph()
    assert "uaelab.cache" in graph["uaelab.augment"] and "uaelab.store" in graph["uaelab.augment"]
    assert "uaelab.data.registry" in graph["uaelab.data"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_inside_uaelab():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_imports_at_module_top():
    late = []
    for name, path in MODULES.items():
        if ".exercises" in name or name in DISPATCHERS:  # exercise helpers import what the exercise is about
            continue
        tree = ast.parse(path.read_text())
        top = {id(n) for n in top_level_imports(tree)}
        top |= {id(n) for stmt in tree.body if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test)
                for n in ast.walk(stmt)}  # annotations only
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
                mod = node.names[0].name if isinstance(node, ast.Import) else (node.module or "")
                if getattr(node, "level", 0) or not any(mod == s or mod.startswith(s + ".") for s in SLOW):
                    late.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node)}")
    assert not late, "move these imports to the module top:\n" + "\n".join(late)


def test_every_module_imports_on_its_own():
    """Each module in a fresh set of uaelab modules (one interpreter; torch stays loaded)."""
    code = f"""
import importlib, json, sys, traceback
failed = {{}}
for name in {sorted(MODULES)!r}:
    for mod in [m for m in sys.modules if m == "uaelab" or m.startswith("uaelab.")]:
        del sys.modules[mod]
    try:
        importlib.import_module(name)
    except Exception:
        failed[name] = traceback.format_exc(limit=3)
print(json.dumps(failed))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    failed = json.loads(out.stdout.strip().splitlines()[-1])
    assert not failed, "\n".join(f"{k}:\n{v}" for k, v in failed.items())
