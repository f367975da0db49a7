"""Notebook 04 / paper Table 3 and Figure 2: MinMax vs the penalty method with binary search.

Both solve the same untargeted supervised problem (maximise per-sample MINE subject to
misclassification) with the same total number of iterations: MinMax runs ``budget``
iterations and adapts c on the fly; the penalty method splits the budget into
``binary_steps`` restarts with a fixed c each, c tuned by a per-sample binary search.
Table 3 reports the attack success rate (ASR) and the mean MI of the returned examples;
Figure 2 the MI against the iteration (mean ± std over samples).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
import torch

from uaelab.attacks import attack_config
from uaelab.config import Settings, register
from uaelab.experiments import ExperimentResult, cached, experiment
from uaelab.experiments.classifier_setup import classifier_for, correct_samples, load_data, make_mine_attack, slim
from uaelab.paper import TABLE3
from uaelab.viz.plotting import Figure, new_figure

# Table 3 of the paper (1000 samples, T = 9000, 9 binary-search steps); ASR as fractions.
# A view of uaelab.paper.TABLE3 (the one place the paper's numbers are held).
PAPER_TABLE3 = pd.DataFrame(
    [{"dataset": dataset, "method": method, "paper_asr": r.asr, "paper_mi": r.mi}
     for dataset, methods in TABLE3.items() for method, r in methods.items()]).set_index(["dataset", "method"])


@register("minmax_vs_penalty")
@dataclass(frozen=True)
class MinMaxVsPenaltySettings(Settings):
    """Table 3 / Figure 2: equal iteration budgets for MinMax and penalty + binary search."""

    n_samples: int = 1000  # correctly classified test samples
    budget: int = 9000  # total iterations for each method
    binary_steps: int = 9  # penalty: binary-search steps (budget / binary_steps iterations each)
    sampler: str = "conv"  # per-sample MINE mode for both methods
    c0: float = 1e-3  # penalty: initial c of the binary search (Carlini–Wagner's)
    # MINE Adam steps per attack iteration; None = the released code's (MinMax 1, penalty 20)
    mine_steps_minmax: Optional[int] = None
    mine_steps_penalty: Optional[int] = None
    # also run the penalty method with MinMax's MINE steps per iteration (equal MINE training)
    equal_mine_variant: bool = True
    seed: int = 0  # seeds MINE networks, shuffles and projections

    # quick: c0 = 1 because 3 binary-search steps (×10 each) from 1e-3 never reach a working c
    PROFILES = {"quick": {"n_samples": 16, "budget": 120, "binary_steps": 3, "sampler": "random", "c0": 1.0}}

    def validate(self) -> None:
        if self.n_samples < 1 or self.binary_steps < 1 or self.budget < self.binary_steps:
            raise ValueError("minmax_vs_penalty needs n_samples >= 1 and budget >= binary_steps >= 1")
        if self.budget % self.binary_steps:
            raise ValueError(f"minmax_vs_penalty.budget ({self.budget}) must be a multiple of binary_steps "
                             f"({self.binary_steps}) so that both methods get the same iterations")
        if self.sampler not in ("random", "conv"):
            raise ValueError("minmax_vs_penalty.sampler must be 'random' or 'conv'")


def compare(model, x, y, idx, s: MinMaxVsPenaltySettings, profile) -> dict:
    """{"minmax": result dict, "penalty": result dict}; histories are budget × samples."""
    mm, pen = attacks(model, s, profile)
    return {"minmax": slim(mm(x, y, indices=idx)), "penalty": slim(pen(x, y, indices=idx))}


def attacks(model, s: MinMaxVsPenaltySettings, profile):
    """The two configured attacks (MinMax, Penalty) for settings ``s``."""
    mine_mm = {"steps": s.mine_steps_minmax} if s.mine_steps_minmax is not None else {}
    mine_pen = {"steps": s.mine_steps_penalty} if s.mine_steps_penalty is not None else {}
    mm = make_mine_attack("mine-sup", model, profile, attack={"T": s.budget},
                          mine={"sampler": s.sampler, **mine_mm}, seed=s.seed)
    pen = make_mine_attack("penalty", model, profile,
                           attack={"T": s.budget // s.binary_steps, "binary_steps": s.binary_steps, "c0": s.c0},
                           mine={"sampler": s.sampler, **mine_pen}, seed=s.seed)
    return mm, pen


def table3(results: dict, dataset: str, mine_steps: dict | None = None) -> pd.DataFrame:
    """Measured ASR and mean MI per method, beside the paper's numbers (those of ``dataset``
    when the paper has them, else MNIST's, named in the ``paper_dataset`` column)."""
    ref = dataset if (dataset, "minmax") in PAPER_TABLE3.index else "mnist"
    rows = []
    for method in ("penalty", "minmax"):
        r = results[method]
        ok = r["success"]
        paper = PAPER_TABLE3.loc[(ref, method)]
        rows.append({
            "method": method,
            "asr": float(ok.float().mean()),
            "mean_mi": float(r["mi_best"][ok].mean()) if ok.any() else float("nan"),
            "paper_asr": float(paper["paper_asr"]),
            "paper_mi": float(paper["paper_mi"]),
            "paper_dataset": ref,
        })
        if mine_steps:
            rows[-1]["mine_steps_per_iteration"] = mine_steps[method]
    return pd.DataFrame(rows).set_index("method")


