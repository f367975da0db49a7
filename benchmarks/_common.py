"""Helpers shared by the benchmark scripts (imported with ``benchmarks/`` on sys.path)."""
from __future__ import annotations

from pathlib import Path


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages ([] where /proc is missing): every benchmark records
    them beside its timings, because the CPUs it runs on are shared."""
    try:
        return [float(v) for v in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []


def mnist_missing(root: str | Path) -> bool:
    """True (and says so) when ``root`` holds no MNIST/raw: the real-data scripts then skip."""
    if Path(root, "MNIST", "raw").is_dir():
        return False
    print(f"skipped: no MNIST under {root}")
    return True
