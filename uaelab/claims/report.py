"""What the claims table says, in words and one picture: the README's summary, the forest plots,
notebook 09's conclusion and ``docs/findings.md``, all generated from :func:`uaelab.claims.claims_table`.

    python -m uaelab.claims   # results/real/claims.{csv,md}, the figures, the README block, docs/findings.md
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from uaelab import paper
from uaelab.claims import REAL, STATUSES, claims_markdown, claims_table
from uaelab.utils import is_checkout, repo_root
from uaelab.verdicts import ALPHA, NOT_RUN, VERDICTS, claim_tests

README_START, README_END = "<!-- claims:start -->", "<!-- claims:end -->"
FIGURES = Path("figures") / "real"
FOREST = {"all": FIGURES / "verdicts_forest.png", "headline": FIGURES / "verdicts_forest_headline.png"}
FOREST_DATA = REAL / "verdicts_forest.csv"
LIMIT = 5.0  # the forest plot's x range, ±LIMIT margins
FINDINGS = Path("docs") / "findings.md"
COLOURS = {"holds": "#1b7837", "does not hold": "#b2182b", "equivalent": "#2166ac", "inconclusive": "#8c8c8c"}
MEANING = {
    "holds": "significant in the claimed direction after Holm, and not equivalent to no effect",
    "does not hold": "significant against the claimed direction (or, for a claim of no difference, a difference)",
    "equivalent": "the difference lies within ±Δ (TOST after Holm): for a claimed improvement, the improvement is "
                  "ruled out at the margin (not reproduced); for a claimed equality, supported",
    "inconclusive": "neither test decides; the row gives the runs per arm that would likely decide it",
}


def _table(table: pd.DataFrame | None) -> pd.DataFrame:
    return claims_table() if table is None else table


def counts(table: pd.DataFrame | None = None) -> pd.Series:
    """Claims per verdict (and "not run")."""
    t = _table(table)
    return t["verdict"].value_counts().reindex(STATUSES, fill_value=0)


def _is_control(claim: str, source: str) -> bool:
    return claim.startswith(("control:", "ours:", "budget check:")) or source.startswith("ours")


def forest_data(table: pd.DataFrame | None = None, headline: bool = False) -> pd.DataFrame:
    """The plotted numbers: per comparison with a margin and a CI, the difference, its 90% and 95%
    CIs and the paper's effect in units of the family's margin Δ, signed so that positive is the
    direction the claim asserts ("improvement"); the verdict gives the colour."""
    t = _table(table)
    t = t[t["verdict"].isin(VERDICTS) & np.isfinite(t["margin"].astype(float))
          & np.isfinite(t["ci95_low"].astype(float)) & (t["design"] != "tolerance")]
    if headline:
        t = t[t["readme"].astype(bool)]
    sign = np.where(t["direction"] == "lower", -1.0, 1.0)
    m = t["margin"].astype(float).to_numpy()

    def scaled(col):
        return sign * t[col].astype(float).to_numpy() / m
    lo95, hi95, lo90, hi90 = scaled("ci95_low"), scaled("ci95_high"), scaled("ci90_low"), scaled("ci90_high")
    return pd.DataFrame({
        "id": t["id"].to_numpy(), "family": t["family"].to_numpy(), "verdict": t["verdict"].to_numpy(),
        "x": scaled("difference"), "ci95_low": np.minimum(lo95, hi95), "ci95_high": np.maximum(lo95, hi95),
        "ci90_low": np.minimum(lo90, hi90), "ci90_high": np.maximum(lo90, hi90),
        "paper_x": scaled("paper_effect")}).reset_index(drop=True)


def forest_plot(table: pd.DataFrame | None = None, headline: bool = False):
    """A forest plot of :func:`forest_data`: one line per comparison, grouped by family; the
    equivalence region ±Δ shaded, the paper's claimed effect marked (◆), the verdict as colour."""
    d = forest_data(table, headline)
    t = _table(table).set_index("id")
    fams = list(dict.fromkeys(d["family"]))
    n = len(d) + len(fams)
    fig = Figure(figsize=(10, 0.24 * n + 1.6))
    ax = fig.subplots()
    y, ticks, labels = n, [], []
    for fam in fams:
        ax.text(-LIMIT + 0.1, y, fam, fontsize=8, fontweight="bold", va="center")
        y -= 1
        for _, r in d[d["family"] == fam].iterrows():
            col = COLOURS[r["verdict"]]
            ax.plot([r["ci95_low"], r["ci95_high"]], [y, y], color=col, lw=1)
            ax.plot([r["ci90_low"], r["ci90_high"]], [y, y], color=col, lw=3)
            if abs(r["x"]) <= LIMIT:
                ax.plot(r["x"], y, "o", color=col, ms=4)
            else:  # off the scale: a triangle at the edge, with the value
                edge = math.copysign(LIMIT, r["x"])
                ax.plot(edge, y, ">" if edge > 0 else "<", color=col, ms=6)
                ax.text(edge - math.copysign(0.15, edge), y + 0.25, f"{r['x']:.1f}", fontsize=6, color=col,
                        ha="right" if edge > 0 else "left")
            if np.isfinite(r["paper_x"]):
                ax.plot(r["paper_x"], y, "D", color="black", ms=5, mfc="none")
            ticks.append(y)
            labels.append(_short(t.loc[r["id"], "claim"]))
            y -= 1
    ax.axvspan(-1, 1, color="#2166ac", alpha=0.08)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlim(-LIMIT, LIMIT)
    ax.set_xlabel("difference in the claimed direction, in units of the family's margin Δ "
                  f"(shaded: ±Δ; thick: 90% CI, thin: 95% CI; ▶ = beyond ±{LIMIT:g}, value written)")
    handles = [Line2D([], [], color=c, lw=3, label=v) for v, c in COLOURS.items()]
    handles.append(Line2D([], [], marker="D", color="black", mfc="none", lw=0, label="the paper's effect"))
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
    ax.set_title(("The headline comparisons" if headline else "Every comparison with a margin") +
                 f": paired or Welch t-tests and TOST, Holm within each family, α = {ALPHA}", fontsize=9)
    fig.tight_layout()
    return fig


