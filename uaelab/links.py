"""The repository's address and the Binder target, set once, in ``pyproject.toml``.

``[project.urls] Repository`` holds the address of the public repository and
``[tool.uaelab.binder]`` the branch (``ref``) and the notebook (``open``) that the Binder badge
opens. Everything else that names them is written from these lines: the Binder badge and the
``git clone`` command of ``README.md`` and of ``docs/*.md``. A fork changes only those lines in
``pyproject.toml``, then runs::

    python -m uaelab.links            # rewrite the badge and the clone commands
    python -m uaelab.links --check    # list what disagrees (tests/test_binder.py does the same)
"""
from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlparse

ROOT = Path(__file__).resolve().parent.parent  # the repository root of a checkout
# the files that name the repository or the Binder target (relative to the root)
DOCUMENTS = ("README.md", "docs/workshop.md")

BINDER_URL = re.compile(r"https://mybinder\.org/v2/[^)\s>\"'`]+")
CLONE = re.compile(r"git clone (\S+) && cd (\S+)")


@dataclass(frozen=True)
class Links:
    repository: str  # https://github.com/OWNER/NAME
    binder_ref: str = "HEAD"
    binder_open: str = "notebooks/00_quickstart.ipynb"

    @property
    def owner_name(self) -> tuple[str, str]:
        url = urlparse(self.repository)
        parts = [p for p in url.path.split("/") if p]
        if url.scheme != "https" or url.netloc != "github.com" or len(parts) != 2:
            raise ValueError("[project.urls] Repository must be https://github.com/OWNER/NAME, "
                             f"not {self.repository!r}")
        return parts[0], parts[1].removesuffix(".git")

    @property
    def binder_url(self) -> str:
        owner, name = self.owner_name
        return (f"https://mybinder.org/v2/gh/{owner}/{name}/{self.binder_ref}"
                f"?labpath={quote(self.binder_open, safe='')}")

    @property
    def badge(self) -> str:
        return f"[![Binder](https://mybinder.org/badge_logo.svg)]({self.binder_url})"

    @property
    def clone_command(self) -> str:
        owner, name = self.owner_name
        return f"git clone https://github.com/{owner}/{name}.git && cd {name}"


def load(root: Path = ROOT) -> Links:
    """The links as ``pyproject.toml`` under ``root`` sets them."""
    data = tomllib.loads((Path(root) / "pyproject.toml").read_text())
    binder = data.get("tool", {}).get("uaelab", {}).get("binder", {})
    links = Links(repository=data["project"]["urls"]["Repository"],
                  binder_ref=binder.get("ref", "HEAD"),
                  binder_open=binder.get("open", "notebooks/00_quickstart.ipynb"))
    _ = links.owner_name  # validates the address
    return links


def render(text: str, links: Links) -> str:
    """``text`` with every Binder URL and every ``git clone ... && cd ...`` written from ``links``."""
    text = BINDER_URL.sub(links.binder_url, text)
    return CLONE.sub(links.clone_command, text)


def disagreements(root: Path = ROOT) -> list[str]:
    """One line per document that names the repository or Binder differently from pyproject.toml."""
    links, out = load(root), []
    for rel in DOCUMENTS:
        text = (Path(root) / rel).read_text()
        for m in BINDER_URL.finditer(text):
            if m.group(0) != links.binder_url:
                out.append(f"{rel}: Binder link {m.group(0)} (pyproject.toml gives {links.binder_url})")
        for m in CLONE.finditer(text):
            if m.group(0) != links.clone_command:
                out.append(f"{rel}: `{m.group(0)}` (pyproject.toml gives `{links.clone_command}`)")
    return out


def write(root: Path = ROOT) -> list[str]:
    """Rewrite the documents under ``root`` from its ``pyproject.toml``; the paths it changed."""
    links, changed = load(root), []
    for rel in DOCUMENTS:
        path = Path(root) / rel
        text = path.read_text()
        new = render(text, links)
        if new != text:
            path.write_text(new)
            changed.append(rel)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uaelab.links", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only list the disagreements (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        bad = disagreements()
        print("\n".join(bad) if bad else f"every link agrees with pyproject.toml ({load().repository})")
        return 1 if bad else 0
    for rel in write():
        print(f"rewrote {rel}")
    links = load()
    print(f"repository {links.repository}; Binder {links.binder_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
