"""Notebook 01: MINE against the closed form, and per-sample MINE of one image.

Two experiments:

* ``mine_gaussians`` - MINE (the Donsker–Varadhan bound, :func:`uaelab.mi.mine.estimate_mi`) on
  d-dimensional Gaussians whose coordinates have correlation ρ, against the exact
  I = -d/2 · log(1 - ρ²).
* ``mine_per_sample`` - per-sample MINE (Section 3.1) of an image against itself, against noisy
  copies x + σ·N(0, 1) (clipped to [0, 1]) of growing σ, and against another image, with the
  random-sampling and the conv (first conv layer of a trained classifier) modes side by side.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from uaelab.config import Settings, register
from uaelab.experiments import ExperimentResult, cached, experiment
from uaelab.experiments.classifier_setup import classifier_for, load_data
from uaelab.mi.estimator import VERSION
from uaelab.mi.mine import MineSettings, PerSampleMINE, estimate_mi
from uaelab.utils import check_unit_interval, generator
from uaelab.viz.plotting import Figure, image_grid, new_figure


# -- correlated Gaussians ---------------------------------------------------------------------
@register("mine_gaussians")
@dataclass(frozen=True)
class GaussianMineSettings(Settings):
    """MINE on correlated Gaussians (the MINE paper's first sanity check)."""

    rhos: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99)  # correlations to try
    dim: int = 20  # dimension d of each variable (coordinate i of a correlates with i of b)
    n: int = 2000  # number of paired samples
    steps: int = 3000  # Adam steps of the statistics network
    lr: float = 1e-3  # Adam learning rate (this estimator must converge, unlike the attack's)
    seed: int = 0  # seeds the samples and the network

    PROFILES = {"quick": {"rhos": (0.0, 0.3, 0.6, 0.8, 0.9), "dim": 2, "n": 512, "steps": 400}}

    def validate(self) -> None:
        if not self.rhos or any(not -1 < r < 1 for r in self.rhos):
            raise ValueError(f"mine_gaussians.rhos must be non-empty values in (-1, 1), got {self.rhos}")
        if self.dim < 1 or self.n < 2 or self.steps < 0:
            raise ValueError("mine_gaussians needs dim >= 1, n >= 2 and steps >= 0")


def true_gaussian_mi(rho: float, dim: int = 1) -> float:
    """Exact I(a; b) in nats when each of the ``dim`` coordinate pairs has correlation ``rho``."""
    if not -1 < rho < 1:
        raise ValueError(f"rho must lie in (-1, 1), got {rho}")
    return -0.5 * dim * math.log1p(-rho * rho)