def _short(claim: str) -> str:
    return claim if len(claim) <= 70 else claim[:67] + "…"


def _grouped(t: pd.DataFrame, suffix: str) -> dict[str, list[str]]:
    rows = t[t["id"].str.endswith(suffix) & t["verdict"].isin(VERDICTS)]
    return {v: rows.loc[rows["verdict"] == v, "id"].tolist() for v in VERDICTS if (rows["verdict"] == v).any()}


def _list(ids: dict[str, list[str]]) -> str:
    return "; ".join(f"{v} ({len(i)}): {', '.join(f'`{x}`' for x in i)}" for v, i in ids.items()) or "none run"


def _families(t: pd.DataFrame) -> tuple[int, int, float]:
    tested = t[np.isfinite(t["p_diff"].astype(float))]
    fams = tested["family"].nunique()
    return fams, len(tested), ALPHA * len(tested)


def summary_markdown(table: pd.DataFrame | None = None) -> str:
    """The README's summary: counts per verdict, the findings that matter, how to read them."""
    t = _table(table)
    c = counts(t)
    paper = t[~np.array([_is_control(a, b) for a, b in zip(t["claim"], t["source"])], dtype=bool)]
    cp = paper["verdict"].value_counts().reindex(STATUSES, fill_value=0)
    fams, ntests, chance = _families(t)
    lines = [
        f"**{len(t)} claims and controls** ({len(paper)} of them the paper's): "
        + ", ".join(f"{c[v]} {v}" for v in STATUSES) + ". Of the paper's own claims: "
        + ", ".join(f"{cp[v]} {v}" for v in STATUSES) + ".",
        "",
        f"* **Augmentation vs no augmentation** (`*-vs-original`): {_list(_grouped(t, '-vs-original'))}.",
        f"* **Augmentation vs an exact duplicate of the data** (`*-vs-duplicate`): "
        f"{_list(_grouped(t, '-vs-duplicate'))}.",
        "* **Why**: " + "; ".join(f"whether {claim}: {_measured(t.set_index('id'), i)}"
                                 for i, (claim, _) in WHY_WORDS.items()) + ".",
        "",
        "How to read a verdict: " + "; ".join(f"**{v}** = {m}" for v, m in MEANING.items()) + ". Each comparison "
        f"states its design (paired over shared retraining seeds, else Welch), its family (one table × model or "
        f"dataset × metric) and its margin Δ with the reason; p values are Holm-adjusted within the family. "
        f"Across all {fams} families, {ntests} tests of difference were made: at α = {ALPHA}, about {chance:.0f} "
        "could come out significant by chance if nothing differed, so read single rows with care. Every row, its "
        "tests, CIs, margin and budget: [`results/real/claims.md`](results/real/claims.md); notebook 09 walks "
        "through them; the summary for teachers is [`docs/findings.md`](docs/findings.md).",
        "",
        f"![forest plot of the headline comparisons]({FOREST['headline'].as_posix()})",
        "",
        f"(Every comparison: [`{FOREST['all'].as_posix()}`]({FOREST['all'].as_posix()}). Generated by "
        "`python -m uaelab.claims`; `tests/test_claims.py` fails when this block and the files disagree.)",
    ]
    return "\n".join(lines) + "\n"


