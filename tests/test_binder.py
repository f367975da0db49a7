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


# --- the repository's address and the Binder target, set once (pyproject.toml; uaelab.links) ---

def _tracked_text_files() -> list:
    """Every file git tracks (or, outside a git checkout, every file) that reads as text."""
    import subprocess
    try:
        names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
        paths = [REPO / n for n in names.splitlines()]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in REPO.rglob("*") if ".git" not in p.parts and ".venv" not in p.parts]
    out = []
    for p in paths:
        if p.is_file() and p.suffix not in {".png", ".pdf", ".pt", ".npz", ".gz", ".ipynb"}:
            try:
                out.append((p, p.read_text()))
            except UnicodeDecodeError:
                pass
    return out


def test_the_repository_and_binder_target_are_set_once_in_pyproject():
    from uaelab import links

    lk = links.load(REPO)
    owner, name = lk.owner_name
    assert (REPO / lk.binder_open).is_file(), f"[tool.uaelab.binder] open = {lk.binder_open!r} does not exist"
    readme = (REPO / "README.md").read_text()
    m = BADGE.search(readme)
    assert m and m.group(2) == lk.binder_url, \
        f"README's Binder badge must open {lk.binder_url} (pyproject.toml); run `python -m uaelab.links`"
    for rel in ("README.md", "docs/workshop.md"):
        assert lk.clone_command in (REPO / rel).read_text(), \
            f"{rel} should give the clone command `{lk.clone_command}`; run `python -m uaelab.links`"
    assert links.disagreements(REPO) == [], "\n".join(links.disagreements(REPO))
    # single source: outside pyproject.toml only the documents written by uaelab.links name the
    # repository or a Binder URL, and nothing says `git clone <repository>`
    allowed = {"pyproject.toml", "uaelab/links.py", *links.DOCUMENTS}  # the source, the writer, the written
    for path, text in _tracked_text_files():
        rel = path.relative_to(REPO).as_posix()
        if rel == "tests/test_binder.py":
            continue
        assert "<repository>" not in text, f"{rel}: a `<repository>` placeholder; use the clone command"
        if rel in allowed:
            continue
        assert f"github.com/{owner}/{name}" not in text and "mybinder.org/v2/" not in text, \
            (f"{rel} names the repository or a Binder URL itself; add it to uaelab.links.DOCUMENTS "
             "so that it is written from pyproject.toml")


def test_a_fork_changes_one_line_and_the_documents_follow(tmp_path):
    from uaelab import links

    for rel in ("pyproject.toml", *links.DOCUMENTS):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((REPO / rel).read_text())
    old = links.load(tmp_path)
    py = tmp_path / "pyproject.toml"
    py.write_text(py.read_text().replace(f'Repository = "{old.repository}"',
                                         'Repository = "https://github.com/a-fork/uaelab-copy"'))
    assert links.disagreements(tmp_path), "a changed address must make the documents disagree"
    assert set(links.write(tmp_path)) == set(links.DOCUMENTS)
    assert links.disagreements(tmp_path) == []
    readme = (tmp_path / "README.md").read_text()
    assert "mybinder.org/v2/gh/a-fork/uaelab-copy/HEAD?labpath=notebooks%2F00_quickstart.ipynb" in readme
    assert "git clone https://github.com/a-fork/uaelab-copy.git && cd uaelab-copy" in readme
    assert old.binder_url not in readme and old.clone_command not in readme
    assert links.write(tmp_path) == [], "rewriting twice changes nothing"
