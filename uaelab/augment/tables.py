"""The augmentation tables: rows of :func:`uaelab.augment.run_augmentation` summarised (mean, std,
improvement), laid out as in the paper (``0.00243 (↑ 56.7%)``), and the paper's claim checked."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from uaelab.augment import CONTROL_LABELS, improvement


def rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """:func:`uaelab.augment.run_augmentation` rows as a DataFrame, without the example tensors."""
    return pd.DataFrame([{k: v for k, v in r.items() if k != "examples"} for r in rows])

def summarize(rows: list[dict[str, Any]], metrics: dict[str, tuple[str, bool]],
              group: tuple[str, ...] = ("model",)) -> pd.DataFrame:
    """Mean, std and improvement per (group..., method) from :func:`run_augmentation` rows.

    Columns: ``<metric>``, ``<metric>_std`` (0 for single runs), ``<metric>_improvement``
    (fraction, positive = better, from the means), ``asr``, ``runs``.
    """
    df = rows_frame(rows)
    keys = list(group) + ["method"]
    out = []
    for gkey, sub in df.groupby(list(group), sort=False):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        base = sub[sub["key"] == "original"]
        for mkey, msub in sub.groupby("method", sort=False):
            rec = dict(zip(keys, (*gkey, mkey)))
            for metric, (better, relative) in metrics.items():
                mean = float(msub[metric].mean())
                rec[metric] = mean
                rec[f"{metric}_std"] = float(msub[metric].std(ddof=1)) if len(msub) > 1 else 0.0
                if len(base):
                    rec[f"{metric}_improvement"] = improvement(float(base[metric].mean()), mean, better, relative)
            rec["asr"] = float(msub["asr"].mean())
            rec["runs"] = int(len(msub))
            out.append(rec)
    return pd.DataFrame(out).set_index(keys)


def paper_cell(mean: float, std: float, imp: float | None, runs: int, relative: bool = True,
               digits: int = 5) -> str:
    """A cell in the paper's style: ``0.00243 (↑ 56.7%)`` or ``0.00280±2.6e-05 (↓ 2.4%)``."""
    text = f"{mean:.{digits}f}" if abs(mean) >= 10 ** -(digits - 2) or mean == 0 else f"{mean:.3g}"
    if runs > 1:
        text += f"±{std:.2g}"
    if imp is None or (isinstance(imp, float) and math.isnan(imp)):
        return text
    arrow = "↑" if imp > 0 else ("↓" if imp < 0 else "=")
    return f"{text} ({arrow} {abs(imp) * 100:.1f}%)" if relative else f"{text} ({arrow} {abs(imp) * 100:.2f} pts)"


def paper_style(summary: pd.DataFrame, metric: str, relative: bool = True, digits: int = 5,
                asr: bool = True) -> pd.DataFrame:
    """Pivot a :func:`summarize` table into the paper's layout: one row per model, one column
    per method with ``value (↑ x%)``, then one ASR column per attack."""
    idx = list(summary.index.names)
    group, mcol = idx[:-1], idx[-1]
    flat = summary.reset_index()
    methods = list(dict.fromkeys(flat[mcol]))
    table = {}
    for gkey, sub in flat.groupby(group, sort=False):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        line = {}
        for _, r in sub.iterrows():
            imp = None if r[mcol] == "Original" else r.get(f"{metric}_improvement")
            line[r[mcol]] = paper_cell(r[metric], r[f"{metric}_std"], imp, int(r["runs"]), relative, digits)
        if asr:
            for _, r in sub.iterrows():
                if r[mcol] not in ("Original", "Duplicate") and not math.isnan(r["asr"]):
                    line[f"ASR {r[mcol]}"] = f"{r['asr'] * 100:.2f}%"
        table[gkey if len(gkey) > 1 else gkey[0]] = line
    cols = methods + [f"ASR {m}" for m in methods if m not in ("Original", "Duplicate")]
    df = pd.DataFrame.from_dict(table, orient="index")
    return df[[c for c in cols if c in df.columns]]


def direction_check(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per group: does MINE-UAE improve on the original, and does it beat L2-UAE and every GA?

    The paper's claim for Table 4 / 6. Returns one row per group with booleans (NaN-free:
    a comparison whose method was not run is left out).
    """
    idx = list(summary.index.names)
    group, mcol = idx[:-1], idx[-1]
    flat = summary.reset_index()
    col = f"{metric}_improvement"
    out = []
    for gkey, sub in flat.groupby(group, sort=False):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        imp = dict(zip(sub[mcol], sub[col]))
        rec = dict(zip(group, gkey))
        if "MINE-UAE" not in imp:
            continue
        mine = imp["MINE-UAE"]
        rec["MINE-UAE improves"] = bool(mine > 0)
        # the paper's baselines (L2-UAE, GA) decide "reproduces"; the controls (Duplicate and
        # the MI ablations) are reported beside it
        controls = [m for m in CONTROL_LABELS if m in imp]
        others = {m: v for m, v in imp.items() if m not in ("Original", "MINE-UAE", *controls)}
        for m, v in others.items():
            rec[f"beats {m}"] = bool(mine > v)
        for m in controls:
            rec[f"beats {m}"] = bool(mine > imp[m])
        rec["reproduces"] = bool(mine > 0 and all(mine > v for v in others.values()))
        out.append(rec)
    return pd.DataFrame(out).set_index(group) if out else pd.DataFrame()
