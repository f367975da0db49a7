"""Verdicts on the paper's claims from repeated runs: holds / does not hold / within noise.

A claim of the augmentation tables is a comparison of two rows ("MINE-UAE has a lower test error
than L2-UAE"). With the runs of each row (one per retraining seed) the verdict is Welch's
two-sided t-test at level ``alpha``: *holds* when the difference has the claimed sign and
p < alpha, *does not hold* when it has the other sign and p < alpha, *within noise* otherwise.
Welch's test does not assume equal variances; it needs two runs per row, and with three seeds it
only detects differences several standard deviations wide (say so beside a "within noise").
The paired t-test over shared seeds is reported beside it: rows retrained from the same seed
share their initialisation, so pairing removes that part of the spread.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .augment_tables import rows_frame

VERDICTS = ("holds", "does not hold", "within noise", "not tested")
ALPHA = 0.05  # the level every verdict in results/ uses


def welch(a: Iterable[float], b: Iterable[float]) -> tuple[float, float]:
    """Welch's t statistic and two-sided p-value of mean(a) - mean(b); NaN when either has < 2
    runs. Zero spread in both rows: p = 0 if the means differ (a deterministic difference), 1 if not."""
    a, b = np.asarray(list(a), float), np.asarray(list(b), float)
    if len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan")
    if a.var(ddof=1) == 0 and b.var(ddof=1) == 0:
        diff = a.mean() - b.mean()
        return (math.copysign(math.inf, diff), 0.0) if diff != 0 else (0.0, 1.0)
    from scipy import stats  # slow to import: only when a test is made

    with warnings.catch_warnings():  # near-equal rows: scipy warns about precision; the p is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        t, p = stats.ttest_ind(a, b, equal_var=False)
    return float(t), float(p)


def paired(a: Iterable[float], b: Iterable[float]) -> tuple[float, float]:
    """Paired t statistic and two-sided p of a - b (same seeds, same order); NaN below 2 pairs."""
    d = np.asarray(list(a), float) - np.asarray(list(b), float)
    if len(d) < 2:
        return float("nan"), float("nan")
    if d.std(ddof=1) == 0:
        return (math.copysign(math.inf, d.mean()), 0.0) if d.mean() != 0 else (0.0, 1.0)
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t, p = stats.ttest_1samp(d, 0.0)
    return float(t), float(p)


def verdict(a: Iterable[float], b: Iterable[float], better: str = "lower", alpha: float = ALPHA) -> str:
    """Does row ``a`` beat row ``b`` (``better``: "lower" or "higher" values win)? One of VERDICTS."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    a, b = list(a), list(b)
    return _decide(float(np.mean(a)) - float(np.mean(b)), welch(a, b)[1], better, alpha)


def _decide(difference: float, p: float, better: str, alpha: float) -> str:
    """The verdict of "a beats b" from mean(a) - mean(b) and the test's p."""
    if math.isnan(p):
        return "not tested"
    if p >= alpha:
        return "within noise"
    claimed = difference < 0 if better == "lower" else difference > 0
    return "holds" if claimed else "does not hold"


def claim_tests(rows: list[dict[str, Any]], metric: str, better: str = "lower", subject: str = "MINE-UAE",
                group: str = "model", alpha: float = ALPHA) -> pd.DataFrame:
    """``subject`` against every other method (and "improves on Original"), per ``group``.

    ``rows``: :func:`uaelab.augment.run_augmentation` rows (one per method and retraining seed).
    Columns: the two means and stds, runs, the mean difference (subject - other), Welch's t and p,
    the paired p over shared retraining seeds, and the verdict of "subject beats other".
    """
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    df = rows_frame(rows)
    if "retrain_seed" not in df:
        df["retrain_seed"] = df.get("seed", 0)
    out = []
    for gkey, sub in df.groupby(group, sort=False):
        mine = sub[sub["method"] == subject].sort_values("retrain_seed")
        if mine.empty:
            continue
        for other, osub in sub.groupby("method", sort=False):
            if other == subject:
                continue
            osub = osub.sort_values("retrain_seed")
            a, b = mine[metric].to_numpy(float), osub[metric].to_numpy(float)
            t, p = welch(a, b)
            diff = float(a.mean() - b.mean())
            shared = sorted(set(mine["retrain_seed"]) & set(osub["retrain_seed"]))
            pa = mine.set_index("retrain_seed").loc[shared, metric].to_numpy(float)
            pb = osub.set_index("retrain_seed").loc[shared, metric].to_numpy(float)
            out.append({group: gkey, "claim": f"{subject} beats {other}", "subject": float(a.mean()),
                        "subject_std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "other": float(b.mean()),
                        "other_std": float(b.std(ddof=1)) if len(b) > 1 else 0.0, "runs": f"{len(a)} vs {len(b)}",
                        "difference": diff, "welch_t": t, "welch_p": p, "paired_p": paired(pa, pb)[1],
                        "verdict": _decide(diff, p, better, alpha)})
    return pd.DataFrame(out).set_index([group, "claim"]) if out else pd.DataFrame()


def runs_table(rows: list[dict[str, Any]], metrics: dict[str, Any]) -> pd.DataFrame:
    """One line per run (model, method, seeds, every metric, ASR): what the verdicts are computed from."""
    cols = ["model", "method", "seed", "retrain_seed", *metrics, "asr", "n_train"]
    df = rows_frame(rows)
    return df[[c for c in cols if c in df.columns]].reset_index(drop=True)


def seeds_note(aug: Any) -> str:
    """The sentence a table carries about what its ± and its runs are (``aug``: AugmentSettings
    or its dict)."""
    aug = aug if isinstance(aug, dict) else aug.to_dict()
    retrain, seeds = tuple(aug.get("retrain_seeds") or ()), tuple(aug["seeds"])
    if retrain:
        return (f"Each row: {len(retrain)} retraining seeds {retrain} (mean ± std); the examples are made once, "
                f"against the seed-{aug['model_seed']} original, and GA draws its noise with the retraining seed. "
                f"Verdicts ('tests'): Welch's t over those seeds at p < {ALPHA}.")
    return (f"Runs: the attacks once (seed {seeds[0]}), GA over seeds {seeds}, every retraining from seed "
            f"{aug['model_seed']}: ± is the spread of GA's noise only.")