WHY_WORDS = {  # claim id -> (what the claim says, what each verdict means for it)
    "mine-measures-mi": ("per-sample MINE measures I(x, x+δ)", {
        "does not hold": "it does not: the Donsker–Varadhan bound over K pairs stays below about log K",
        "holds": "it does", "equivalent": "it does, within the stated factor",
        "inconclusive": "undecided"}),
    "mi-term-matters": ("the MI term changes the examples", {
        "equivalent": "it does not: MINE-UAE's examples are the no-MI loop's to within 2 grey levels",
        "holds": "it does", "does not hold": "it does not", "inconclusive": "undecided"}),
    "optimisation-shapes-delta": ("the optimisation moves δ away from its random start", {
        "equivalent": "it barely does: UAEs stay close to their random Glorot start, random noise of a fixed size",
        "holds": "it does", "does not hold": "it does not", "inconclusive": "undecided"}),
    "t5-criterion-constrains": ("the released SimCLR criterion constrains the UAEs", {
        "equivalent": "it does not: for identical views it is a constant",
        "holds": "it does", "does not hold": "it does not", "inconclusive": "undecided"}),
}


def _measured(v: pd.DataFrame, cid: str) -> str:
    """A claim's measurement with its verdict (``v``: the claims table indexed by id)."""
    if cid not in v.index or v.loc[cid, "verdict"] == NOT_RUN:
        return "not run yet"
    return f"{v.loc[cid, 'measured']} (**{v.loc[cid, 'verdict']}**)"


def _why_sentence(v: pd.DataFrame, cid: str) -> str:
    claim, meaning = WHY_WORDS[cid]
    if cid not in v.index or v.loc[cid, "verdict"] == NOT_RUN:
        return f"Whether {claim}: not run yet."
    verdict = v.loc[cid, "verdict"]
    return f"Whether {claim} ({verdict}): {meaning[verdict]}. Measured: {v.loc[cid, 'measured']}."


def readme_block(table: pd.DataFrame | None = None) -> str:
    """What stands between the README's claims markers."""
    return f"{README_START}\n{summary_markdown(table)}{README_END}"


