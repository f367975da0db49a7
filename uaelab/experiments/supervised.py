"""Notebook 02: the MinMax MINE attack on a classifier, untargeted and targeted.

The attack (Algorithm 1) looks for the x' = x + δ most similar to x by per-sample MINE that
the classifier gets wrong (untargeted: any class but y; targeted: class t). The experiment
reports the attack success rate, the mean MI of the returned examples, and a grid of
original / adversarial / difference images.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from uaelab.attacks import MinMaxSettings, attack_config
from uaelab.config import Settings, register
from uaelab.evaluate.metrics import perturbation_sizes
from uaelab.experiments import ExperimentResult, cached, experiment
from uaelab.experiments.classifier_setup import classifier_for, correct_samples, load_data, make_mine_attack, slim
from uaelab.viz.plotting import Figure, comparison_grid, perturbation_grid


@register("supervised")
@dataclass(frozen=True)
class SupervisedSettings(Settings):
    """The supervised MinMax attack demo (notebook 02).

    ``T`` is this experiment's iteration budget (the paper's supervised runs: 1000), not a second
    default of the solver's: the solver's own default is ``MinMaxSettings.T`` (Algorithm 1's 40),
    and :meth:`attack_values` hands the budget to ``make_attack(attack=...)`` as an int. The
    step sizes, ε and κ take their defaults from ``MinMaxSettings`` (one definition)."""

    n_samples: int = 100  # correctly classified test samples to attack
    T: int = 1000  # this experiment's MinMax iterations (the solver's default: MinMaxSettings.T)
    sampler: str = "conv"  # per-sample MINE mode: "conv" (paper, whenever applicable) or "random"
    epsilon: float = MinMaxSettings.epsilon  # L∞ bound (1 = none)
    kappa: float = MinMaxSettings.kappa  # C&W confidence margin κ
    alpha: float = MinMaxSettings.alpha  # step size on δ
    beta: float = MinMaxSettings.beta  # step size on c
    n_show: int = 8  # samples in the image grid
    seed: int = 0  # seeds MINE networks, shuffles and projections

    PROFILES = {"quick": {"n_samples": 16, "T": 100, "sampler": "random"}}

    def validate(self) -> None:
        if self.sampler not in ("random", "conv"):
            raise ValueError(f"supervised.sampler must be 'random' or 'conv', got {self.sampler!r}")
        if self.n_samples < 1 or self.T < 1 or self.n_show < 1:
            raise ValueError("supervised needs n_samples, T and n_show >= 1")

    def attack_values(self) -> dict[str, Any]:
        """This experiment's values of the MinMax settings (``make_attack(attack=...)``)."""
        return {"T": self.T, "epsilon": self.epsilon, "kappa": self.kappa, "alpha": self.alpha, "beta": self.beta}


# The controls of the MI term, beside the MINE attack (same settings, same samples): the MINE
# networks never trained, the MI term removed, and the exact MI of random-sampling mode.
# name -> (attack method, MINE settings values it changes)
ABLATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "MINE": ("mine-sup", {}),
    "MINE, untrained (steps=0)": ("mine-sup", {"steps": 0}),
    "no MI term": ("no-mi", {}),
    "closed-form MI": ("mine-sup", {"estimator": "closed-form"}),
}


def supervised_attack_for(method: str, model, profile, s: SupervisedSettings, mine: dict[str, Any] | None = None,
                          target=None):
    """The attack ``method`` with the settings ``s`` (typed values all the way to the solver)."""
    return make_mine_attack(method, model, profile, attack=s.attack_values(),
                            mine={"sampler": s.sampler, **(mine or {})}, seed=s.seed, target=target)


