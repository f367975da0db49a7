"""docs/workshop.md's agenda fits: every notebook has its teaching minutes (the same as its first
cell says), the 3-hour and 90-minute paths add up, start with a 10-minute setup slot and place
every notebook (taken or skipped), the sections they leave out are marked (optional) in the
notebooks, and every notebook has measured run times."""
from __future__ import annotations

import re

import pytest

from conftest import REPO

GUIDE = REPO / "docs" / "workshop.md"
SOURCES = {p.name[:2]: p for p in sorted((REPO / "notebooks" / "_src").glob("[0-9][0-9]_*.py"))}
TEACHING_TIME = re.compile(r"\*\*Teaching time:\*\* about (\d+) minutes")


def _table_after(marker: str) -> list[list[str]]:
    """The rows (cells stripped) of the first markdown table after the line holding ``marker``."""
    lines = GUIDE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line)
    rows, seen = [], False
    for line in lines[start + 1:]:
        if line.startswith("|"):
            seen = True
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif seen:
            break
    return rows[1:]  # without the header


def _skipped_after(marker: str) -> set[str]:
    text = GUIDE.read_text()
    after = text[text.index(marker):]
    m = re.search(r"^Skipped: (.*?)(?:\n\n|\Z)", after, re.M | re.S)
    assert m, f"the path after {marker!r} needs a 'Skipped: ...' line naming the notebooks it leaves out"
    return set(re.findall(r"\b(\d\d)\b", re.sub(r"\([^)]*\)", "", m.group(1))))  # not in (remarks)


def _minutes(cell: str) -> int:
    m = re.match(r"(\d+)", cell)
    assert m, f"no minutes in {cell!r}"
    return int(m.group(1))


def test_every_notebook_has_its_teaching_minutes_as_its_first_cell_says():
    rows = {r[0]: r for r in _table_after("<!-- TEACHING") if re.fullmatch(r"\d\d", r[0])}
    assert set(rows) == set(SOURCES), f"notebooks without a row: {sorted(set(SOURCES) - set(rows))}; " \
                                      f"rows without a notebook: {sorted(set(rows) - set(SOURCES))}"
    for nb, row in rows.items():
        assert row[1] == f"`{SOURCES[nb].stem}.ipynb`", f"row {nb} names {row[1]}"
        m = TEACHING_TIME.search(SOURCES[nb].read_text())
        assert m, f"{SOURCES[nb].name} should open with '**Teaching time:** about N minutes'"
        assert int(m.group(1)) == _minutes(row[3]), \
            f"{nb}: the guide gives {row[3]} teaching minutes, the notebook {m.group(1)}"
        for section in filter(None, (s.strip() for s in row[4].split(";"))):
            name = section.strip("`").replace("`", "")
            heads = [h.replace("`", "") for h in re.findall(r"^# #+ (.*)$", SOURCES[nb].read_text(), re.M)]
            assert any(h.startswith(name) and h.endswith("(optional)") for h in heads), \
                f"{nb}: no heading '{name} ... (optional)' in {SOURCES[nb].name}"
    total = next(r for r in _table_after("<!-- TEACHING") if r[0] == "")
    assert _minutes(total[3]) == sum(_minutes(rows[nb][3]) for nb in rows if nb <= "09"), \
        "the total row must be the sum of 00-09"


@pytest.mark.parametrize("length", [180, 90])
def test_a_path_adds_up_starts_with_setup_and_places_every_notebook(length):
    marker = f"<!-- PATH {length}"
    rows = _table_after(marker)
    clock = 0
    for row in rows:
        h, m = map(int, row[0].split(":"))
        assert h * 60 + m == clock, f"{length}-minute path: {row[1]} starts at {row[0]}, expected " \
                                    f"{clock // 60}:{clock % 60:02d} (the minutes above add up to that)"
        clock += _minutes(row[2])
    assert clock == length, f"the {length}-minute path adds up to {clock} minutes"
    assert rows[0][1] == "setup" and _minutes(rows[0][2]) == 10, "a path opens with a 10-minute setup slot"
    taken = [r[1][:2] for r in rows if re.match(r"\d\d ", r[1])]
    skipped = _skipped_after(marker)
    assert len(taken) == len(set(taken)), f"a notebook appears twice in the {length}-minute path"
    assert not set(taken) & skipped, f"both taken and skipped: {sorted(set(taken) & skipped)}"
    assert set(taken) | skipped == set(SOURCES), \
        f"the {length}-minute path neither takes nor skips {sorted(set(SOURCES) - set(taken) - skipped)}"


def test_notebooks_state_their_minutes_on_the_3_hour_path():
    on_path = {r[1][:2]: _minutes(r[2]) for r in _table_after("<!-- PATH 180") if re.match(r"\d\d ", r[1])}
    for nb, src in SOURCES.items():
        line = next(line for line in src.read_text().splitlines() if "**Teaching time:**" in line)
        if nb in on_path:
            assert f"({on_path[nb]} on the [3-hour path]" in line, \
                f"{src.name}: the 3-hour path gives it {on_path[nb]} minutes; its first cell says: {line}"
        else:
            assert "not on the [3-hour path]" in line, f"{src.name} is not on the 3-hour path; say so: {line}"


def test_every_notebook_has_measured_cold_and_warm_run_times():
    rows = {r[0]: r for r in _table_after("<!-- RUNTIMES") if re.fullmatch(r"\d\d", r[0])}
    assert set(rows) == set(SOURCES), f"run times missing for {sorted(set(SOURCES) - set(rows))}"
    for nb, row in rows.items():
        cold, warm = float(row[2]), float(row[3])
        assert 0 < warm and 0 < cold, f"{nb}: cold {cold} s, warm {warm} s"