def conclusion(table: pd.DataFrame | None = None) -> str:
    """The written conclusion of notebook 09 and docs/findings.md, built from the verdicts."""
    t = _table(table)
    v = t.set_index("id")
    orig, dup = _grouped(t, "-vs-original"), _grouped(t, "-vs-duplicate")
    held = orig.get("holds", [])
    dup_beaten = dup.get("holds", [])
    fams, ntests, chance = _families(t)

    def m(i):
        return v.loc[i, "measured"] if i in v.index and v.loc[i, "verdict"] != NOT_RUN else "not run yet"
    parts = [
        "## What the measurements say",
        "",
        f"**Does UAE augmentation help?** Against no augmentation, MINE-UAE's gain holds in {len(held)} of "
        f"{sum(map(len, orig.values()))} comparisons ({', '.join(f'`{i}`' for i in held) or 'none'}); "
        + "; ".join(f"{k}: {', '.join(f'`{i}`' for i in ids)}" for k, ids in orig.items() if k != "holds")
        + ". Against an exact duplicate of the training data — the control for the doubled number of gradient steps "
        f"that retraining on data + UAEs gets — MINE-UAE holds in {len(dup_beaten)} of "
        f"{sum(map(len, dup.values()))} ("
        + "; ".join(f"{k}: {len(ids)}" for k, ids in dup.items()) + ")."
        + (" Where a gain over Original holds, no comparison shows it exceeds what more gradient steps on the same "
           "images give." if held and not dup_beaten else ""),
        "",
        "**Why?** The measurements elsewhere in the series (each with its verdict):",
        "",
        *[f"* {_why_sentence(v, cid)}" for cid in WHY_WORDS],
        "",
        "**What is solid, what is not.** 'equivalent' on a claimed improvement rules the improvement out at the "
        "stated margin (half the paper's effect); 'inconclusive' rows give the runs per arm that would likely "
        "decide them, and the UAEs are made once per table (seeds vary the retraining only), so every verdict is "
        "conditional on that attack set. Budgets are smaller than the paper's (read them in "
        "`results/real/claims.md`).",
        "",
        f"**Multiplicity.** p values are Holm-adjusted within each of {fams} families (one table × model or dataset "
        f"× metric), separately for the tests of difference and the equivalence tests. Across all {ntests} tests of "
        f"difference, about {chance:.0f} could be significant at α = {ALPHA} by chance alone, so a single 'holds' "
        "in a large table is weak evidence on its own.",
    ]
    return "\n".join(parts) + "\n"


def findings_markdown(table: pd.DataFrame | None = None) -> str:
    """docs/findings.md: one page a teacher can read aloud."""
    t = _table(table)
    c = counts(t)
    return ("# What uaelab found (generated)\n\n"
            "Generated by `python -m uaelab.claims` from `results/real/claims.csv`; do not edit by hand "
            "(`tests/test_claims.py` checks it).\n\n"
            f"Verdict counts over {len(t)} claims and controls: " + ", ".join(f"{c[s]} {s}" for s in STATUSES)
            + ".\n\n" + conclusion(t).replace("## What the measurements say", "## In one page")
            + "\n## The words\n\n" + "".join(f"* **{k}**: {m}.\n" for k, m in MEANING.items()))


def claims_md(table: pd.DataFrame) -> str:
    fams = table[table["verdict"].isin(VERDICTS)].drop_duplicates("family")
    return ("# The paper's claims and what the committed results say\n\nWritten by `python -m uaelab.claims` from "
            "the files named in 'evidence' (uaelab.verdicts: paired or Welch t-tests and TOST against the family's "
            f"margin Δ, Holm within each family, α = {ALPHA}; see `docs/verdicts.md`).\n\n"
            + summary_markdown(table).replace("(results/real/claims.md)", "(claims.md)")
            .replace("](docs/", "](../../docs/").replace("](figures/", "](../../figures/")
            + "\n## Every claim\n\n" + claims_markdown(table)
            + "\n## Families and their margins\n\n| family | margin Δ | why |\n|---|---|---|\n"
            + "".join(f"| {r.family} | {r.margin:.3g} | {r.margin_reason} |\n" for r in fams.itertuples()
                      if isinstance(r.margin, float) and math.isfinite(r.margin))
            + "\n| id | evidence |\n|---|---|\n"
            + "".join(f"| {r.id} | `{r.evidence}` |\n" for r in table.itertuples()))


