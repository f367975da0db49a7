"""Notebook 05 / paper Table 2 and Figure 1: FID and KID of MINE-based adversarial examples.

Untargeted supervised MinMax attacks with ε = 1 are made with the two per-sample MINE modes:
random sampling (several runs with different seeds: mean ± std) and the first conv layer's
output. FID and KID (torch-fidelity) compare each set of adversarial examples with the
training data; lower is closer to the data. The feature extractor is named in every row:
Inception where its weights are available, otherwise a uaelab classifier trained on the same
data (an offline stand-in whose numbers are not comparable with Inception FID/KID).
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import torch

from uaelab.attacks import attack_config
from uaelab.config import Settings, register
from uaelab.evaluate.fidelity import FidelitySettings, fid_kid
from uaelab.experiments import ExperimentResult, cached, experiment, read_result
from uaelab.experiments.classifier_setup import classifier_for, correct_samples, load_data, make_mine_attack, slim
from uaelab.experiments.supervised import ABLATIONS
from uaelab.utils import repo_root
from uaelab.viz.plotting import Figure, image_grid, perturbation_grid

# Table 2 of the paper (CIFAR-10, 1000 test samples, Inception features).
PAPER_TABLE2 = pd.DataFrame(
    {"method": ["random", "conv"], "paper_fid": [339.47, 344.231], "paper_fid_std": [8.07, np.nan],
     "paper_kid": [14.86, 10.78], "paper_kid_std": [1.45, np.nan]}).set_index("method")


@register("fid_kid")
@dataclass(frozen=True)
class FidKidSettings(Settings):
    """Table 2 / Figure 1: image quality of random-sampling vs conv per-sample MINE attacks."""

    n_samples: int = 1000  # correctly classified test samples attacked
    T: int = 40  # MinMax iterations (the paper's default)
    random_runs: int = 10  # random-sampling runs (seeds 0..runs-1), reported as mean ± std
    K: int = 96  # random sampling: projected vectors per sample (the paper's Table 2 value)
    n_reference: Optional[int] = None  # training samples FID/KID compare against (None: all)
    extractor_seed: int = 1  # training seed of the offline extractor's classifier (≠ the attacked one)
    n_show: int = 8  # samples in the visual comparison
    seed: int = 0  # seed of the conv run and of the first random run

    PROFILES = {"quick": {"n_samples": 32, "T": 40, "random_runs": 3, "n_reference": 500}}

    def validate(self) -> None:
        if self.n_samples < 2 or self.T < 1 or self.random_runs < 1 or self.K < 2:
            raise ValueError("fid_kid needs n_samples >= 2, T >= 1, random_runs >= 1, K >= 2")
        if self.n_reference is not None and self.n_reference < 2:
            raise ValueError("fid_kid.n_reference must be >= 2 or None")


def make_examples(model, x, y, idx, s: FidKidSettings, profile) -> dict:
    """{"random": [result dict per run], "conv": result dict}."""
    common = {"T": s.T, "epsilon": 1.0}
    runs = []
    for r in range(s.random_runs):
        a = make_mine_attack("mine-sup", model, profile, attack=common, mine={"sampler": "random", "K": s.K},
                             seed=s.seed + r)
        runs.append(slim(a(x, y, indices=idx)))
    conv = make_mine_attack("mine-sup", model, profile, attack=common, mine={"sampler": "conv"}, seed=s.seed)
    return {"random": runs, "conv": slim(conv(x, y, indices=idx))}


def scores(examples: dict, x_clean: torch.Tensor, x_ref: torch.Tensor, fs: FidelitySettings,
           extractor_model) -> pd.DataFrame:
    """One row per set (each random run, conv, clean test samples) with FID, KID, extractor."""
    rows = []
    sets = [("random", r, e["x_adv"], e["success"]) for r, e in enumerate(examples["random"])]
    sets.append(("conv", 0, examples["conv"]["x_adv"], examples["conv"]["success"]))
    sets.append(("clean test samples", 0, x_clean, torch.ones(len(x_clean), dtype=torch.bool)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the KID subset-size message is kept in the table
        for method, run, xa, ok in sets:
            res = fid_kid(xa, x_ref, fs, classifier=extractor_model)
            rows.append({"method": method, "run": run, "asr": float(ok.float().mean()), "fid": res["fid"],
                         "kid": res["kid_mean"], "extractor": res["extractor_name"],
                         "kid_subset_size": res["kid_subset_size"], "message": res["message"],
                         "extractor_description": res["extractor"]})
    return pd.DataFrame(rows)


def table2(per_run: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over runs per method, beside the paper's Table 2 (CIFAR-10, Inception)."""
    g = per_run.groupby("method", sort=False)
    out = pd.DataFrame({
        "runs": g.size(), "asr": g["asr"].mean(),
        "fid": g["fid"].mean(), "fid_std": g["fid"].std(ddof=0),
        "kid": g["kid"].mean(), "kid_std": g["kid"].std(ddof=0),
        "extractor": g["extractor"].first(), "kid_subset_size": g["kid_subset_size"].first(),
    })
    return out.join(PAPER_TABLE2, how="left")


