"""uaelab.paper against the paper's text: every number of Tables 3-6 and the directions it claims.

The text is ../shared/paper/000_76ef22a3d4e3fd8a.txt (beside the checkout); the tests reading it
skip when it is absent. The parser and the comparison are also run on a small inline excerpt, so
that a wrong number is shown to be caught even without the shared file.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from conftest import REPO
from uaelab import paper
from uaelab.experiments import table5_simclr, table6_concrete
from uaelab.experiments.minmax_vs_penalty import PAPER_TABLE3
from uaelab.experiments.table4_reconstruction import PAPER_MNIST, PAPER_SVHN

PAPER_TEXT = REPO.parent / "shared" / "paper" / "000_76ef22a3d4e3fd8a.txt"

Key = tuple[int, str, str, str]  # (table, row, method, metric), as paper.facts()

# ------------------------------------------------------------------------------------ parsing

NUM = r"\d+(?:\.\d+)?(?:e-\d+)?"
UP, DOWN = ("↑", "†", "\\uparrow"), ("↓", "\\downarrow")  # the OCR prints some ↑ as †


def clean(cell: str) -> str:
    """One table cell without its markup: <b>, $, LaTeX arrays, "\\text{e-}05" -> "e-05", ± forms."""
    c = cell.replace("\\text{e-}", "e-").replace("{\\pm}", "±").replace("\\pm", "±")
    c = re.sub(r"</?b>|\$|\\begin\{array\}\{c\}|\\end\{array\}|\\\\", " ", c)
    return re.sub(r"\s+e-", "e-", c).strip()


def value(cell: str) -> float | None:
    """The cell's first number, a percentage as a fraction; None for "-"."""
    m = re.search(rf"({NUM})(%?)", clean(cell))
    if m is None:
        return None
    return float(m.group(1)) / (100 if m.group(2) else 1)


def std(cell: str) -> float | None:
    m = re.search(rf"±\s*({NUM})", clean(cell))
    return float(m.group(1)) if m else None


def arrow(cell: str) -> str | None:
    """"up" (the paper's improvement), "down" (degradation) or None."""
    c = clean(cell)
    if any(a in c for a in UP):
        return "up"
    return "down" if any(a in c for a in DOWN) else None