TESTS_METRICS = {"table4": ((4, "error", "lower"),), "table5": ((5, "loss", "lower"), (5, "accuracy", "higher"),
                                                                (None, "pgd_accuracy", "higher")),
                 "table6": ((6, "error", "lower"), (6, "accuracy", "higher"))}


def tests_table(runs_csv: Path) -> pd.DataFrame:
    """The experiment's own "tests" table (MINE-UAE against every row, per model or dataset),
    recomputed from its runs file with the experiments' margins (half the paper's change for the
    row, times our Original; :func:`uaelab.verdicts.claim_tests`)."""
    runs = pd.read_csv(runs_csv, index_col=0)
    table = runs_csv.name.split("_")[0]
    frames = []
    for number, metric, better in TESTS_METRICS[table]:
        if metric not in runs:
            continue
        rel = {}
        for model in runs["model"].unique():
            row = "cifar10" if number == 5 else (f"mnist/{model}" if number == 4 else model)
            rel[model] = paper.half_claimed_effect(number, row, metric) if number else None
        t = claim_tests(runs, metric, better, relative_margin=rel)
        frames.append(t.assign(metric=metric) if table != "table4" else t)
    return pd.concat(frames)


def refresh_tests_tables(root: Path) -> list[Path]:
    """Rewrite every full run's ``*_tests.{csv,md}`` from its runs file (so that the committed
    experiment tables speak the verdicts' current vocabulary without rerunning the experiment)."""
    written = []
    for runs_csv in sorted((root / REAL).glob("table[456]_*_full_runs.csv")):
        t = tests_table(runs_csv)
        stem = runs_csv.with_name(runs_csv.name.replace("_runs.csv", "_tests"))
        t.to_csv(stem.with_suffix(".csv"))
        stem.with_suffix(".md").write_text(t.to_markdown())
        written += [stem.with_suffix(".csv"), stem.with_suffix(".md")]
    return written


def write_claims(root: Path | str | None = None, readme: bool = True) -> list[Path]:
    """Write results/real/claims.{csv,md}, the forest plots and their data, docs/findings.md, and
    refresh the README's summary block. ``root``: a checkout (default: this one); an installed
    package has no committed results to judge and is never written to."""
    if root is None and not is_checkout():
        raise ValueError(f"write_claims rewrites a source checkout's results/ and README, but uaelab runs from an "
                         f"installed copy ({repo_root()}); run it in a checkout or pass root=<checkout>")
    root = Path(root) if root is not None else repo_root()
    written = refresh_tests_tables(root)
    table = claims_table(root)
    out = root / REAL / "claims"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out.with_suffix(".csv"), index=False)
    out.with_suffix(".md").write_text(claims_md(table))
    written += [out.with_suffix(".csv"), out.with_suffix(".md")]
    forest_data(table).to_csv(root / FOREST_DATA, index=False)
    written.append(root / FOREST_DATA)
    for key, path in FOREST.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        forest_plot(table, headline=key == "headline").savefig(root / path, dpi=110, bbox_inches="tight",
                                                                 metadata={"Software": None})
        written.append(root / path)
    (root / FINDINGS).parent.mkdir(parents=True, exist_ok=True)
    (root / FINDINGS).write_text(findings_markdown(table))
    written.append(root / FINDINGS)
    if readme:
        path = root / "README.md"
        current = path.read_text()
        start, end = current.index(README_START), current.index(README_END) + len(README_END)
        path.write_text(current[:start] + readme_block(table) + current[end:])
        written.append(path)
    return written
