"""Static checks that a workshop can start on Binder: the README badge and binder/ itself.

(The pins of binder/environment.yml against environment.yml are checked in test_packaging.py.)
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlparse

from conftest import REPO

# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/OWNER/REPO/REF?labpath=...)
BADGE = re.compile(r"\[!\[[^\]]*\]\((https://mybinder\.org/badge_logo\.svg)\)\]\((https://mybinder\.org/v2/[^)\s]+)\)")


def _dependency_lines(path) -> list[str]:
    """Every `- item` line of a conda environment file, whitespace-normalised, except `-e .`."""
    items = [re.sub(r"\s+", " ", m.group(1)).strip()
             for m in re.finditer(r"^\s*-\s+(.+?)\s*(?:#.*)?$", path.read_text(), re.M)]
    return [i for i in items if i != "-e ."]  # binder's postBuild installs uaelab itself


def test_readme_has_a_binder_badge_that_opens_a_notebook():
    readme = (REPO / "README.md").read_text()
    m = BADGE.search(readme)
    assert m, ("README.md needs a Binder badge: [![Binder](https://mybinder.org/badge_logo.svg)]"
               "(https://mybinder.org/v2/gh/OWNER/REPO/HEAD?labpath=notebooks%2F00_quickstart.ipynb)")
    url = urlparse(m.group(2))
    parts = url.path.split("/")  # ['', 'v2', 'gh', owner, repo, ref]
    assert parts[2] == "gh" and len(parts) >= 6 and all(parts[3:6]), f"badge URL lacks owner/repo/ref: {url.geturl()}"
    labpath = parse_qs(url.query).get("labpath", [""])[0]
    assert labpath, "the badge should open JupyterLab on a notebook (?labpath=notebooks%2F...)"
    assert (REPO / unquote(labpath)).is_file(), f"the badge opens {labpath}, which does not exist"


def test_binder_folder_builds_the_environment_and_warms_the_caches():
    binder = REPO / "binder"
    # repo2docker uses binder/ instead of the top level when it exists; it must be complete
    assert (binder / "environment.yml").is_file()
    assert _dependency_lines(binder / "environment.yml") == _dependency_lines(REPO / "environment.yml"), \
        "binder/environment.yml must list the same python version, index URL and pins as environment.yml"
    post = (binder / "postBuild").read_text()
    assert post.startswith("#!"), "postBuild needs a shebang"
    assert re.search(r"pip install .*-e \.", post), "postBuild must install uaelab (pip install -e .)"
    assert re.search(r"uaelab reproduce.*(--profile quick|UAELAB_PROFILE=quick)|UAELAB_PROFILE=quick.*uaelab reproduce",
                     post), "postBuild must warm the quick-profile caches (python -m uaelab reproduce --profile quick)"