def figure1(x: torch.Tensor, examples: dict, n: int) -> Figure:
    n = min(n, len(x))
    rnd, conv = examples["random"][0], examples["conv"]
    rows = torch.stack([x[:n], rnd["x_adv"][:n], conv["x_adv"][:n]])
    crosses = torch.stack([torch.zeros(n, dtype=torch.bool), ~rnd["success"][:n], ~conv["success"][:n]])
    return image_grid(rows, row_titles=["original", "random sampling", "1st conv layer"], crosses=crosses,
                      title="MINE-based untargeted adversarial examples, ε = 1")


def run(profile: str | None = None, fidelity: FidelitySettings | None = None, **overrides):
    s = FidKidSettings.from_profile(profile, **overrides)
    fs = fidelity or FidelitySettings.from_profile(profile)
    data = load_data(profile)
    model, model_info = classifier_for(data, profile)
    x, y, idx = correct_samples(model, data.x_test, data.y_test, s.n_samples)
    probe = make_mine_attack("mine-sup", model, profile, attack={"T": s.T}, seed=s.seed)
    config = {"fid_kid": s.to_dict(), "data": data.fingerprint(), "model": model_info, "attack": attack_config(probe)}
    examples = cached("table2_examples", config, lambda: make_examples(model, x, y, idx, s, profile))
    extractor_model, ext_info = classifier_for(data, profile, seed=s.extractor_seed)
    ref = data.x_train if s.n_reference is None else data.x_train[: s.n_reference]
    score_cfg = {**config, "fidelity": fs.to_dict(), "extractor_model": ext_info}
    per_run = cached("table2_scores", score_cfg, lambda: scores(examples, x, ref, fs, extractor_model))
    return s, {**score_cfg}, x, examples, per_run


@experiment("table2_fid_kid", title="Table 2 and Figure 1: FID/KID of random-sampling vs conv MINE attacks", order=50)
def table2_fid_kid(profile: str | None = None, fidelity: FidelitySettings | None = None,
                   **overrides) -> ExperimentResult:
    """``fidelity`` picks the feature extractor (default: the profile's FidelitySettings)."""
    s, config, x, examples, per_run = run(profile, fidelity, **overrides)
    desc = per_run["extractor_description"].iloc[0]
    msg = per_run["message"].iloc[0]
    return ExperimentResult(
        "table2_fid_kid", config,
        tables={"table2": table2(per_run), "per_run": per_run.drop(columns=["extractor_description"])},
        figures={"fig1_visual_comparison": figure1(x, examples, s.n_show)},
        notes=f"Feature extractor: {desc}. {msg + '. ' if msg else ''}"
              "Lower FID/KID = closer to the training data. The paper (CIFAR-10, Inception) finds the two "
              "modes comparable, with conv lower on KID.",
    )


CONTROLS = ("MINE, untrained (steps=0)", "no MI term")


def control_examples(profile: str | None = None, fidelity: FidelitySettings | None = None,
                     controls: tuple[str, ...] = CONTROLS, **overrides):
    """(x, {name: result dict}, context) for Table 2's first random-sampling run ("random sampling,
    MINE") and the same attack with each MI control (keys of ``supervised.ABLATIONS``), cached."""
    unknown = [c for c in controls if c not in ABLATIONS]
    if unknown:
        raise ValueError(f"unknown MI control(s) {unknown}; choose from {', '.join(ABLATIONS)}")
    s, config, x, examples, per_run = run(profile, fidelity, **overrides)
    data = load_data(profile)
    model, _ = classifier_for(data, profile)
    _, y, idx = correct_samples(model, data.x_test, data.y_test, s.n_samples)
    def attack(mi):
        method, mine = ABLATIONS[mi]
        return slim(make_mine_attack(method, model, profile, attack={"T": s.T, "epsilon": 1.0},
                                     mine={"sampler": "random", "K": s.K, **mine}, seed=s.seed)(x, y, indices=idx))

    sets = {"random sampling, MINE": examples["random"][0]}
    sets.update({mi: cached("table2_control_examples", {**config, "mi": mi}, lambda mi=mi: attack(mi))
                 for mi in controls})
    return x, sets, {"settings": s, "config": config, "per_run": per_run, "data": data}