def table_lines(text: str, names: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """Lines "Name<TAB>number..." for the given row names, in order, split at tabs."""
    alt = "|".join(re.escape(n) for n in names)
    out = []
    for line in text.splitlines():
        if re.match(rf"^({alt})\t\s*(<b>|\$|\+)?\s*\d", line):
            name, *cells = line.split("\t")
            out.append((name, [c for c in cells if c.strip()]))
    return out


def parse_table3(text: str) -> dict[Key, float]:
    lines = [line for line in text.splitlines() if line.startswith("Penalty-based MinMax\t")]
    assert len(lines) == 1, lines
    cells = lines[0].split("\t")[1:]
    out = {}
    for dataset, asr, mi in (("mnist", cells[0], cells[1]), ("cifar10", cells[2], cells[3])):
        asrs, mis = [value(c) for c in asr.split()], [value(c) for c in clean(mi).split()]
        for i, method in enumerate(("penalty", "minmax")):
            out[(3, dataset, method, "asr")] = asrs[i]
            out[(3, dataset, method, "mi")] = mis[i]
    return out


TABLE4_NAMES = {"Sparse": "sparse", "Dense": "dense", "Convolutional": "conv", "Adversarial": "adversarial"}


def table4_cells(text: str) -> dict[tuple[str, str], list[str]]:
    """(dataset, autoencoder) -> the 9 cells: 5 errors (Original, MINE, L2, GA 0.01, GA 0.001), 4 ASRs."""
    lines = table_lines(text, tuple(TABLE4_NAMES))
    assert len(lines) == 8, [n for n, _ in lines]  # the MNIST half, then the SVHN half
    out = {}
    for i, (name, cells) in enumerate(lines):
        assert len(cells) == 9, (name, cells)
        out[("mnist" if i < 4 else "svhn", TABLE4_NAMES[name])] = cells
    return out


def parse_table4(text: str) -> dict[Key, float]:
    out = {}
    methods = paper.METHODS[4]
    for (dataset, kind), cells in table4_cells(text).items():
        row = f"{dataset}/{kind}"
        for method, cell in zip(methods, cells[:5]):
            out[(4, row, method, "error")] = value(cell)
            if std(cell) is not None:
                out[(4, row, method, "error_std")] = std(cell)
        for method, cell in zip(methods[1:], cells[5:]):
            out[(4, row, method, "asr")] = value(cell)
    return out


def table5_cells(text: str) -> dict[str, list[str]]:
    lines = table_lines(text, ("Original", "MINE-UAE", "CLAE"))
    found = {}
    for name, cells in lines:
        found.setdefault(name, []).append(cells)
    assert {k: len(v) for k, v in found.items()} == {"Original": 1, "MINE-UAE": 1}, found
    # the CLAE row starts with "-": read it apart
    clae = [line.split("\t")[1:] for line in text.splitlines() if line.startswith("CLAE\t")]
    assert len(clae) == 1
    return {"Original": found["Original"][0], "MINE-UAE": found["MINE-UAE"][0], "CLAE": clae[0]}


def parse_table5(text: str) -> dict[Key, float]:
    cells = table5_cells(text)
    orig, mine = cells["Original"], cells["MINE-UAE"]
    assert orig[2].strip() == "-" and mine[1].startswith("+")  # no ASR for Original; a gain for MINE-UAE
    acc = value(orig[1])
    return {(5, "cifar10", "Original", "loss"): value(orig[0]),
            (5, "cifar10", "Original", "accuracy"): acc,
            (5, "cifar10", "MINE-UAE", "loss"): value(mine[0]),
            (5, "cifar10", "MINE-UAE", "accuracy"): round(acc + value(mine[1]), 10),
            (5, "cifar10", "MINE-UAE", "asr"): value(mine[2])}


TABLE6_NAMES = {"MNIST": "mnist", "Fashion MMIST": "fashion-mnist", "Isolet": "isolet", "Coil-20": "coil20",
                "Mice Protein": "mice-protein", "Activity": "activity"}


def table6_cells(text: str) -> dict[str, list[str]]:
    lines = table_lines(text, tuple(TABLE6_NAMES))
    assert [n for n, _ in lines] == list(TABLE6_NAMES), [n for n, _ in lines]
    for name, cells in lines:  # error and accuracy, Original and MINE-UAE: no L2-UAE or GA columns
        assert len(cells) == 4, (name, cells)
    return {TABLE6_NAMES[name]: cells for name, cells in lines}


def parse_table6(text: str) -> dict[Key, float]:
    out = {}
    for dataset, (e0, e1, a0, a1) in table6_cells(text).items():
        out.update({(6, dataset, "Original", "error"): value(e0), (6, dataset, "MINE-UAE", "error"): value(e1),
                    (6, dataset, "Original", "accuracy"): value(a0), (6, dataset, "MINE-UAE", "accuracy"): value(a1)})
    return out


def text_facts(text: str) -> dict[Key, float]:
    """Every number of Tables 3-6 read from the paper's text, keyed as :func:`uaelab.paper.facts`."""
    return {**parse_table3(text), **parse_table4(text), **parse_table5(text), **parse_table6(text)}


def mismatches(facts: dict[Key, float], found: dict[Key, float]) -> list[str]:
    """What differs between the held facts and those read from the text (missing on either side too)."""
    out = []
    for key in sorted(set(facts) | set(found), key=str):
        a, b = facts.get(key), found.get(key)
        if a is None or b is None or not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            out.append(f"{key}: uaelab.paper {a!r}, paper text {b!r}")
    return out


@pytest.fixture(scope="module")
def text() -> str:
    if not PAPER_TEXT.is_file():
        pytest.skip(f"needs the paper's text {PAPER_TEXT} (../shared/paper beside the checkout); not present here")
    return PAPER_TEXT.read_text(encoding="utf-8")


# ------------------------------------------------------------- the checks can fail (no file needed)

EXCERPT = """MNIST\t0.01170\t<b>0.01142</b> (\u2020 2.4%)\t94.97%\t95.41%\t
Fashion MMIST\t0.01307\t<b>0.01254</b> (\u2020 4.1%)\t84.92%\t85.24%\t
Isolet\t0.01200\t<b>0.01159</b> (\u2020 3.4%)\t81.98%\t82.93%\t
Coil-20\t0.00693\t$0.01374 (\\downarrow 98.3\\%)$\t98.96%\t96.88%\t
Mice Protein\t0.00651\t<b>0.00611</b> (\u2020 6.1%)\t89.81%\t91.2%\t
Activity\t0.00337\t<b>0.00300</b> (\u2020 11.0%)\t83.38%\t84.45%\t
"""


def held(table: int) -> dict[Key, float]:
    return {k: v for k, v in paper.facts().items() if k[0] == table}


def test_parser_and_comparison_catch_a_wrong_number():
    assert mismatches(held(6), parse_table6(EXCERPT)) == []
    altered_text = EXCERPT.replace("0.01374", "0.01347")
    assert mismatches(held(6), parse_table6(altered_text)) == [
        "(6, 'coil20', 'MINE-UAE', 'error'): uaelab.paper 0.01374, paper text 0.01347"]
    altered_facts = {**held(6), (6, "isolet", "Original", "accuracy"): 0.8189}
    assert len(mismatches(altered_facts, parse_table6(EXCERPT))) == 1
    dropped = dict(held(6))
    del dropped[(6, "activity", "MINE-UAE", "error")]
    assert mismatches(dropped, parse_table6(EXCERPT)) == [
        "(6, 'activity', 'MINE-UAE', 'error'): uaelab.paper None, paper text 0.003"]


def test_cell_parsing():
    assert value("<b>0.00228</b> († 11.6%)") == 0.00228 and arrow("<b>0.00228</b> († 11.6%)") == "up"
    cell = "$\\begin{array}{c} 0.00098 \\pm 3.77 \\text{e-}05 \\\\ (\\uparrow 25.4\\%) \\end{array}$"
    assert (value(cell), std(cell), arrow(cell)) == (0.00098, 3.77e-05, "up")
    assert (value("0.05544±0.00567 (↓ 15.86%)"), std("0.05544±0.00567 (↓ 15.86%)")) == (0.05544, 0.00567)
    assert arrow("$0.00286 (\\downarrow 6.0\\%)$") == "down" and value("92.3%") == pytest.approx(0.923)
    assert value("-") is None


# -------------------------------------------------------------------------- against the paper text

def test_parser_reads_known_cells(text):
    found = text_facts(text)
    assert found[(4, "mnist/dense", "Original", "error")] == 0.00258
    assert found[(4, "svhn/sparse", "MINE-UAE", "error")] == 0.00235
    assert found[(3, "mnist", "minmax", "mi")] == 51.29
    assert found[(5, "cifar10", "Original", "loss")] == 0.29010
    assert found[(6, "coil20", "MINE-UAE", "error")] == 0.01374


def test_every_number_matches_the_paper_text(text):
    found = text_facts(text)
    assert len(found) == len(paper.facts())
    assert mismatches(paper.facts(), found) == []


def test_an_altered_copy_of_the_facts_is_reported(text):
    found = text_facts(text)
    for key, wrong in [((4, "mnist/dense", "Original", "error"), 0.00285),
                       ((3, "cifar10", "penalty", "mi"), 13.96),
                       ((5, "cifar10", "MINE-UAE", "accuracy"), 0.9130 + 0.0185),
                       ((4, "svhn/conv", "GA (σ=0.01)", "error_std"), 3.77e-04)]:
        report = mismatches({**paper.facts(), key: wrong}, found)
        assert len(report) == 1 and report[0].startswith(str(key)), report


def test_scalars_match_the_paper_text(text):
    flat = " ".join(text.split())
    assert re.search(rf"averaged over {paper.TABLE3_SAMPLES} adversarial examples", flat)
    assert re.search(rf"T = {paper.TABLE3_ITERATIONS} iterations", flat)
    assert re.search(rf"using {paper.TABLE3_BINARY_STEPS} binary search steps", flat)
    assert re.search(rf"M = {paper.TABLE6_FEATURES} features", flat)
    assert re.search(rf"Mice Protein \(we set M = {paper.TABLE6_FEATURES_MICE}\)", flat)
    clae = table5_cells(text)["CLAE"]
    assert clae[0].strip() == "-" and clae[2].strip() == "-"  # CLAE: an accuracy gain only
    assert value(clae[1]) == pytest.approx(paper.TABLE5_CLAE_ACCURACY_GAIN, abs=1e-12)
    assert f"{paper.TABLE5_CLAE_BASE_ACCURACY:.2%}" in flat
    assert value(table5_cells(text)["MINE-UAE"][1]) == pytest.approx(paper.TABLE5_MINE_ACCURACY_GAIN, abs=1e-12)


def expected(arrow_: str | None) -> str:
    """The paper's arrow on an error or loss as the direction of that error: ↑ (better) = lower."""
    assert arrow_ in ("up", "down")
    return "lower" if arrow_ == "up" else "higher"


def test_directions_match_the_arrows(text):
    for (dataset, kind), cells in table4_cells(text).items():
        assert arrow(cells[0]) is None
        for method, cell in zip(paper.METHODS[4][1:], cells[1:5]):
            assert paper.claimed_direction(4, (dataset, kind), "error", method) == expected(arrow(cell)), \
                (dataset, kind, method, cell)
    for dataset, (_, e1, _, _) in table6_cells(text).items():
        assert paper.claimed_direction(6, dataset, "error") == expected(arrow(e1)), (dataset, e1)
    assert paper.claimed_direction(5, "cifar10", "loss") == expected(arrow(table5_cells(text)["MINE-UAE"][0]))


def test_coil20_degrades_as_the_paper_says(text):
    flat = " ".join(text.split())
    assert "The exception is Coil-20" in flat and "degraded performance in Coil-20" in flat
    assert "The degradation on Coil-20 is explained in Section 4.5" in flat
    assert arrow(table6_cells(text)["coil20"][1]) == "down"


# ------------------------------------------------------------------------------ the module's API

def test_claimed_directions():
    assert paper.claimed_direction(6, "coil20", "error") == "higher"
    assert paper.claimed_direction(6, "coil20", "accuracy") == "lower"
    for dataset in paper.TABLE6:
        if dataset != "coil20":
            assert paper.claimed_direction(6, dataset, "error") == "lower"
            assert paper.claimed_direction("table6", dataset, "accuracy") == "higher"
    for row in paper.rows(4):
        assert paper.claimed_direction(4, row, "error") == "lower"  # MINE-UAE improves every autoencoder
    assert paper.claimed_direction(4, "mnist/dense", "error", "L2-UAE") == "higher"
    assert paper.claimed_direction(5, "cifar10", "loss") == "lower"
    assert paper.claimed_direction(5, "cifar10", "accuracy") == "higher"
    assert paper.claimed_direction(3, "mnist", "mi") == "higher"
    assert paper.claimed_direction(3, "mnist", "asr") == "equal"
    with pytest.raises(ValueError):
        paper.claimed_direction(4, "mnist/dense", "asr")  # Original has no ASR


def test_pairs_columns_and_changes():
    assert paper.paper_pair(6, "coil20", "error") == (0.00693, 0.01374)
    assert paper.paper_pair(4, ("mnist", "dense"), "error", "L2-UAE") == (0.00258, 0.00286)
    assert paper.paper_pair(4, "svhn/conv", "asr") == (None, 1.0)
    assert paper.paper_pair(5, "cifar10", "accuracy") == (0.9130, 0.9288)
    assert paper.paper_pair(3, "cifar10", "mi") == (13.69, 17.14)
    assert paper.has_column(6, "MINE-UAE") and not paper.has_column(6, "L2-UAE")
    assert not paper.has_column(6, "GA (σ=0.01)")
    assert paper.has_column(5, "CLAE") and not paper.has_column(5, "CLAE", "accuracy")
    assert not paper.has_column(5, "L2-UAE") and paper.has_column(4, "GA (σ=0.001)", "error_std")
    assert not paper.has_column(4, "Original", "asr") and paper.has_column(4, "MINE-UAE", "asr")
    with pytest.raises(KeyError):
        paper.paper_pair(6, "mnist", "error", "L2-UAE")
    with pytest.raises(KeyError):
        paper.paper_pair(7, "mnist", "error")
    assert paper.relative_change(0.00258, 0.00228) == pytest.approx(-0.1163, abs=1e-4)
    assert paper.relative_change(0.00693, 0.01374) == pytest.approx(0.983, abs=1e-3)  # printed "↓ 98.3%"


def test_experiment_constants_are_views_of_uaelab_paper():
    assert PAPER_TABLE3.loc[("mnist", "minmax"), "paper_mi"] == 51.29
    assert PAPER_TABLE3.loc[("cifar10", "penalty"), "paper_mi"] == 13.69
    assert list(PAPER_TABLE3.columns) == ["paper_asr", "paper_mi"] and len(PAPER_TABLE3) == 4
    assert PAPER_MNIST["dense"]["Original"] == (0.00258, None)
    assert PAPER_MNIST["adversarial"]["L2-UAE"] == (0.06098, 0.4354)
    assert PAPER_SVHN["sparse"]["MINE-UAE"] == (0.00235, 1.0)
    assert list(PAPER_MNIST) == list(paper.TABLE4_AUTOENCODERS)
    assert table6_concrete.PAPER["coil20"] == (0.00693, 0.01374, 0.9896, 0.9688)
    assert list(table6_concrete.PAPER) == list(paper.TABLE6)
    assert table5_simclr.PAPER == {"Original": (0.29010, 0.9130), "MINE-UAE": (0.26755, 0.9288)}


def test_paper_module_is_bottom_floor():
    source = Path(paper.__file__).read_text()
    assert not re.search(r"^\s*(from|import)\s+(\.|uaelab)", source, re.M)