def correlated_gaussians(rho: float, dim: int, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n pairs (a, b), a, b ∈ R^dim standard normal, corr(a_i, b_i) = rho, others independent."""
    g = generator(seed, "gaussians", rho, dim, n)
    a = torch.randn(n, dim, generator=g)
    noise = torch.randn(n, dim, generator=g)
    return a, rho * a + math.sqrt(1 - rho * rho) * noise


def gaussian_point(rho: float, dim: int = 2, n: int = 512, steps: int = 400, lr: float = 1e-3,
                   seed: int = 0) -> dict[str, float]:
    """One MINE estimate against the truth: ``{"rho", "true", "mine"}`` (nats)."""
    a, b = correlated_gaussians(rho, dim, n, seed)
    est = estimate_mi(a, b, steps=steps, lr=lr, seed=seed)
    return {"rho": rho, "true": true_gaussian_mi(rho, dim), "mine": est}


def gaussian_table(s: GaussianMineSettings) -> pd.DataFrame:
    """One row per ρ: the true MI and the MINE estimate (nats)."""
    rows = [gaussian_point(r, s.dim, s.n, s.steps, s.lr, s.seed) for r in s.rhos]
    return pd.DataFrame(rows).set_index("rho")


def gaussian_figure(table: pd.DataFrame, dim: int) -> Figure:
    fig = new_figure(figsize=(4.5, 3.2))
    ax = fig.subplots()
    grid = np.linspace(0, max(0.995, float(table.index.max())), 200)
    ax.plot(grid, [true_gaussian_mi(r, dim) for r in grid], "k-", label="closed form")
    ax.plot(table.index, table["mine"], "o--", color="tab:blue", label="MINE estimate")
    ax.set_xlabel("correlation ρ")
    ax.set_ylabel("I(a; b) [nats]")
    ax.set_title(f"MINE vs truth, d = {dim}")
    ax.legend()
    fig.tight_layout()
    return fig


@experiment("mine_gaussians", title="MINE on correlated Gaussians vs the closed form", order=10)
def mine_gaussians(profile: str | None = None, **overrides) -> ExperimentResult:
    s = GaussianMineSettings.from_profile(profile, **overrides)

    config = {"mine_gaussians": s.to_dict(), "estimate_mi": VERSION}
    table = cached("mine_gaussians", config, lambda: gaussian_table(s))
    return ExperimentResult(
        "mine_gaussians", config, tables={"estimates": table},
        figures={"estimate_vs_truth": gaussian_figure(table, s.dim)},
        notes="The DV bound is a lower bound on the true MI, evaluated on held-out pairs the critic was not "
              "trained on, so it does not overfit upwards (independent pairs give about 0). With many "
              "dimensions and high ρ the estimate falls below the truth: a DV bound needs exponentially "
              "many samples for large MI (experiment mi_benchmark measures where it holds).",
    )


# -- per-sample MINE of one image ------------------------------------------------------------
@register("mine_per_sample")
@dataclass(frozen=True)
class PerSampleMineSettings(Settings):
    """Per-sample MINE of images against noisy copies (both sampling modes)."""

    n_images: int = 16  # test images to average over
    sigmas: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8)  # noise levels (0 = itself)
    steps: int = 500  # Adam steps of each per-sample statistics network
    lr: float = 5e-4  # Adam learning rate (larger than the attack's 1.5e-5: MINE must converge here)
    hidden: tuple[int, ...] = (512, 10)  # statistics-network branch widths (the released code's)
    evals: int = 10  # DV values (fresh shuffles) averaged per estimate
    seed: int = 0  # seeds the noise, the projection and the networks

    # quick: narrower networks, because conv mode's 784→512 layer dominates the CPU time
    PROFILES = {"quick": {"n_images": 6, "sigmas": (0.0, 0.1, 0.3, 0.8), "steps": 300, "hidden": (64, 10)}}

    def validate(self) -> None:
        if self.n_images < 1 or self.steps < 1 or not self.sigmas or min(self.sigmas) < 0:
            raise ValueError("mine_per_sample needs n_images >= 1, steps >= 1 and sigmas >= 0")


def noisy_copy(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """x + σ·N(0, 1), clipped to [0, 1] (seeded per call)."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    g = generator(seed, "noise", sigma)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def per_sample_mi(x: torch.Tensor, x_other: torch.Tensor, mode: str = "random", *, model=None,
                  steps: int = 300, lr: float = 5e-4, seed: int = 0, evals: int = 10,
                  hidden: tuple[int, ...] | None = None, mine_settings=None) -> torch.Tensor:
    """Per-sample MINE estimate I(x_i; x_other_i) for each i (nats), one fresh network each.

    x, x_other: float N×C×H×W in [0, 1]. ``mode``: "random" (Gaussian projections) or "conv"
    (channels of ``model.first_conv``; needs ``model``). Returns a float tensor N.
    """
    check_unit_interval(x, "x", ndim=4)
    check_unit_interval(x_other, "x_other", ndim=4)
    if x.shape != x_other.shape:
        raise ValueError(f"x and x_other must have the same shape, got {tuple(x.shape)}, {tuple(x_other.shape)}")
    if mode not in ("random", "conv"):
        raise ValueError(f"mode must be 'random' or 'conv', got {mode!r}")
    if mode == "conv" and model is None:
        raise ValueError("mode='conv' needs model= a classifier with .first_conv")
    ms = mine_settings or MineSettings.from_profile("quick")
    ms = ms.replace(sampler=mode, lr=lr, steps=steps, **({"hidden": tuple(hidden)} if hidden else {}))
    feature = model.first_conv if mode == "conv" else None
    mine = PerSampleMINE(ms, x, seed=seed, feature=feature)
    with torch.no_grad():
        b = mine.features(x_other)
    mine.train(x_other, b)
    # one DV value uses one random shuffle of the K pairs; average a few to cut that noise
    return torch.stack([mine.value(b)[0] for _ in range(evals)]).mean(0)