def fid_kid_controls(profile: str | None = None, fidelity: FidelitySettings | None = None,
                     controls: tuple[str, ...] = CONTROLS, **overrides) -> ExperimentResult:
    """Table 2's random-sampling attack (first run) beside the same attack with the MI term switched
    off (``controls``: keys of ``supervised.ABLATIONS``), scored with the same extractor and
    reference set (cached). Table ``controls``: asr, fid, kid, mean_linf, max_diff_vs_mine per row,
    and the clean test samples; figure ``perturbations``: the examples and their δ on one scale."""
    x, sets, ctx = control_examples(profile, fidelity, controls, **overrides)
    s, config, per_run, data = ctx["settings"], ctx["config"], ctx["per_run"], ctx["data"]
    fs = fidelity or FidelitySettings.from_profile(profile)
    extractor_model, _ = classifier_for(data, profile, seed=s.extractor_seed)
    ref = data.x_train if s.n_reference is None else data.x_train[: s.n_reference]
    mine = sets["random sampling, MINE"]["x_adv"]

    def score(e):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            res = fid_kid(e["x_adv"], ref, fs, classifier=extractor_model)
        return {"asr": float(e["success"].float().mean()), "fid": res["fid"], "kid": res["kid_mean"],
                "mean_linf": float((e["x_adv"] - x).flatten(1).abs().amax(1).mean()),
                "max_diff_vs_mine": float((e["x_adv"] - mine).abs().max()), "extractor": res["extractor_name"]}

    rows = {name: cached("table2_control_scores", {**config, "set": name}, lambda e=e: score(e))
            for name, e in sets.items()}
    clean = per_run[per_run["method"] == "clean test samples"].iloc[0]
    rows["clean test samples"] = {"asr": float("nan"), "fid": clean["fid"], "kid": clean["kid"], "mean_linf": 0.0,
                                  "max_diff_vs_mine": float("nan"), "extractor": clean["extractor"]}
    table = pd.DataFrame(rows).T.rename_axis(index="examples")
    for col in ("asr", "fid", "kid", "mean_linf", "max_diff_vs_mine"):
        table[col] = table[col].astype(float)
    fig = perturbation_grid(x, {name: (e["x_adv"], e["success"]) for name, e in sets.items()}, n=s.n_show,
                            title="MINE vs its controls: examples and δ on one scale")
    return ExperimentResult("table2_fid_kid_controls", {**config, "controls": list(controls)},
                            tables={"controls": table}, figures={"perturbations": fig},
                            notes="If the controls' FID/KID and images match MINE's, the MI term did not make the "
                                  "examples more (or less) realistic.")


def control_demo(examples: str = "random sampling, MINE", n: int = 6, profile: str | None = None) -> Figure:
    """The widget of notebook 05: one row of :func:`control_examples` and its δ on a fixed scale
    (±0.5, so switching rows compares sizes)."""
    x, sets, _ = control_examples(profile)
    if examples not in sets:
        raise ValueError(f"examples must be one of {list(sets)}, got {examples!r}")
    e = sets[examples]
    return perturbation_grid(x, {examples: (e["x_adv"], e["success"])}, n=n, vmax=0.5, scale=0.8,
                             title=f"{examples}: success {float(e['success'].float().mean()):.2f}, mean L∞ "
                                   f"{float((e['x_adv'] - x).flatten(1).abs().amax(1).mean()):.3f}")


def real_table2(root: str | None = None) -> dict | None:
    """The committed real-MNIST Table 2 (``benchmarks/real_table2.py``): "table" (FID/KID per
    method beside the paper's), "tests" (paired KID tests with verdicts), "runs" (one line per
    set), "config" (settings, command, wall time, deviations) and "figure" (path of the example
    grid); None when it has not been run."""
    out = read_result("table2_mnist", ("table", "tests", "runs"), results_dir=root)
    if out is None:
        return None
    base = Path(root) if root else repo_root() / "results" / "real"
    out["config"] = json.loads((base / "table2_mnist_config.json").read_text())
    out["figure"] = base.parent.parent / "figures" / "real" / "table2_mnist_examples.png"
    return out
