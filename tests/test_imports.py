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
# torch.utils.cpp_extension: only to build the compiled StatNets loop once (uaelab/mi/native.py); a
# built one is imported without it
SLOW = ("torchvision", "sklearn", "torch_fidelity", "scipy", "statsmodels", "PIL", "matplotlib.pyplot",
        "torch.utils.cpp_extension")
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


def parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph() -> dict[str, set[str]]:
    """Module -> the uaelab modules its import executes, including the ``__init__`` of every
    package above a target (importing ``uaelab.augment.cache`` runs ``uaelab/augment/__init__.py``)
    that is not already running above the importer."""
    graph = {}
    for name, path in MODULES.items():
        imports = top_level_imports(ast.parse(path.read_text()))
        targets = set().union(*[uaelab_targets(name, n) for n in imports])
        own = set(parents(name)) | {name}
        targets |= {p for t in targets for p in parents(t) if p in MODULES}
        graph[name] = targets - own
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
    assert {"uaelab.augment.cache", "uaelab.augment.store"} <= graph["uaelab.augment.pipeline"]
    assert "uaelab.augment" in graph["uaelab.experiments"]  # importing augment.cache runs the package's __init__
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


# The data flow as layers, bottom up: a module may import its own layer and those below, never
# one above (docs/extending.md, "Where things live"). A name covers the module and its subpackage.
LAYERS = (
    ("uaelab", "uaelab.utils", "uaelab.config", "uaelab.paper", "uaelab.verdicts", "uaelab.links", "uaelab.plugins",
     "uaelab.viz"),
    ("uaelab.data",),
    ("uaelab.evaluate",),
    ("uaelab.models",),
    ("uaelab.mi",),
    ("uaelab.attacks",),
    ("uaelab.augment",),
    ("uaelab.experiments",),
    ("uaelab.claims",),
    ("uaelab.cli", "uaelab.__main__", "uaelab.exercises"),
)


def layer_of(module: str) -> int:
    hits = [(len(p), i) for i, names in enumerate(LAYERS) for p in names
            if module == p or module.startswith(p + ".")]
    assert hits, f"{module} is in no layer: add it to LAYERS"
    return max(hits)[1]


def upward_edges(graph: dict[str, set[str]]) -> list[str]:
    return [f"{a} (layer {layer_of(a)}) -> {b} (layer {layer_of(b)})"
            for a, targets in sorted(graph.items()) for b in sorted(targets) if layer_of(b) > layer_of(a)]


def test_no_import_runs_upward():
    assert upward_edges({"uaelab.verdicts": {"uaelab.attacks.base"}})  # the check can fail
    assert not upward_edges({"uaelab.attacks.base": {"uaelab.verdicts"}})
    bad = upward_edges(import_graph())
    assert not bad, "imports against the data flow:\n" + "\n".join(bad)


def test_statistics_import_no_attack_or_augmentation_code():
    graph = import_graph()
    seen, todo = set(), ["uaelab.verdicts"]
    while todo:  # everything importing uaelab.verdicts executes
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    assert not {m for m in seen if m.startswith(("uaelab.attacks", "uaelab.augment", "uaelab.mi", "uaelab.models"))}