def per_sample_table(s: PerSampleMineSettings, x: torch.Tensor, model) -> pd.DataFrame:
    """Rows: (condition, image); columns: random, conv (MI in nats)."""
    n = len(x)
    conds = [f"σ={sg:g}" if sg > 0 else "itself" for sg in s.sigmas] + ["other image"]
    others = [noisy_copy(x, sg, s.seed) if sg > 0 else x for sg in s.sigmas] + [x.roll(1, dims=0)]
    xa, xb = x.repeat(len(conds), 1, 1, 1), torch.cat(others)
    out = {}
    for mode in ("random", "conv"):
        out[mode] = per_sample_mi(xa, xb, mode, model=model, steps=s.steps, lr=s.lr, seed=s.seed,
                                  evals=s.evals, hidden=s.hidden).numpy()
    idx = pd.MultiIndex.from_product([conds, range(n)], names=["condition", "image"])
    frame = pd.DataFrame(out, index=idx)
    frame["sigma"] = np.repeat(list(s.sigmas) + [np.nan], n)
    return frame


def per_sample_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over images per condition and mode, in the original condition order."""
    order = list(dict.fromkeys(frame.index.get_level_values("condition")))
    g = frame[["random", "conv"]].groupby(level="condition", sort=False)
    summary = pd.concat({"mean": g.mean(), "std": g.std(ddof=0)}, axis=1).swaplevel(axis=1).sort_index(axis=1)
    return summary.loc[order, ["random", "conv"]]


def per_sample_figure(frame: pd.DataFrame) -> Figure:
    fig = new_figure(figsize=(8, 3.2))
    axes = fig.subplots(1, 2, sharey=False)
    for ax, mode, color in zip(axes, ("random", "conv"), ("tab:blue", "tab:orange")):
        noisy = frame[frame["sigma"].notna()]
        g = noisy.groupby("sigma")[mode]
        m, sd = g.mean(), g.std(ddof=0)
        ax.errorbar(m.index, m.values, yerr=sd.values, fmt="o-", color=color, capsize=3, label="noisy copy")
        other = frame.xs("other image", level="condition")[mode]
        ax.axhline(other.mean(), color="gray", ls="--", label="another image")
        ax.set_xlabel("noise σ (σ = 0: the image itself)")
        ax.set_ylabel("per-sample MI [nats]")
        ax.set_title(f"{mode} mode")
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def noise_demo(sigma: float = 0.2, mode: str = "random", index: int = 0, profile: str | None = None,
               steps: int = 300, seed: int = 0) -> Figure:
    """One test image, its noisy copy at ``sigma`` and another image, titled with per-sample MI."""
    data = load_data(profile)
    model, _ = classifier_for(data, profile)
    x = data.x_test[index:index + 1]
    other = data.x_test[index + 1:index + 2]
    noisy = noisy_copy(x, sigma, seed)
    mi = per_sample_mi(torch.cat([x, x, x]), torch.cat([x, noisy, other]), mode, model=model, steps=steps, seed=seed,
                       hidden=(64, 10))
    titles = [f"itself\nI={mi[0]:.2f}", f"σ={sigma:g}\nI={mi[1]:.2f}", f"another\nI={mi[2]:.2f}"]
    return image_grid(torch.cat([x, noisy, other]), nrow=3, col_titles=titles, scale=1.4,
                      title=f"per-sample MINE ({mode} mode)")


@experiment("mine_per_sample", title="Per-sample MINE of an image vs noisy copies (random and conv modes)", order=11)
def mine_per_sample(profile: str | None = None, **overrides) -> ExperimentResult:
    s = PerSampleMineSettings.from_profile(profile, **overrides)
    data = load_data(profile)
    model, model_info = classifier_for(data, profile)
    x = data.x_test[: s.n_images]
    config = {"mine_per_sample": s.to_dict(), "data": data.fingerprint(), "model": model_info}
    frame = cached("mine_per_sample", config, lambda: per_sample_table(s, x, model))
    return ExperimentResult(
        "mine_per_sample", config,
        tables={"summary": per_sample_summary(frame), "per_image": frame},
        figures={"mi_vs_noise": per_sample_figure(frame)},
        notes="MI should be highest for the image itself, fall as σ grows, and approach the "
              "'another image' level for heavy noise; both modes should order the conditions the same way.",
    )
