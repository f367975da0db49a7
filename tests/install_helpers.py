"""Offline, non-editable installs into a temporary folder, for the installed-use tests.

``pip install --no-deps --no-build-isolation --no-index --target DIR SRC`` builds a wheel with the
setuptools already in this venv (torch requires setuptools>=77, so every uaelab venv has one that
meets pyproject.toml's >=68) and downloads nothing. The source is copied first, so the build's
``build/`` and ``*.egg-info`` never land in the checkout (where concurrent runs would share them).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def pip_install(src: Path, target: Path) -> Path:
    """Install the distribution in ``src`` into ``target`` (a plain folder to put on PYTHONPATH)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PIP_NO_INPUT": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def install_uaelab(tmp: Path) -> Path:
    """This checkout's uaelab, installed (not editable) into ``tmp/site``; returns that folder."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "uaelab", src / "uaelab", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return pip_install(src, tmp / "site")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time (ns)."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_python(args: list[str], cwd: Path, pythonpath: list[Path], **env: str) -> subprocess.CompletedProcess:
    """``python ARGS`` in ``cwd`` with only ``pythonpath`` (and the venv's site-packages) to import
    from; one thread, no bytecode written, a private cache."""
    full = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "UAELAB_OUTPUT")}
    full.update(PYTHONPATH=os.pathsep.join(map(str, pythonpath)), OMP_NUM_THREADS="1",
                PYTHONDONTWRITEBYTECODE="1", **env)
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=full)
