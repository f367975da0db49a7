"""Notebook 03 / paper Figure 3: MinMax-MINE vs PGD over the L∞ bound ε.

Rows are samples, columns ε = 0.1 … 1.0. Both attacks are untargeted. PGD (Madry et al.,
100 iterations) only knows the L∞ ball and tends to use all of it; MinMax keeps x' similar to
x by per-sample MINE. An unsuccessful example is marked with a red cross.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from uaelab.attacks import attack_config
from uaelab.config import Settings, register
from uaelab.experiments import ExperimentResult, cached, experiment, read_result
from uaelab.experiments.classifier_setup import classifier_for, correct_samples, load_data, make_mine_attack, slim
from uaelab.experiments.supervised import ABLATIONS
from uaelab.utils import repo_root
from uaelab.viz.plotting import Figure, image_grid, perturbation_grid


@register("eps_sweep")
@dataclass(frozen=True)
class EpsSweepSettings(Settings):
    """Figure 3: the ε sweep."""

    epsilons: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # columns
    samples: tuple[int, ...] = (0, 1, 2, 3, 4)  # rows: positions among the correctly classified test samples
    T: int = 1000  # MinMax iterations
    sampler: str = "conv"  # per-sample MINE mode of MinMax (paper: conv)
    pgd_steps: int = 100  # PGD iterations (paper: 100)
    pgd_alpha: float = 0.01  # PGD step size
    seed: int = 0  # seeds MINE and PGD's random start

    PROFILES = {"quick": {"samples": (0, 1, 2, 3), "T": 100, "sampler": "random"}}

    def validate(self) -> None:
        if not self.epsilons or any(not 0 < e <= 1 for e in self.epsilons):
            raise ValueError(f"eps_sweep.epsilons must lie in (0, 1], got {self.epsilons}")
        if not self.samples or min(self.samples) < 0:
            raise ValueError("eps_sweep.samples must be non-negative positions")
        if self.sampler not in ("random", "conv"):
            raise ValueError("eps_sweep.sampler must be 'random' or 'conv'")


def sweep(model, x, y, idx, s: EpsSweepSettings, profile, preset: str = "paper") -> dict:
    """{method: {eps: result dict}} for "minmax" and "pgd" (``preset``: the attacks' preset)."""
    out: dict = {"minmax": {}, "pgd": {}}
    for eps in tqdm(s.epsilons, desc="ε sweep", leave=False):
        mm = make_mine_attack("mine-sup", model, profile, attack={"T": s.T, "epsilon": eps},
                              mine={"sampler": s.sampler}, seed=s.seed, preset=preset)
        out["minmax"][eps] = slim(mm(x, y, indices=idx))
        pgd = make_mine_attack("pgd", model, profile, attack={"epsilon": eps, "steps": s.pgd_steps,
                                                              "alpha": s.pgd_alpha, "mi_eval_steps": 0},
                               seed=s.seed, preset=preset)
        out["pgd"][eps] = slim(pgd(x, y, indices=idx))
    return out


def success_table(results: dict) -> pd.DataFrame:
    """Rows: method; columns: ε; values: attack success rate (fraction)."""
    return pd.DataFrame({m: {e: float(r["success"].float().mean()) for e, r in per.items()}
                         for m, per in results.items()}).T.rename_axis(index="method", columns="epsilon")


def crosses(results: dict, method: str) -> torch.Tensor:
    """Bool mask [samples, ε]: True where the attack failed (drawn as a red cross)."""
    per = results[method]
    return torch.stack([~per[e]["success"] for e in per], dim=1)


def sweep_figure(results: dict, method: str, title: str) -> Figure:
    per = results[method]
    eps = list(per)
    rows = torch.stack([per[e]["x_adv"] for e in eps], dim=1)  # samples × ε × C×H×W
    return image_grid(rows, row_titles=[f"sample {i}" for i in range(rows.shape[0])],
                      col_titles=[f"ε={e:g}" for e in eps], crosses=crosses(results, method), title=title)


def _samples(profile, s: EpsSweepSettings):
    """The classifier and the sweep's correctly classified test samples."""
    data = load_data(profile)
    model, model_info = classifier_for(data, profile)
    x, y, idx = correct_samples(model, data.x_test, data.y_test, max(s.samples) + 1)
    pick = torch.tensor(s.samples)
    return data, model, model_info, x[pick], y[pick], idx[pick]


def run(profile: str | None = None, **overrides):
    s = EpsSweepSettings.from_profile(profile, **overrides)
    data, model, model_info, x, y, idx = _samples(profile, s)
    probe = make_mine_attack("mine-sup", model, profile, attack={"T": s.T}, mine={"sampler": s.sampler}, seed=s.seed)
    config = {"eps_sweep": s.to_dict(), "data": data.fingerprint(), "model": model_info,
              "attack": attack_config(probe)}
    results = cached("fig3_eps_sweep", config, lambda: sweep(model, x, y, idx, s, profile))
    return s, config, x, results


def control_sweep(model, x, y, idx, s: EpsSweepSettings, profile, mi: str, preset: str = "paper") -> dict:
    """MinMax's sweep with the MI term ``mi`` (a key of ``supervised.ABLATIONS``): {eps: result dict}."""
    method, mine = ABLATIONS[mi]
    out = {}
    for eps in s.epsilons:
        attack = make_mine_attack(method, model, profile, attack={"T": s.T, "epsilon": eps},
                                  mine={"sampler": s.sampler, **mine}, seed=s.seed, preset=preset)
        out[eps] = slim(attack(x, y, indices=idx))
    return out


CONTROLS = ("MINE, untrained (steps=0)", "no MI term")


def eps_sweep_controls(profile: str | None = None, controls: tuple[str, ...] = CONTROLS, show_eps: float = 0.5,
                       **overrides) -> ExperimentResult:
    """Figure 3's MinMax sweep beside the same sweep with the MI term switched off (``controls``:
    keys of ``supervised.ABLATIONS``) and beside PGD, on the same samples (cached).

    Tables: ``mean_linf`` (rows: attack, columns: ε), ``success_rate`` and ``max_diff_vs_mine``,
    the largest per-pixel difference between a control's examples and MINE's at each ε. Figures:
    one sweep grid per control, and ``perturbations``: every attack's examples at ``show_eps`` and
    their δ on one colour scale."""
    unknown = [c for c in controls if c not in ABLATIONS]
    if unknown:
        raise ValueError(f"unknown MI control(s) {unknown}; choose from {', '.join(ABLATIONS)}")
    s, config, x, results = run(profile, **overrides)
    _, model, _, _, y, idx = _samples(profile, s)
    per = {"MinMax, MINE": results["minmax"]}
    for mi in controls:
        per[f"MinMax, {mi}"] = cached("fig3_eps_controls", {**config, "mi": mi},
                                      lambda mi=mi: control_sweep(model, x, y, idx, s, profile, mi))
    per["PGD"] = results["pgd"]
    linf = pd.DataFrame({m: {e: float((r["x_adv"] - x).flatten(1).abs().amax(1).mean()) for e, r in rows.items()}
                         for m, rows in per.items()}).T.rename_axis(index="attack", columns="epsilon")
    diff = pd.DataFrame({m: {e: float((r["x_adv"] - per["MinMax, MINE"][e]["x_adv"]).abs().max())
                             for e, r in rows.items()} for m, rows in per.items() if m != "MinMax, MINE"}
                        ).T.rename_axis(index="attack", columns="epsilon")
    figs = {mi: sweep_figure({"c": per[f"MinMax, {mi}"]}, "c", f"MinMax with {mi} (T={s.T})") for mi in controls}
    if show_eps not in s.epsilons:
        raise ValueError(f"show_eps must be one of the sweep's epsilons {s.epsilons}, got {show_eps}")
    figs["perturbations"] = perturbation_grid(
        x, {m: (rows[show_eps]["x_adv"], rows[show_eps]["success"]) for m, rows in per.items()}, scale=0.8,
        title=f"ε = {show_eps:g}: examples and δ = x' − x on one scale")
    return ExperimentResult(
        "fig3_eps_controls", {**config, "controls": list(controls)},
        tables={"mean_linf": linf, "success_rate": success_table(per), "max_diff_vs_mine": diff},
        figures=figs,
        notes="If MinMax with MINE and MinMax without a (trained) MI term return the same examples, the "
              "levelling-off of MinMax's L∞ is due to the attack's loop (its step size, T and success rule), "
              "not to MINE.",
    )


@experiment("fig3_eps_sweep", title="Figure 3: MinMax-MINE vs PGD over ε (red cross = unsuccessful)", order=30)
def fig3_eps_sweep(profile: str | None = None, **overrides) -> ExperimentResult:
    s, config, x, results = run(profile, **overrides)
    figs = {"minmax": sweep_figure(results, "minmax", f"MinMax attack (MINE, {s.sampler} mode, T={s.T})"),
            "pgd": sweep_figure(results, "pgd", f"PGD attack ({s.pgd_steps} iterations)")}
    l_inf = pd.DataFrame({m: {e: float((r["x_adv"] - x).flatten(1).abs().amax(1).mean()) for e, r in per.items()}
                          for m, per in results.items()}).T.rename_axis(index="method", columns="epsilon")
    return ExperimentResult(
        "fig3_eps_sweep", config, tables={"success_rate": success_table(results), "mean_linf": l_inf},
        figures=figs,
        notes="Look at large ε: PGD spends the whole L∞ budget (grey, noisy backgrounds) while MinMax "
              "changes fewer pixels and keeps the digit's look. Small ε may be too small for either attack "
              "(red crosses).",
    )


def real_fig3(root: str | None = None) -> dict | None:
    """The committed real-MNIST Figure 3 (``benchmarks/real_fig3.py``): "success_rate", "mean_linf",
    "mean_l2" (rows minmax, pgd and the control "minmax, no MI term"; columns ε), "config"
    (settings, command, wall time) and "figures" (paths of the MinMax and PGD grids); None when it
    has not been run."""
    out = read_result("fig3_mnist", ("success_rate", "mean_linf", "mean_l2"), results_dir=root)
    if out is None:
        return None
    base = Path(root) if root else repo_root() / "results" / "real"
    out["config"] = json.loads((base / "fig3_mnist_config.json").read_text())
    for t in ("success_rate", "mean_linf", "mean_l2"):
        out[t] = out[t].set_index("method")
    out["figures"] = {m: base.parent.parent / "figures" / "real" / f"fig3_mnist_{m}.png" for m in ("minmax", "pgd")}
    return out
