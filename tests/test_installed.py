"""Installed use: a non-editable install runs an experiment from any working directory and writes
its figures and tables there (or to --out / $UAELAB_OUTPUT), never beside the installed package."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from install_helpers import install_uaelab, run_python, snapshot
from uaelab.experiments import ExperimentResult, write_result
from uaelab.utils import ENV_OUTPUT, is_checkout, output_dir, repo_root


@pytest.mark.slow
def test_non_editable_install_writes_to_the_working_directory(tmp_path):
    site = install_uaelab(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(site)
    code = """
import sys, uaelab, uaelab.utils as u
from uaelab.cli import main
from uaelab.claims.report import write_claims
print("FILE", uaelab.__file__)
print("CHECKOUT", u.is_checkout())
rc = main(["reproduce", "--only", "dataset_samples", "--profile", "quick"])
try:
    write_claims()  # rewrites a checkout's README: refused in an installed copy
except ValueError as e:
    print("CLAIMS", e)
sys.exit(rc)
"""
    done = run_python(["-c", code], cwd=work, pythonpath=[site], UAELAB_CACHE=str(tmp_path / "cache"))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines()
                 if line.startswith(("FILE ", "CHECKOUT ", "CLAIMS ")))
    assert lines["FILE"].startswith(str(site / "uaelab")), lines  # the installed copy ran, not this checkout
    assert lines["CHECKOUT"] == "False"
    assert "rewrites a source checkout's results/ and README" in lines["CLAIMS"]  # refused, nothing written
    written = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file())
    assert written == ["figures/quick/dataset_samples_grid.png", "results/quick/dataset_samples_config.json",
                       "results/quick/dataset_samples_summary.csv", "results/quick/dataset_samples_summary.md"]
    summary = pd.read_csv(work / "results/quick/dataset_samples_summary.csv")
    assert summary["name"].tolist() == ["digits"]
    assert snapshot(site) == before, "the run wrote inside the installed package's folder"
    # the compiled StatNets loop's source ships with the package (built on first use, uaelab/mi/native.py)
    assert (site / "uaelab" / "mi" / "statnets_block.cpp").is_file()


def _toy_result() -> ExperimentResult:
    return ExperimentResult("toy", {"a": 1}, tables={"summary": pd.DataFrame({"x": [1, 2]})})


def test_output_folder_precedence(tmp_path, monkeypatch):
    cwd, env, arg = tmp_path / "cwd", tmp_path / "env", tmp_path / "arg"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv(ENV_OUTPUT, raising=False)
    assert output_dir() == cwd.resolve()  # default: the working directory
    monkeypatch.setenv(ENV_OUTPUT, str(env))
    assert output_dir() == env.resolve()
    assert output_dir(arg) == arg.resolve()  # the argument (--out) wins over the variable
    paths = write_result(_toy_result(), "quick")
    assert {p.parent for p in paths} == {env.resolve() / "results" / "quick"}
    paths = write_result(_toy_result(), "quick", out=arg)
    assert (arg / "results/quick/toy_summary.csv").is_file() and len(paths) == 3
    assert json.loads((arg / "results/quick/toy_config.json").read_text())["config"] == {"a": 1}
    assert not (cwd / "results").exists()


def test_output_folder_never_inside_the_package(tmp_path, monkeypatch):
    package = repo_root() / "uaelab"
    monkeypatch.chdir(package)
    monkeypatch.delenv(ENV_OUTPUT, raising=False)
    with pytest.raises(ValueError, match="inside the uaelab package.*--out DIR"):
        output_dir()
    with pytest.raises(ValueError, match="inside the uaelab package"):
        write_result(_toy_result(), "quick", out=package / "results")
    assert not (package / "results").exists() and not (package / "figures").exists()


def test_reproduce_takes_out(tmp_path, monkeypatch, capsys):
    from uaelab.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = capsys.readouterr().out
    assert "--out DIR" in text and ENV_OUTPUT in text


def test_this_checkout_is_a_checkout():
    # the Makefile and README commands run from the checkout's root, so the default output folder
    # (the working directory) is where the committed figures/ and results/ are
    assert is_checkout() and (repo_root() / "results" / "real").is_dir()
