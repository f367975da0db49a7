"""Notebook prose and the README cite a verdict only by reading it from results/real/claims.csv:
markdown writes ``{verdict:ID}`` and notebooks/_src/build.py substitutes the committed verdict, so
a notebook that says "holds" where the claims file says otherwise fails these tests (and
`build.py --check`)."""
from __future__ import annotations

import csv
import importlib.util
import re
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
VERDICT_WORDS = ("holds", "does not hold", "equivalent", "inconclusive", "within noise", "not tested")
TYPED = re.compile(r"\*\*(" + "|".join(VERDICT_WORDS) + r")\*\*|'(" + "|".join(VERDICT_WORDS) + r")'", re.I)


def _build():
    spec = importlib.util.spec_from_file_location("nb_build_v", ROOT / "notebooks" / "_src" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build()


def _claims() -> dict[str, str]:
    with open(ROOT / "results" / "real" / "claims.csv", newline="") as fh:
        return {r["id"]: r["verdict"] for r in csv.DictReader(fh)}


def test_placeholders_name_existing_claims():
    claims, used = _claims(), set()
    for source in build.sources():
        for cell in jupytext.read(source, fmt="py:percent").cells:
            if cell.cell_type == "markdown":
                used |= set(build.PLACEHOLDER.findall(cell.source))
    assert used, "no notebook cites a verdict through {verdict:ID}"
    assert used <= set(claims), sorted(used - set(claims))


def test_no_verdict_typed_by_hand_in_markdown():
    """A bold or quoted verdict word in a source's markdown is a verdict typed by hand."""
    found = []
    for source in build.sources():
        for i, cell in enumerate(jupytext.read(source, fmt="py:percent").cells):
            if cell.cell_type == "markdown" and TYPED.search(cell.source):
                found.append(f"{source.name} cell {i}: {TYPED.search(cell.source).group(0)}")
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index("<!-- claims:start -->"), readme.index("<!-- claims:end -->")
    outside = readme[:start] + readme[end:]
    found += [f"README.md: {m.group(0)}" for m in TYPED.finditer(outside)]
    assert not found, found


def test_committed_notebooks_state_the_committed_verdicts():
    """Every verdict a built notebook's markdown states (where its source has a placeholder) is the
    one the claims file gives now."""
    claims = _claims()
    for source in build.sources():
        src_cells = jupytext.read(source, fmt="py:percent").cells
        student = build.targets(source)[0]
        md = [c.source for c in nbformat.read(student, as_version=4).cells if c.cell_type == "markdown"]
        src_md = [c.source for c in src_cells if c.cell_type == "markdown" and "solution" not in
                  c.metadata.get("tags", [])]
        for have, want in zip(md, src_md):
            for cid in build.PLACEHOLDER.findall(want):
                assert f"**{claims[cid]}**" in have, (student.name, cid, claims[cid])


def test_a_stale_verdict_is_caught(tmp_path, monkeypatch):
    """Change a claim's verdict in the claims file: the committed notebook no longer matches."""
    claims = _claims()
    source = next(s for s in build.sources() if build.PLACEHOLDER.search(s.read_text()))
    cid = build.PLACEHOLDER.search(source.read_text()).group(1)
    fake = tmp_path / "claims.csv"
    other = "holds" if claims[cid] != "holds" else "inconclusive"
    fake.write_text("id,verdict\n" + "".join(f"{k},{other if k == cid else v}\n" for k, v in claims.items()))
    monkeypatch.setattr(build, "CLAIMS", fake)
    build._verdicts.cache_clear()
    try:
        assert any("differs" in d for d in build.differences(source))
        assert f"**{other}**" in build.cite_verdicts(f"{{verdict:{cid}}}")
    finally:
        build._verdicts.cache_clear()
