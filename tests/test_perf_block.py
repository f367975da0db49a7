"""The README's performance block is generated from benchmarks/results/bench_attack.json by
benchmarks/perf_block.py: the committed README must hold exactly what the script makes of the
committed JSON, and the script must notice a changed number."""
from __future__ import annotations

import copy
import importlib.util
import json

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def perf_block():
    spec = importlib.util.spec_from_file_location("perf_block", REPO / "benchmarks" / "perf_block.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def result(perf_block):
    return json.loads(perf_block.RESULTS.read_text())


def test_readme_block_matches_the_results(perf_block, result):
    readme = (REPO / "README.md").read_text()
    assert readme.count(perf_block.START) == 1 and readme.count(perf_block.END) == 1
    assert perf_block.replace_block(readme, result) == readme, \
        "README.md's performance block is stale: run python benchmarks/perf_block.py"
    assert perf_block.main(["--check"]) == 0


def test_block_shows_every_thread_count_and_notices_a_change(perf_block, result):
    text = perf_block.render(result)
    for nt, e in result["threads"].items():
        assert f"| {nt} | {e['samples_per_s']:.2f} |" in text
        if "vs_baseline" in e:
            assert f"**{e['vs_baseline']['speedup']:.2f}×**" in text
    changed = copy.deepcopy(result)
    first = next(iter(changed["threads"]))
    changed["threads"][first]["samples_per_s"] *= 2
    assert perf_block.render(changed) != text


def test_missing_markers_name_the_fix(perf_block, result):
    with pytest.raises(ValueError, match="marker"):
        perf_block.replace_block("no block here", result)
