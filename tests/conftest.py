"""Shared fixtures. Real datasets come from ../shared/data (or $UAELAB_SHARED_DATA) when present;
tests that need them skip with the reason otherwise."""
from __future__ import annotations

from pathlib import Path

import pytest

from uaelab.data import shared_data_root

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def shared_data() -> Path:
    root = shared_data_root()
    if root is None:
        pytest.skip("needs the real datasets in ../shared/data (or set UAELAB_SHARED_DATA); not present here")
    return root


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch) -> Path:
    """Point uaelab's cache at an empty temporary folder for one test."""
    path = tmp_path / "cache"
    monkeypatch.setenv("UAELAB_CACHE", str(path))
    return path
