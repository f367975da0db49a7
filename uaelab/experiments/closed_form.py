"""Notebook 01, section 3: what per-sample MINE measures in random-sampling mode.

With Gaussian projections the K pairs of one sample are i.i.d. Gaussian pairs whose coordinate
correlation is ρ = cos(x, x'), so the quantity per-sample MINE estimates has a closed form,
I = -(m/2)·log(1 - ρ²) (:func:`uaelab.mi.mine.closed_form_mi`). This module compares the two:

* :func:`mine_vs_closed_form` - per-sample MINE at the released K and m against the closed form
  over noise levels; the DV estimate saturates far below the truth for attack-sized δ (a DV
  bound over K shuffled pairs cannot certify much more than log K);
* :func:`contrast_demo` - an image, a noisy copy and a contrast-changed copy αx, titled with the
  closed-form MI: MI is blind to contrast (ρ = 1 for any α > 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from uaelab.config import Settings, register
from uaelab.experiments import ExperimentResult, cached, experiment
from uaelab.experiments.classifier_setup import load_data
from uaelab.experiments.mine_gaussians import noisy_copy, per_sample_mi
from uaelab.mi.mine import MineSettings, closed_form_mi
from uaelab.viz.plotting import Figure, image_grid, new_figure

FLOOR = 1e-6  # cap on 1 - ρ² for the plots: ρ = 1 (the image itself, αx) is infinite MI


@register("mine_closed_form")
@dataclass(frozen=True)
class ClosedFormSettings(Settings):
    """Per-sample MINE (random sampling) against the closed form, over noise levels."""

    n_images: int = 4  # test images averaged over
    sigmas: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # noise std of x' = clip(x + σ·N)
    contrast: float = 0.5  # one more condition: x' = contrast·x (ρ = 1)
    K: int = 500  # projected vectors per sample (released)
    m: int = 128  # dimension of each projected vector (released)
    hidden: tuple[int, ...] = (512, 10)  # statistics-network branch widths (released)
    steps: int = 400  # Adam steps of each per-sample network (the attack takes 20 per iteration)
    lr: float = 5e-4  # larger than the attack's 1.5e-5 so that MINE converges here
    evals: int = 5  # DV values (fresh shuffles) averaged per estimate
    seed: int = 0  # noise, projection and networks

    # quick: two images, fewer steps (the curves are the same shape)
    PROFILES = {"quick": {"n_images": 2, "steps": 300}}

    def validate(self) -> None:
        if self.n_images < 1 or not self.sigmas or min(self.sigmas) <= 0 or self.contrast <= 0:
            raise ValueError("mine_closed_form needs n_images >= 1, sigmas > 0 and contrast > 0")


def conditions(x: torch.Tensor, s: ClosedFormSettings) -> tuple[list[str], torch.Tensor, list[float]]:
    """(names, x' stacked [len(names)·n, ...], σ per condition (NaN for the contrast copy))."""
    names = [f"σ={sg:g}" for sg in s.sigmas] + [f"{s.contrast:g}·x"]
    others = [noisy_copy(x, sg, s.seed) for sg in s.sigmas] + [s.contrast * x]
    return names, torch.cat(others), list(s.sigmas) + [float("nan")]


def closed_form_table(s: ClosedFormSettings, x: torch.Tensor) -> pd.DataFrame:
    """One row per (condition, image): cos, closed-form MI (nats, capped at 1 - ρ² >= FLOOR),
    the per-sample MINE estimate at (K, m) and log K."""
    names, xb, sig = conditions(x, s)
    n = len(x)
    xa = x.repeat(len(names), 1, 1, 1)
    ms = MineSettings(K=s.K, m=s.m)
    mine = per_sample_mi(xa, xb, "random", steps=s.steps, lr=s.lr, seed=s.seed, evals=s.evals,
                         hidden=s.hidden, mine_settings=ms)
    cos = F.cosine_similarity(xa.flatten(1), xb.flatten(1))
    idx = pd.MultiIndex.from_product([names, range(n)], names=["condition", "image"])
    return pd.DataFrame({"sigma": np.repeat(sig, n), "cos": cos.numpy(),
                         "closed_form": closed_form_mi(xa, xb, s.m, floor=FLOOR).numpy(),
                         "mine": mine.numpy(), "log_K": math.log(s.K)}, index=idx)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean per condition, in the table's order; ``ratio`` = MINE / closed form."""
    order = list(dict.fromkeys(frame.index.get_level_values("condition")))
    out = frame.groupby(level="condition", sort=False).mean().loc[order]
    out["ratio"] = out["mine"] / out["closed_form"]
    return out


def figure(frame: pd.DataFrame, K: int, m: int) -> Figure:
    """MI against σ on log axes: the closed form, the MINE estimate (±std) and log K."""
    fig = new_figure(figsize=(6, 3.6))
    ax = fig.subplots()
    noisy = frame[frame["sigma"].notna()]
    g = noisy.groupby("sigma")
    ax.plot(g["closed_form"].mean().index, g["closed_form"].mean().values, "k-o", label=f"closed form, m = {m}")
    est = g["mine"]
    ax.errorbar(est.mean().index, est.mean().clip(lower=1e-3).values, yerr=est.std(ddof=0).values, fmt="s--",
                color="tab:blue", capsize=3, label=f"per-sample MINE, K = {K}")
    ax.axhline(math.log(K), color="gray", ls=":", label="log K")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("noise σ of x' = clip(x + σ·N(0, 1))")
    ax.set_ylabel("I(x; x') [nats]")
    ax.set_title("What random-sampling MINE estimates")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


@experiment("mine_closed_form", title="Per-sample MINE vs its closed form -(m/2)log(1-cos²)", order=12)
def mine_vs_closed_form(profile: str | None = None, **overrides) -> ExperimentResult:
    s = ClosedFormSettings.from_profile(profile, **overrides)
    data = load_data(profile)
    x = data.x_test[: s.n_images]
    config = {"mine_closed_form": s.to_dict(), "data": data.fingerprint()}
    frame = cached("mine_closed_form", config, lambda: closed_form_table(s, x))
    return ExperimentResult(
        "mine_closed_form", config, tables={"summary": summary(frame), "per_image": frame},
        figures={"mi_vs_sigma": figure(frame, s.K, s.m)},
        notes="Closed form: I = -(m/2)·log(1 - cos²(x, x')), capped where 1 - cos² < 1e-6 (the contrast copy "
              "has cos = 1: infinite MI). The DV estimate over K pairs saturates near log K, so for small "
              "perturbations it is far below the truth and carries little information about δ.",
    )


def contrast_demo(sigma: float = 0.1, contrast: float = 0.5, m: int = 128, index: int = 0,
                  profile: str | None = None, seed: int = 0) -> Figure:
    """One test image, its noisy copy and its contrast-scaled copy, titled with cos and the
    closed-form MI (m-dimensional projections)."""
    if not 0 < contrast <= 1:
        raise ValueError(f"contrast must lie in (0, 1] (x' = contrast·x stays in [0, 1]), got {contrast}")
    x = load_data(profile).x_test[index:index + 1]
    xs = torch.cat([x, noisy_copy(x, sigma, seed), contrast * x])
    base = x.expand_as(xs)
    cos = F.cosine_similarity(base.flatten(1), xs.flatten(1))
    mi = closed_form_mi(base, xs, m, floor=FLOOR)
    fmt = lambda v: f"{v:.1f}" if v < -0.5 * m * math.log(FLOOR) - 1e-3 else "∞ (capped)"  # noqa: E731
    titles = [f"itself\nI = {fmt(mi[0])}", f"σ = {sigma:g}: cos {cos[1]:.3f}\nI = {fmt(mi[1])}",
              f"{contrast:g}·x: cos {cos[2]:.3f}\nI = {fmt(mi[2])}"]
    return image_grid(xs, nrow=3, col_titles=titles, scale=1.5, title=f"closed-form MI, m = {m}")