def best_so_far(history: dict) -> torch.Tensor:
    """[T, B]: the largest MI among successful iterates up to each iteration (NaN before the first)."""
    mi = torch.where(history["success"].bool(), history["mi"], torch.full_like(history["mi"], float("-inf")))
    best = torch.cummax(mi, dim=0).values
    return torch.where(torch.isinf(best), torch.full_like(best, float("nan")), best)


def mi_curves(results: dict) -> pd.DataFrame:
    """Long table: iteration, method, series ("current" or "best"), mean, std over samples."""
    rows = []
    for method, r in results.items():
        for series, values in (("current", r["history"]["mi"]), ("best", best_so_far(r["history"]))):
            v = values.double().numpy()
            with np.errstate(all="ignore"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean, std = np.nanmean(v, axis=1), np.nanstd(v, axis=1)
            rows.append(pd.DataFrame({"iteration": np.arange(1, len(v) + 1), "method": method,
                                      "series": series, "mean": mean, "std": std}))
    return pd.concat(rows, ignore_index=True)


def figure2(curves: pd.DataFrame, binary_steps: int, title: str = "") -> Figure:
    fig = new_figure(figsize=(9, 3.4))
    axes = fig.subplots(1, 2, sharey=True)
    colors = {"minmax": "tab:red", "penalty": "tab:blue"}
    labels = {"current": "MI of the current iterate", "best": "best successful MI so far (what is returned)"}
    for ax, series in zip(axes, ("current", "best")):
        for method in ("minmax", "penalty"):
            c = curves[(curves.method == method) & (curves.series == series)]
            ax.plot(c.iteration, c["mean"], color=colors[method], label=method)
            ax.fill_between(c.iteration, c["mean"] - c["std"], c["mean"] + c["std"], color=colors[method], alpha=0.2)
        T = int(curves.iteration.max())
        for k in range(1, binary_steps):
            ax.axvline(k * T / binary_steps, color="gray", lw=0.5, ls=":")
        ax.set_title(labels[series], fontsize="medium")
        ax.set_xlabel("attack iteration")
    axes[0].set_ylabel("per-sample MI (mean ± std)")
    axes[0].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def run(profile: str | None = None, **overrides):
    s = MinMaxVsPenaltySettings.from_profile(profile, **overrides)
    data = load_data(profile)
    model, model_info = classifier_for(data, profile)
    x, y, idx = correct_samples(model, data.x_test, data.y_test, s.n_samples)
    mm, pen = attacks(model, s, profile)
    key = {k: v for k, v in s.to_dict().items() if k != "equal_mine_variant"}  # does not change results
    config = {"minmax_vs_penalty": key, "data": data.fingerprint(), "model": model_info,
              "minmax": attack_config(mm), "penalty": attack_config(pen)}
    results = cached("table3_minmax_vs_penalty", config, lambda: compare(model, x, y, idx, s, profile))
    steps = {"minmax": mm.mine_settings.steps, "penalty": pen.mine_settings.steps}
    return s, config, data.name, results, steps


@experiment("table3_minmax_vs_penalty", title="Table 3 and Figure 2: MinMax vs penalty (binary search), equal budget",
            order=40)
def table3_minmax_vs_penalty(profile: str | None = None, **overrides) -> ExperimentResult:
    s, config, dataset, results, steps = run(profile, **overrides)
    curves = mi_curves(results)
    title = f"{dataset}: {s.n_samples} samples, {s.budget} iterations ({s.binary_steps} binary-search steps)"
    tables = {"table3": table3(results, dataset, steps), "fig2_curves": curves}
    figures = {"fig2_mi_vs_iteration": figure2(curves, s.binary_steps, title)}
    if s.equal_mine_variant and steps["penalty"] != steps["minmax"]:
        # the released code trains MINE 20× per penalty iteration but once per MinMax iteration;
        # this variant gives the penalty method MinMax's MINE steps, so only the c strategy differs
        eq = {k: v for k, v in overrides.items() if k != "mine_steps_penalty"}
        equal = {**eq, "mine_steps_penalty": steps["minmax"], "equal_mine_variant": False}
        s2, _, _, res2, steps2 = run(profile, **equal)
        tables["table3_equal_mine_steps"] = table3(res2, dataset, steps2)
        figures["fig2_equal_mine_steps"] = figure2(mi_curves(res2), s2.binary_steps,
                                                   title + f", {steps['minmax']} MINE step(s) per iteration for both")
    return ExperimentResult(
        "table3_minmax_vs_penalty", config, tables=tables, figures=figures,
        notes="The paper's claim: at equal iterations MinMax reaches a higher MI than the penalty method, "
              "which restarts δ and MINE at every binary-search step (dotted lines) and so never trains "
              "its MINE networks for long. Absolute MI values depend on the budget: compare the methods, "
              "not the numbers, when the budget is reduced.",
    )
