"""Helpers shared by the benchmark scripts (imported with ``benchmarks/`` on sys.path)."""
from __future__ import annotations


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages ([] where /proc is missing): every benchmark records
    them beside its timings, because the CPUs it runs on are shared."""
    try:
        return [float(v) for v in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []
