"""Notebook 01: how far to trust ``estimate_mi`` - a known-MI suite (:mod:`uaelab.mi.tasks`).

``mi_benchmark`` runs :func:`uaelab.mi.mine.estimate_mi` at its defaults on every task for a few
seeds and tabulates estimate vs closed form. ``benchmarks/bench_mi.py`` runs the same tasks
through torch-mist's MINE, SMILE and InfoNCE beside it and writes
``benchmarks/results/bench_mi.json``; :func:`load_bench` reads that file back into the same
tables (:func:`summary`) and figure (:func:`figure`).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from uaelab.config import Settings, register
from uaelab.experiments import ExperimentResult, cached, experiment
from uaelab.mi.estimator import VERSION
from uaelab.mi.mine import estimate_mi
from uaelab.mi.tasks import QUICK, SUITE, Task
from uaelab.utils import repo_root
from uaelab.viz.plotting import Figure, new_figure

BENCH_JSON = Path("benchmarks") / "results" / "bench_mi.json"


@register("mi_benchmark")
@dataclass(frozen=True)
class MiBenchSettings(Settings):
    """estimate_mi on the known-MI suite."""

    tasks: str = "suite"  # "suite" (all of uaelab.mi.tasks.SUITE) or "quick" (uaelab.mi.tasks.QUICK)
    n: int = 8000  # pairs per task
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # one sample and one estimator seed each
    steps: int = 6000  # estimate_mi's maximum Adam steps (its default; early stopping ends sooner)

    PROFILES = {"quick": {"tasks": "quick", "n": 2000, "seeds": (0, 1)}}

    def validate(self) -> None:
        if self.tasks not in ("suite", "quick"):
            raise ValueError(f"mi_benchmark.tasks must be 'suite' or 'quick', got {self.tasks!r}")
        if self.n < 8 or not self.seeds or self.steps < 1:
            raise ValueError("mi_benchmark needs n >= 8, at least one seed and steps >= 1")


def task_list(which: str) -> tuple[Task, ...]:
    return SUITE if which == "suite" else QUICK


def run_ours(tasks, n: int, seeds, estimator=None, **kwargs) -> list[dict]:
    """One row per (task, seed): {task, family, d, truth, seed, estimator, estimate, seconds}."""
    fn = estimator or estimate_mi
    rows = []
    for task in tasks:
        truth = task.truth
        for seed in seeds:
            a, b = task.sample(n, seed)
            t = time.perf_counter()
            est = float(fn(a, b, seed=seed, **kwargs))
            rows.append({"task": task.name, "family": task.family, "d": task.d, "truth": truth,
                         "seed": seed, "estimator": "ours", "estimate": est,
                         "seconds": time.perf_counter() - t})
    return rows


def tolerance(truth: float) -> float:
    """The acceptance band of the issue (bmi's CI for MINE): max(0.05 nats, 10%)."""
    return max(0.05, 0.1 * truth)


def summary(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """Per task (rows, in suite order) and estimator: mean, std and error of the estimate."""
    df = pd.DataFrame(rows)
    order = list(dict.fromkeys(df["task"]))
    df["abs_err"] = (df["estimate"] - df["truth"]).abs()
    g = df.groupby(["task", "estimator"], sort=False)
    out = pd.DataFrame({"truth": g["truth"].first(), "mean": g["estimate"].mean(),
                        "std": g["estimate"].std(ddof=0), "min": g["estimate"].min(),
                        "worst_abs_err": g["abs_err"].max(), "seconds": g["seconds"].mean()})
    out["error"] = out["mean"] - out["truth"]
    out["within_tol"] = out["error"].abs() <= out["truth"].map(tolerance)
    return out.reset_index().set_index("task").loc[order].reset_index()


def wide(summ: pd.DataFrame) -> pd.DataFrame:
    """Tasks × estimators, "mean ± std" cells, and the truth."""
    cells = summ.assign(cell=[f"{m:.3f} ± {s:.3f}" for m, s in zip(summ["mean"], summ["std"])])
    table = cells.pivot(index="task", columns="estimator", values="cell")
    table.insert(0, "truth", summ.groupby("task")["truth"].first())
    return table.loc[list(dict.fromkeys(summ["task"]))]


def verdicts(summ: pd.DataFrame, ours: str = "ours") -> dict:
    """The issue's acceptance checks, computed from a summary (numbers, not prose)."""
    o = summ[summ["estimator"] == ours].set_index("task")
    graded = o[(o["truth"] > 0) & (o["truth"] <= 2)]
    indep = o[o["truth"] == 0]
    med = summ.assign(abs_err=summ["error"].abs()).groupby("estimator")["abs_err"].median()
    others = med[[k for k in med.index if k.startswith("torch-mist")]]
    return {
        "within_tol_mi_le_2": {t: bool(v) for t, v in graded["within_tol"].items()},
        "all_within_tol_mi_le_2": bool(graded["within_tol"].all()),
        "independent_means": {t: float(v) for t, v in indep["mean"].items()},
        "independent_ok": bool((indep["mean"].abs() <= 0.05).all() and (indep["min"] >= -0.05).all()),
        "median_abs_error": {k: float(v) for k, v in med.items()},
        "best_torch_mist": None if others.empty else str(others.idxmin()),
        "ours_at_least_as_accurate_on_median": None if others.empty else bool(med[ours] <= others.min()),
    }


def figure(summ: pd.DataFrame) -> Figure:
    """Estimate vs truth (± std over seeds) per estimator, with the y = x line; a mean below
    the plotted range is drawn at its bottom edge under a black triangle."""
    fig = new_figure(figsize=(5.2, 4.2))
    ax = fig.subplots()
    top = float(max(summ["truth"].max(), summ["mean"].max())) * 1.05 + 0.1
    ax.plot([0, top], [0, top], "k-", lw=1, label="y = x (truth)")
    names = list(dict.fromkeys(summ["estimator"]))
    offsets = np.linspace(-0.012, 0.012, len(names)) * top  # side by side at the same truth
    low = -0.1 * top  # an estimate far below zero would hide the rest: mark it at the bottom
    for name, dx in zip(names, offsets):
        s = summ[summ["estimator"] == name]
        shown = s["mean"] >= low
        ax.errorbar(s["truth"] + dx, s["mean"].clip(lower=low), yerr=s["std"].where(shown, 0), fmt="o",
                    ms=3.5, capsize=2, label=name, zorder=3 if name == "ours" else 2)
        off = s[s["mean"] < low]
        ax.scatter(off["truth"] + dx, np.full(len(off), low), marker="v", s=40, color="k", zorder=4)
    ax.set_ylim(low * 1.3, top)
    ax.set_xlabel("true I(a; b) [nats]")
    ax.set_ylabel("estimate [nats]")
    ax.set_title("known-MI suite: estimate vs truth")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def load_bench(path: str | Path | None = None) -> dict:
    """The benchmark's JSON (``benchmarks/results/bench_mi.json``) with ``summary`` rebuilt."""
    p = Path(path) if path else repo_root() / BENCH_JSON
    if not p.exists():
        raise ValueError(f"{p} does not exist; run `make mi-bench` (or benchmarks/bench_mi.py) first")
    data = json.loads(p.read_text())
    data["summary"] = summary(data["rows"])
    return data


@experiment("mi_benchmark", title="estimate_mi on a known-MI suite (Gaussians, transforms, Student-t)", order=12)
def mi_benchmark(profile: str | None = None, **overrides) -> ExperimentResult:
    s = MiBenchSettings.from_profile(profile, **overrides)
    # the task names too: "quick"/"suite" name lists that can change (uaelab.mi.tasks.QUICK, SUITE)
    config = {"mi_benchmark": s.to_dict(), "estimate_mi": VERSION, "tasks": [t.name for t in task_list(s.tasks)]}
    rows = cached("mi_benchmark", config, lambda: run_ours(task_list(s.tasks), s.n, s.seeds, steps=s.steps))
    summ = summary(rows)
    return ExperimentResult(
        "mi_benchmark", config, tables={"summary": summ, "estimates": wide(summ)},
        figures={"estimate_vs_truth": figure(summ)},
        notes="Points on the y = x line are exact. The band the issue asks for is max(0.05 nats, 10%) "
              "up to 2 nats; above that every estimator falls below the truth (see estimate_mi's "
              "docstring). benchmarks/bench_mi.py adds torch-mist's MINE, SMILE and InfoNCE.",
    )
