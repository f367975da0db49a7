"""Verdicts a statistician would sign: design-aware tests, equivalence margins, Holm, power.

The rule is fixed in the design note ``STATISTICS.md`` (summarised in ``docs/verdicts.md``): a
*comparison* is method A against method B on one metric, with the direction a claim asserts
("A lower than B"); comparisons of one table × model/dataset × metric form a *family*, adjusted
together by Holm's method; every family states a *margin* Δ > 0 (the smallest effect that would
matter, in the metric's units). Each comparison gets two tests, both from statsmodels:

* a two-sided test of difference: paired t (``DescrStatsW(a - b).ttest_mean``) when A's and B's
  runs share a seed that fixes the initialisation and data order (uaelab's retraining seeds do),
  Welch's t (``ttest_ind(..., usevar="unequal")``) otherwise;
* an equivalence test against ±Δ: TOST (``ttost_paired`` / ``ttost_ind(..., usevar="unequal")``).

Decision at α = 0.05 on the Holm-adjusted p of each kind of test:

====================================  ==============  ================
difference test                       TOST            verdict
====================================  ==============  ================
significant in the claimed direction  not equivalent  **holds**
significant against it                not equivalent  **does not hold**
any                                   equivalent      **equivalent**
not significant                       not equivalent  **inconclusive**
====================================  ==============  ================

"equivalent" on a claim of improvement means the improvement is ruled out at Δ; on a claim of no
difference (``direction="equal"``) it supports the claim. An inconclusive comparison carries the
runs per arm at which its observed difference and spread would likely decide it (80% power,
``statsmodels.stats.power``). Zero spread (a deterministic difference) is compared with Δ
directly and says that no test applies.

    from uaelab.verdicts import compare
    c = compare(my_errors, duplicate_errors, paired=True, margin=1.6e-4, direction="lower")
    c.verdict, c.p_diff, c.ci95, c.n_to_decide
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any, Iterable, Literal, Sequence

import numpy as np
import pandas as pd

VERDICTS = ("holds", "does not hold", "equivalent", "inconclusive")
NOT_RUN = "not run"  # a claim whose result file does not exist yet (not a verdict)
ALPHA = 0.05  # the level every verdict in results/ uses
POWER = 0.8  # the power behind "runs that would likely decide it"
Direction = Literal["lower", "higher", "equal"]
DIRECTIONS = ("lower", "higher", "equal")


@dataclass(frozen=True)
class Comparison:
    """One comparison, its tests and its verdict (see the module docstring).

    ``difference`` is mean(a) − mean(b) (paired: the mean of the per-seed differences); the CIs
    are of that difference; p values are two-sided (difference) and TOST (equivalence), raw and
    Holm-adjusted within ``family`` (equal to the raw ones for a family of one)."""

    design: str  # "paired" | "independent" | "one sample" | "tolerance"
    direction: str  # what the claim asserts of a − b: "lower", "higher" or "equal"
    margin: float  # Δ: the smallest difference that would matter (NaN: no equivalence test)
    n_a: int  # runs (or samples) of a
    n_b: int  # runs of b (paired: the shared seeds)
    mean_a: float
    mean_b: float
    sd_a: float
    sd_b: float
    difference: float  # mean(a) − mean(b)
    ci90: tuple[float, float]  # the interval TOST uses
    ci95: tuple[float, float]
    p_diff: float  # two-sided test of difference, raw
    p_equiv: float  # TOST against ±margin, raw (NaN without a margin)
    test: str  # the tests in words
    p_diff_adj: float = math.nan  # Holm-adjusted within the family
    p_equiv_adj: float = math.nan
    family: str = ""
    n_to_decide: float = math.nan  # runs per arm that would likely decide it (read when inconclusive)
    verdict: str = "inconclusive"
    alpha: float = ALPHA

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci90_low"], d["ci90_high"] = d.pop("ci90")
        d["ci95_low"], d["ci95_high"] = d.pop("ci95")
        return d

    def summary(self) -> str:
        """One line: the difference with its 95% CI, the p values and the verdict."""
        lo, hi = self.ci95
        out = (f"{self.design}: difference {self.difference:.3g} (95% CI {lo:.3g} to {hi:.3g}), "
               f"p = {self.p_diff_adj:.2g}, TOST ±{self.margin:.3g} p = {self.p_equiv_adj:.2g} -> {self.verdict}")
        if self.verdict == "inconclusive" and np.isfinite(self.n_to_decide):
            out += f" (about {int(self.n_to_decide)} runs per arm would likely decide it)"
        return out


def _check(direction: str, margin: float | None, alpha: float) -> float:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if margin is None:
        return math.nan
    margin = float(margin)
    if not margin > 0:
        raise ValueError(f"margin must be > 0 (the smallest difference that matters, in the metric's units), "
                         f"got {margin}; pass margin=None to skip the equivalence test")
    return margin


def _array(x: Iterable[float], name: str) -> np.ndarray:
    a = np.asarray(list(x), dtype=float)
    if a.ndim != 1 or not np.isfinite(a).all():
        raise ValueError(f"{name} must be a 1-d sequence of finite numbers, got {a!r}")
    return a


def compare(a: Iterable[float], b: Iterable[float], *, paired: bool, margin: float | None,
            direction: Direction = "lower", alpha: float = ALPHA) -> Comparison:
    """Compare runs ``a`` with runs ``b`` and give the verdict of the claim "a is ``direction``
    than b" (``"equal"``: "a and b do not differ").

    ``paired=True`` when ``a[i]`` and ``b[i]`` share a seed (same initialisation and data order:
    a paired t-test and ``ttost_paired``); ``False`` for independent runs (Welch's t and
    ``ttost_ind(usevar="unequal")``). ``margin``: Δ > 0 in the metric's units, fixed before
    looking at the data (``None``: no equivalence test, so the verdict is never "equivalent").
    A single comparison is a family of one (no multiplicity adjustment); to judge several
    together, pass them to :func:`judge_family`.
    """
    margin = _check(direction, margin, alpha)
    a, b = _array(a, "a"), _array(b, "b")
    if paired and len(a) != len(b):
        raise ValueError(f"paired comparison needs as many runs in a as in b (one per shared seed), got "
                         f"{len(a)} and {len(b)}; pass paired=False for independent runs")
    c = (_paired if paired else _independent)(a, b, margin, alpha)
    c = replace(c, direction=direction)
    return _decided(replace(c, p_diff_adj=c.p_diff, p_equiv_adj=c.p_equiv), alpha)


def _sd(x: np.ndarray) -> float:
    return float(x.std(ddof=1)) if len(x) > 1 else math.nan


def _paired(a, b, margin, alpha) -> Comparison:
    from statsmodels.stats.weightstats import DescrStatsW, ttost_paired

    d = a - b
    base = dict(design="paired", direction="lower", margin=margin, n_a=len(a), n_b=len(b), mean_a=float(a.mean()),
                mean_b=float(b.mean()), sd_a=_sd(a), sd_b=_sd(b), difference=float(d.mean()))
    if len(d) < 2:
        return Comparison(**base, ci90=(math.nan, math.nan), ci95=(math.nan, math.nan), p_diff=math.nan,
                          p_equiv=math.nan, test="one pair: no test")
    if d.std(ddof=1) == 0:
        return _deterministic(base, float(d.mean()), margin, "paired differences")
    s = DescrStatsW(d)
    with warnings.catch_warnings():  # near-constant differences: a precision warning, the p is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        _, p, _ = s.ttest_mean(0.0)
        p_eq = ttost_paired(a, b, -margin, margin)[0] if np.isfinite(margin) else math.nan
    return Comparison(**base, ci90=tuple(map(float, s.tconfint_mean(2 * alpha))),
                      ci95=tuple(map(float, s.tconfint_mean(alpha))), p_diff=float(p), p_equiv=float(p_eq),
                      test=f"paired t over {len(d)} pairs" + (", TOST (paired)" if np.isfinite(margin) else ""),
                      n_to_decide=_n_to_decide(float(d.mean()), float(d.std(ddof=1)), margin, alpha, paired=True))


def _independent(a, b, margin, alpha) -> Comparison:
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind, ttost_ind

    diff = float(a.mean() - b.mean())
    base = dict(design="independent", direction="lower", margin=margin, n_a=len(a), n_b=len(b),
                mean_a=float(a.mean()), mean_b=float(b.mean()), sd_a=_sd(a), sd_b=_sd(b), difference=diff)
    if len(a) < 2 or len(b) < 2:
        return Comparison(**base, ci90=(math.nan, math.nan), ci95=(math.nan, math.nan), p_diff=math.nan,
                          p_equiv=math.nan, test="fewer than 2 runs in an arm: no test")
    if a.std(ddof=1) == 0 and b.std(ddof=1) == 0:
        return _deterministic(base, diff, margin, "both arms")
    cm = CompareMeans(DescrStatsW(a), DescrStatsW(b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _, p, _ = ttest_ind(a, b, usevar="unequal")
        p_eq = ttost_ind(a, b, -margin, margin, usevar="unequal")[0] if np.isfinite(margin) else math.nan
    pooled = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return Comparison(**base, ci90=tuple(map(float, cm.tconfint_diff(2 * alpha, usevar="unequal"))),
                      ci95=tuple(map(float, cm.tconfint_diff(alpha, usevar="unequal"))), p_diff=float(p),
                      p_equiv=float(p_eq),
                      test=f"Welch's t ({len(a)} vs {len(b)} runs)" + (", TOST (Welch)" if np.isfinite(margin) else ""),
                      n_to_decide=_n_to_decide(diff, pooled, margin, alpha, paired=False))


def _deterministic(base: dict, diff: float, margin: float, what: str) -> Comparison:
    """Zero spread: the difference is known exactly, so no test applies; it is compared with the
    margin directly (p is 0 or 1, so that the decision table still reads it)."""
    p_eq = (0.0 if abs(diff) < margin else 1.0) if np.isfinite(margin) else math.nan
    return Comparison(**base, ci90=(diff, diff), ci95=(diff, diff), p_diff=0.0 if diff != 0 else 1.0, p_equiv=p_eq,
                      test=f"zero spread in the {what}: no test applies, the difference is compared with the margin")


def _n_to_decide(diff: float, sd: float, margin: float, alpha: float, paired: bool) -> float:
    """Runs per arm at which a study with this difference and spread would have 80% power to
    decide: the two-sided test of difference, or TOST when |diff| < margin (approximated by a
    one-sided test of (Δ − |diff|) / sd); the smaller of the two. NaN when neither can."""
    from statsmodels.stats.power import TTestIndPower, TTestPower

    if not sd > 0:
        return math.nan
    power = TTestPower() if paired else TTestIndPower()
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for es, alt in ((abs(diff) / sd, "two-sided"),
                        ((margin - abs(diff)) / sd if np.isfinite(margin) else 0.0, "larger")):
            if es > 1e-6:
                n = _first_n(power, es, alpha, alt)
                if np.isfinite(n):
                    out.append(n)
    return float(min(out)) if out else math.nan


def _first_n(power, es: float, alpha: float, alternative: str, cap: int = 10_000) -> float:
    """The smallest runs per arm with power >= POWER (``power.power`` of statsmodels), by doubling
    then bisection over integers; NaN above ``cap``. (``solve_power``'s root finder fails for the
    large effects of 3-seed studies, where the answer is 3 or 4.)"""
    def ok(n: int) -> bool:
        return bool(power.power(es, n, alpha, alternative=alternative) >= POWER)  # nobs / nobs1 by position
    hi = 2
    while not ok(hi):
        hi *= 2
        if hi > cap:
            return math.nan
    lo = max(hi // 2, 2)
    if ok(lo):
        return float(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return float(hi)


def decide(difference: float, p_diff: float, p_equiv: float, direction: str, alpha: float = ALPHA) -> str:
    """The verdict from the (adjusted) p values of the two tests; see the module's table."""
    if np.isfinite(p_equiv) and p_equiv < alpha:
        return "equivalent"
    if not (np.isfinite(p_diff) and p_diff < alpha):
        return "inconclusive"
    if direction == "equal":
        return "does not hold"
    claimed = difference < 0 if direction == "lower" else difference > 0
    return "holds" if claimed else "does not hold"


