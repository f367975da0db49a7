"""results/real/README.md indexes every current result file (superseded runs live in archive/)."""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

REAL = Path(__file__).resolve().parent.parent / "results" / "real"


def _patterns() -> list[str]:
    """The file patterns of the index's first column, braces expanded."""
    text = (REAL / "README.md").read_text()
    out = []
    for row in text.splitlines():
        if not row.startswith("| `"):
            continue
        for pat in re.findall(r"`([^`]+)`", row.split(" | ")[0]):
            m = re.search(r"\{([^}]*)\}", pat)
            out += [pat[:m.start()] + alt + pat[m.end():] for alt in m.group(1).split(",")] if m else [pat]
    return out


def _expand(pats: list[str]) -> list[str]:
    done = []
    while pats:
        p = pats.pop()
        m = re.search(r"\{([^}]*)\}", p)
        if m:
            pats += [p[:m.start()] + alt + p[m.end():] for alt in m.group(1).split(",")]
        else:
            done.append(p)
    return done


def test_every_current_result_file_is_indexed():
    pats = _expand(_patterns())
    assert len(pats) > 10
    loose = [f.name for f in REAL.iterdir() if f.is_file() and f.name != "README.md"
             and not any(fnmatch.fnmatch(f.name, p) for p in pats)]
    assert not loose, f"not in results/real/README.md (index them or move them to archive/): {loose}"


def test_claims_read_no_archived_file():
    from uaelab.claims import all_claims

    assert not [c.evidence for c in all_claims() if "archive" in c.evidence]
