"""The pins live in pyproject.toml; environment.yml and binder/ must name the same set."""
from __future__ import annotations

import re
import tomllib

from conftest import REPO


def _pyproject_pins() -> set[str]:
    proj = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = proj["dependencies"] + proj["optional-dependencies"]["test"]
    assert all("==" in d for d in deps), "every dependency is pinned with =="
    return set(deps)


def _yml_pins(path) -> set[str]:
    pins = set()
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*-\s+([A-Za-z0-9_.\-]+==[^\s#]+)\s*$", line)
        if m:
            pins.add(m.group(1))
    return pins


def test_environment_yml_matches_pyproject():
    assert _yml_pins(REPO / "environment.yml") == _pyproject_pins()


def test_binder_matches_environment_yml():
    assert _yml_pins(REPO / "binder" / "environment.yml") == _yml_pins(REPO / "environment.yml")
    assert (REPO / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make reproduce" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()