def _decided(c: Comparison, alpha: float) -> Comparison:
    v = decide(c.difference, c.p_diff_adj, c.p_equiv_adj, c.direction, alpha)
    return replace(c, verdict=v, alpha=alpha)  # n_to_decide is kept; it is read only when inconclusive


def holm(pvalues: Sequence[float], alpha: float = ALPHA) -> list[float]:
    """Holm-adjusted p values (``statsmodels.stats.multitest.multipletests``); NaN stays NaN."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, float)
    out = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], alpha=alpha, method="holm")[1]
    return out.tolist()


def judge_family(comparisons: Sequence[Comparison], family: str, alpha: float = ALPHA) -> list[Comparison]:
    """The comparisons of one family with Holm-adjusted p values (separately for the tests of
    difference and the equivalence tests) and the verdicts decided on them."""
    pd_adj = holm([c.p_diff for c in comparisons], alpha)
    pe_adj = holm([c.p_equiv for c in comparisons], alpha)
    return [_decided(replace(c, p_diff_adj=d, p_equiv_adj=e, family=family), alpha)
            for c, d, e in zip(comparisons, pd_adj, pe_adj)]


def judge_one(comparison: Comparison, family: str, alpha: float = ALPHA) -> Comparison:
    """A comparison that is a family on its own (nothing to adjust for), decided."""
    return judge_family([comparison], family, alpha)[0]


def compare_proportion(successes: int, n: int, p0: float, *, margin: float, direction: Direction = "higher",
                       alpha: float = ALPHA) -> Comparison:
    """A rate (e.g. an attack success rate, ``successes`` of ``n``) against a reference value
    ``p0`` (e.g. the paper's): exact binomial test (``scipy.stats.binomtest``) and exact binomial
    TOST against ``p0 ± margin`` (``statsmodels.stats.proportion.binom_tost``); Clopper–Pearson CIs."""
    from scipy import stats
    from statsmodels.stats.proportion import binom_tost, proportion_confint

    margin = _check(direction, margin, alpha)
    if not 0 <= successes <= n or n < 1:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    rate = successes / n
    ci = [tuple(float(v) - p0 for v in proportion_confint(successes, n, alpha=lvl, method="beta"))
          for lvl in (2 * alpha, alpha)]
    c = Comparison(design="one sample", direction=direction, margin=margin, n_a=n, n_b=0, mean_a=rate, mean_b=p0,
                   sd_a=math.sqrt(rate * (1 - rate)), sd_b=0.0, difference=rate - p0, ci90=ci[0], ci95=ci[1],
                   p_diff=float(stats.binomtest(successes, n, p0).pvalue),
                   p_equiv=float(binom_tost(successes, n, max(p0 - margin, 0.0), min(p0 + margin, 1.0))[0]),
                   test=f"exact binomial test against {p0:.4g}, binomial TOST ±{margin:g}")
    return _decided(replace(c, p_diff_adj=c.p_diff, p_equiv_adj=c.p_equiv), alpha)


def tolerance_check(value: float, reference: float, tolerance: float, *, direction: Direction,
                    what: str) -> Comparison:
    """A quantity with no run-to-run variance (a closed form, a maximum over pixels) against a
    stated tolerance: no test applies. ``direction`` is what the claim asserts of value − reference;
    |value − reference| < tolerance is "equivalent" (the asserted effect is ruled out at that
    tolerance, or, for ``"equal"``, supported); beyond it, "holds"/"does not hold" by its sign."""
    margin = _check(direction, tolerance, ALPHA)
    diff = float(value - reference)
    within = abs(diff) < margin
    c = Comparison(design="tolerance", direction=direction, margin=margin, n_a=1, n_b=1, mean_a=float(value),
                   mean_b=float(reference), sd_a=0.0, sd_b=0.0, difference=diff, ci90=(diff, diff), ci95=(diff, diff),
                   p_diff=math.nan if within else 0.0, p_equiv=0.0 if within else 1.0,
                   test=f"{what} against the tolerance {tolerance:.3g}: no test applies (no run-to-run variance)")
    return _decided(replace(c, p_diff_adj=c.p_diff, p_equiv_adj=c.p_equiv), ALPHA)


# -- the augmentation tables: MINE-UAE against every other row, per model/dataset ---------------
def _frame(rows) -> pd.DataFrame:
    if isinstance(rows, pd.DataFrame):
        return rows.copy()
    return pd.DataFrame([{k: v for k, v in r.items() if k != "examples"} for r in rows])


def claim_tests(rows, metric: str, better: str = "lower", subject: str = "MINE-UAE", group: str = "model",
                margin: float | dict | None = None, relative_margin: float | dict | None = None,
                alpha: float = ALPHA) -> pd.DataFrame:
    """``subject`` against every other method, per ``group`` (one family per group × metric).

    ``rows``: :func:`uaelab.augment.run_augmentation` rows (one per method and retraining seed) or
    a runs table with columns ``group``, ``method``, ``retrain_seed`` and ``metric``. The design
    is paired over the retraining seeds both rows share (they share the initialisation), else
    independent. The margin Δ: ``margin`` (a number, or {group: number}), or ``relative_margin``
    (a fraction, or {group: fraction}) times the Original row's mean of the group (the claim's
    rule: half the paper's relative improvement times our Original), else none (no equivalence
    test). Holm within each group.
    Columns: means and stds, runs, difference, design, margin, CIs, raw and adjusted p of both
    tests, runs that would decide it, the verdict of "subject beats other".
    """
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    df = _frame(rows)
    if "retrain_seed" not in df:
        df["retrain_seed"] = df.get("seed", 0)
    out = []
    for gkey, sub in df.groupby(group, sort=False):
        mine = sub[sub["method"] == subject]
        if mine.empty:
            continue
        delta = _group_margin(sub, gkey, metric, margin, relative_margin)
        family, comps, names = f"{gkey} · {metric}", [], []
        for other, osub in sub.groupby("method", sort=False):
            if other == subject:
                continue
            comps.append(paired_or_independent(mine, osub, metric, delta, better, alpha))
            names.append(other)
        for other, c in zip(names, judge_family(comps, family, alpha)):
            out.append({group: gkey, "claim": f"{subject} beats {other}", "subject": c.mean_a,
                        "subject_std": c.sd_a if np.isfinite(c.sd_a) else 0.0, "other": c.mean_b,
                        "other_std": c.sd_b if np.isfinite(c.sd_b) else 0.0, "runs": f"{c.n_a} vs {c.n_b}",
                        **{k: v for k, v in c.to_dict().items() if k not in ("mean_a", "mean_b", "sd_a", "sd_b")}})
    return pd.DataFrame(out).set_index([group, "claim"]) if out else pd.DataFrame()


def _group_margin(sub: pd.DataFrame, gkey, metric: str, margin, relative_margin) -> float | None:
    if isinstance(margin, dict):
        return margin.get(gkey)
    if margin is not None:
        return float(margin)
    if isinstance(relative_margin, dict):
        relative_margin = relative_margin.get(gkey)
    if relative_margin is not None:
        base = sub[sub["method"] == "Original"][metric]
        return float(relative_margin * abs(base.mean())) if len(base) else None
    return None


def paired_or_independent(a: pd.DataFrame, b: pd.DataFrame, metric: str, margin: float | None, better: str,
                          alpha: float = ALPHA) -> Comparison:
    """Rows ``a`` against rows ``b`` of a runs table: paired over the retraining seeds they share
    when both have the same seeds (each run once), independent otherwise."""
    sa, sb = a.set_index("retrain_seed")[metric], b.set_index("retrain_seed")[metric]
    same = (sa.index.is_unique and sb.index.is_unique and set(sa.index) == set(sb.index) and len(sa) > 1)
    if same:
        seeds = sorted(sa.index)
        return compare(sa.loc[seeds], sb.loc[seeds], paired=True, margin=margin, direction=better, alpha=alpha)
    return compare(sa, sb, paired=False, margin=margin, direction=better, alpha=alpha)


def runs_table(rows: list[dict[str, Any]], metrics: dict[str, Any]) -> pd.DataFrame:
    """One line per run (model, method, seeds, every metric, ASR): what the verdicts are computed from."""
    cols = ["model", "method", "seed", "retrain_seed", *metrics, "asr", "n_train"]
    df = _frame(rows)
    return df[[c for c in cols if c in df.columns]].reset_index(drop=True)


def seeds_note(aug: Any) -> str:
    """The sentence a table carries about what its ± and its runs are (``aug``: AugmentSettings
    or its dict)."""
    aug = aug if isinstance(aug, dict) else aug.to_dict()
    retrain, seeds = tuple(aug.get("retrain_seeds") or ()), tuple(aug["seeds"])
    if retrain:
        return (f"Each row: {len(retrain)} retraining seeds {retrain} (mean ± std); the examples are made once, "
                f"against the seed-{aug['model_seed']} original, and GA draws its noise with the retraining seed. "
                f"Verdicts ('tests'): paired t and TOST over those seeds, Holm within each model × metric, "
                f"α = {ALPHA} (uaelab.verdicts).")
    return (f"Runs: the attacks once (seed {seeds[0]}), GA over seeds {seeds}, every retraining from seed "
            f"{aug['model_seed']}: ± is the spread of GA's noise only.")