def next_class(y: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """The targeted attack's default target: the next class, (y + 1) mod n_classes."""
    return (y + 1) % n_classes


def attack_samples(model, x, y, idx, s: SupervisedSettings, profile, target=None, mi: str = "MINE") -> dict:
    """Run the MinMax attack (untargeted, or towards ``target`` classes) with the MI term ``mi``
    (a key of :data:`ABLATIONS`); a dict of CPU tensors."""
    if mi not in ABLATIONS:
        raise ValueError(f"unknown MI term {mi!r}; choose one of {', '.join(ABLATIONS)}")
    method, mine = ABLATIONS[mi]
    attack = supervised_attack_for(method, model, profile, s, mine, target=target)
    res = attack(x, y, indices=idx)
    out = slim(res)
    with torch.no_grad():
        out["pred"] = model(out["x_adv"]).argmax(1)
    return out


def summary_row(name: str, x: torch.Tensor, out: dict) -> dict:
    ok = out["success"]
    d = (out["x_adv"] - x).flatten(1)
    return {
        "attack": name,
        "samples": int(len(ok)),
        "success_rate": float(ok.float().mean()),
        "mean_mi": float(out["mi_best"][ok].mean()) if ok.any() else float("nan"),
        "mean_linf": float(d.abs().amax(1)[ok].mean()) if ok.any() else float("nan"),
        "mean_l2": float(d.norm(dim=1)[ok].mean()) if ok.any() else float("nan"),
    }


def grid(x: torch.Tensor, out: dict, y: torch.Tensor, n: int, title: str) -> Figure:
    n = min(n, len(x))
    titles = [f"{int(a)}→{int(b)}" for a, b in zip(y[:n], out["pred"][:n])]
    return comparison_grid(x[:n], out["x_adv"][:n], success=out["success"][:n], col_titles=titles, title=title)


def run(profile: str | None = None, **overrides):
    """(settings, config, x, y, untargeted dict, targeted dict) with caching; shared with widgets."""
    s = SupervisedSettings.from_profile(profile, **overrides)
    data = load_data(profile)
    model, model_info = classifier_for(data, profile)
    x, y, idx = correct_samples(model, data.x_test, data.y_test, s.n_samples)
    config = {"supervised": s.to_dict(), "data": data.fingerprint(), "model": model_info,
              "profile_attack": attack_config(supervised_attack_for("mine-sup", model, profile, s))}
    untargeted = cached("supervised_untargeted", config, lambda: attack_samples(model, x, y, idx, s, profile))
    target = next_class(y, data.n_classes)
    targeted = cached("supervised_targeted", config,
                      lambda: attack_samples(model, x, y, idx, s, profile, target=target))
    targeted["target"] = target
    return s, config, x, y, untargeted, targeted


@experiment("supervised_attack", title="Supervised MinMax MINE attack: untargeted and targeted", order=20)
def supervised_attack(profile: str | None = None, **overrides) -> ExperimentResult:
    s, config, x, y, unt, tar = run(profile, **overrides)
    table = pd.DataFrame([summary_row("untargeted", x, unt), summary_row("targeted (y+1)", x, tar)]).set_index("attack")
    figs = {"untargeted": grid(x, unt, y, s.n_show, "untargeted MinMax (title: label→prediction)"),
            "targeted": grid(x, tar, y, s.n_show, "targeted to y+1 (title: label→prediction)")}
    return ExperimentResult(
        "supervised_attack", config, tables={"summary": table}, figures=figs,
        notes="success_rate is the fraction of samples misclassified (as the target, when targeted); "
              "mean_mi is the per-sample MINE estimate of the returned examples (successful ones only). "
              "Targeted attacks are harder: expect a lower success rate or larger perturbations.",
    )


def _ablation_runs(profile: str | None = None, **overrides):
    """(x, {name: result dict}) of the untargeted attack with each of :data:`ABLATIONS` (cached)."""
    # every row samples at random: the closed form exists for that mode only, and one mode for
    # all rows keeps them comparable
    s = SupervisedSettings.from_profile(profile, **{**overrides, "sampler": "random"})
    data = load_data(profile)
    model, model_info = classifier_for(data, profile)
    x, y, idx = correct_samples(model, data.x_test, data.y_test, s.n_samples)
    outs = {}
    for name, (method, mine) in ABLATIONS.items():
        attack = supervised_attack_for(method, model, profile, s, mine)
        config = {"data": data.fingerprint(), "model": model_info, "attack": attack_config(attack),
                  "n": s.n_samples}
        outs[name] = cached("supervised_ablation", config,
                            lambda name=name: attack_samples(model, x, y, idx, s, profile, mi=name))
    return x, outs


def ablation(profile: str | None = None, **overrides) -> pd.DataFrame:
    """The untargeted attack with each of :data:`ABLATIONS` on the same samples (cached).

    Columns: success_rate, mean_mi, mean_linf, mean_l2 (successful samples), mean_cos (cosine
    of x and x', successful samples) and max_diff_vs_mine (largest per-pixel difference of the
    returned images from the MINE row's)."""
    x, outs = _ablation_runs(profile, **overrides)
    rows, first = [], None
    for name, out in outs.items():
        row = summary_row(name, x, out)
        row["mean_cos"] = float(perturbation_sizes(x, {name: (out["x_adv"], out["success"])}).loc[name, "mean_cos"])
        first = out["x_adv"] if first is None else first
        row["max_diff_vs_mine"] = float((out["x_adv"] - first).abs().max())
        rows.append(row)
    return pd.DataFrame(rows).set_index("attack")


def ablation_figure(profile: str | None = None, n: int = 6, **overrides) -> Figure:
    """The examples of :func:`ablation`'s rows and their perturbations on one shared colour scale."""
    x, outs = _ablation_runs(profile, **overrides)
    return perturbation_grid(x, {name: (out["x_adv"], out["success"]) for name, out in outs.items()}, n=n,
                             scale=0.8, title="the MI term switched: examples and δ = x' − x on one scale")


def small_attack(epsilon: float = 1.0, kappa: float = 0.0, T: int = 50, alpha: float = 0.01, beta: float = 0.1,
                 target: int | None = None, n: int = 6, avoid: int | None = None,
                 profile: str | None = None, mi: str = "MINE") -> dict:
    """A quick MinMax attack (random-sampling MINE) on ``n`` correctly classified test samples.

    ``target=None`` is untargeted, else a class index. Samples of class ``avoid`` (default: the
    target) are skipped, since a targeted attack needs y != target. Returns the result dict
    (x_adv, success, mi_best, pred, ...) plus the attacked ``x`` and ``y``."""
    s = SupervisedSettings.from_profile(profile, n_samples=n, T=T, epsilon=epsilon, kappa=kappa, alpha=alpha,
                                        beta=beta, sampler="random")
    data = load_data(profile)
    model, _ = classifier_for(data, profile)
    x, y, idx = correct_samples(model, data.x_test, data.y_test, 4 * n)
    skip = target if avoid is None else avoid
    if skip is not None:
        keep = torch.nonzero(y != skip).flatten()
        x, y, idx = x[keep], y[keep], idx[keep]
    x, y, idx = x[:n], y[:n], idx[:n]
    out = attack_samples(model, x, y, idx, s, profile, target=target, mi=mi)
    out.update(x=x, y=y)
    return out


def attack_demo(epsilon: float = 1.0, kappa: float = 0.0, T: int = 50, alpha: float = 0.01, beta: float = 0.1,
                target: int = -1, n: int = 6, profile: str | None = None, mi: str = "MINE") -> Figure:
    """The widget's live attack: ``target=-1`` is untargeted, else a class index; ``mi`` picks
    the MI term (a key of :data:`ABLATIONS`); returns the grid."""
    out = small_attack(epsilon, kappa, T, alpha, beta, None if target < 0 else target, n, profile=profile, mi=mi)
    x, y = out["x"], out["y"]
    row = summary_row("demo", x, out)
    kind = "untargeted" if target < 0 else f"target {target}"
    labels = [f"{int(a)}→{int(b)}" for a, b in zip(y, out["pred"])]
    return perturbation_grid(x, {mi: (out["x_adv"], out["success"])}, n=n, vmax=0.5, col_titles=labels, scale=0.8,
                             title=f"{mi}, {kind}, ε={epsilon:g}, T={T}: success {row['success_rate']:.2f}, "
                                   f"mean L∞ {row['mean_linf']:.2f}")
