"""Table 6: the concrete autoencoder (unsupervised feature selection) with MINE-UAE augmentation.

The concrete autoencoder (Balın, Abid & Zou 2019) selects M input features (pixels) and
reconstructs all d from them. We train it, generate one MINE-UAE per training sample against
its reconstruction loss, retrain it from scratch on original + UAEs, and report the test
reconstruction error and the downstream accuracy of Extremely Randomized Trees trained on the
M selected features only (their evaluation protocol). Images are flattened to N×d.

Protocol of the concrete-AE authors for MNIST and Fashion-MNIST: only the 10k test set, split
40/60 into train/test (``protocol="test-40-60"``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import torch
from matplotlib.figure import Figure

from uaelab import paper
from uaelab.attacks import Preset, check_preset, make_attack
from uaelab.augment import AugmentSettings, Method, run_augmentation, scaled_recipe
from uaelab.augment.overrides import attack_overrides, parse_attack_set
from uaelab.augment.tables import paper_style, summarize
from uaelab.config import Settings, active_profile, register
from uaelab.data import (
    CSV_OPTIONS,
    CsvOptions,
    balanced_subset,
    canonical_name,
    is_csv,
    known_as,
    load_dataset,
    stratified_split,
)
from uaelab.evaluate.metrics import extra_trees_accuracy, reconstruction_error
from uaelab.experiments import ExperimentResult, cached, experiment, read_result
from uaelab.experiments.table4_reconstruction import preset_note, split_overrides
from uaelab.models.train import train_concrete
from uaelab.paper import TABLE6
from uaelab.verdicts import claim_tests, runs_table, seeds_note

# The paper's Table 6: dataset -> (error original, error MINE-UAE, accuracy original, accuracy MINE-UAE).
# A view of uaelab.paper.TABLE6 (which has only these two columns: no L2-UAE or GA in the paper's Table 6).
PAPER = {dataset: (r["Original"].error, r["MINE-UAE"].error, r["Original"].accuracy, r["MINE-UAE"].accuracy)
         for dataset, r in TABLE6.items()}
METRICS = {"error": ("lower", True), "accuracy": ("higher", False), "train_error": ("lower", True)}
# MINE-UAE with its controls: Duplicate and the two MI ablations (uaelab.augment.NAMED_METHODS)
TABLE6_METHODS = ("original", "mine-uae", "duplicate", "no-mi", "closed-form")


@register("table6")
@dataclass(frozen=True)
class Table6Settings(Settings, CsvOptions):
    # dataset names or CSV paths; the CsvOptions fields (label_column, nan_policy, ...) say how to
    # read the CSV files, and a CSV named after a paper dataset (isolet.csv) is shown beside its row
    datasets: tuple[str, ...] = ("mnist", "fashion-mnist", "isolet", "coil20")
    root: str | None = None  # data folder (None: $UAELAB_DATA or the cache)
    M: int | None = None  # features to select; None: 50, or 10 when d <= 100 (the paper's rule)
    # "test-40-60": use the 10k test split only, 40% train / 60% test (the concrete-AE authors'
    # MNIST / Fashion-MNIST protocol); "standard": the dataset's own train / test splits
    protocol: Literal["test-40-60", "standard"] = "test-40-60"
    train_limit: int | None = None  # training samples kept after the split (balanced); None = all
    test_limit: int | None = None  # test samples kept; None = all
    epochs: int | None = None  # override the concrete AE's training epochs (None: the recipe's)
    attack_set: tuple[str, ...] = ()  # MINE-UAE overrides "field=value" (e.g. T=20)
    # attack preset (uaelab.attacks.PRESETS): the released code's choices, or "paper" (its text)
    preset: Preset = "reference_code"
    n_estimators: int = 50  # trees of the downstream Extra-Trees classifier
    data_seed: int = 0  # seed of splits and subsets
    coil_size: int = 20  # COIL-20 side length in pixels (the concrete-AE paper uses 20×20)

    PROFILES = {"quick": {"datasets": ("digits",), "protocol": "standard", "train_limit": 300,
                          "test_limit": 300, "epochs": 60, "attack_set": ("T=10", "mine.steps=5")}}

    def validate(self) -> None:
        if self.M is not None and self.M < 1:
            raise ValueError(f"M must be >= 1 or None, got {self.M}")
        if not self.datasets:
            raise ValueError("table6.datasets is empty; name at least one dataset")
        rows = [known_as(n) for n in self.datasets]
        if len(set(rows)) < len(rows):
            raise ValueError(f"table6.datasets {list(self.datasets)} name the same dataset twice ({rows}); "
                             "rename a CSV file")
        used = [k for k, v in self.csv_options().items() if v != CSV_OPTIONS[k]]
        if used and not any(is_csv(n) for n in self.datasets):
            raise ValueError(f"{', '.join(used)} apply to CSV files only and table6.datasets has none; leave them out")
        check_preset(self.preset)
        parse_attack_set(self.attack_set)


def default_M(d: int) -> int:
    """50 selected features, 10 for small inputs (the paper: Mice Protein, d = 77; digits, d = 64)."""
    return 10 if d <= 100 else 50


class ConcreteTask:
    """The concrete autoencoder as an :class:`uaelab.augment.AugmentTask` (inputs N×d)."""

    metrics = METRICS

    def __init__(self, M: int, dataset: str, profile: str | None = None, epochs: int | None = None,
                 attack_set: tuple[str, ...] = (), n_estimators: int = 50, preset: str = "reference_code"):
        self.M, self.dataset = M, dataset
        self.name = f"concrete-{dataset}"
        self.profile = active_profile(profile)
        self.epochs, self.attack_set, self.n_estimators = epochs, tuple(attack_set), n_estimators
        self.preset = check_preset(preset)

    def train_settings(self, epoch_scale: float = 1.0):
        return scaled_recipe("concrete", self.profile, self.epochs, epoch_scale)

    def config(self) -> dict[str, Any]:
        return {"M": self.M, "profile": self.profile, "train": self.train_settings().to_dict(),
                "attack_set": list(self.attack_set), "preset": self.preset, "n_estimators": self.n_estimators}

    def train(self, x, y, seed, epoch_scale: float = 1.0, state_path=None):
        model, _ = train_concrete(x, self.M, self.train_settings(epoch_scale), seed=seed, progress=False,
                                  state_path=state_path)
        return model

    def evaluate(self, model, data) -> dict[str, Any]:
        sel = model.selected_features()
        acc = extra_trees_accuracy(data.x_train[:, sel], data.y_train, data.x_test[:, sel], data.y_test,
                                   n_estimators=self.n_estimators)
        return {"error": reconstruction_error(model, data.x_test), "accuracy": acc,
                "train_error": reconstruction_error(model, data.x_train), "selected": sel.tolist()}

    def make_attack(self, method: Method, model, seed: int):
        return make_attack(method.attack, model, profile=self.profile, seed=seed, preset=self.preset,
                           **attack_overrides(method, self.attack_set))


def load_data(name: str, s: Table6Settings):
    """The dataset as tabular DataSplits (images flattened), split and subset per the settings.

    Returns ``(data, image_shape)``; subsets are class-balanced and seeded by ``data_seed``.
    """
    if is_csv(name):
        opts = s.csv_options()
    else:
        opts = {"image_size": s.coil_size} if canonical_name(name) == "coil20" else {}
    data = load_dataset(name, root=s.root, seed=s.data_seed, **opts)
    x_tr, y_tr, x_te, y_te = data.x_train, data.y_train, data.x_test, data.y_test
    if s.protocol == "test-40-60" and not is_csv(name) and canonical_name(name) in ("mnist", "fashion-mnist"):
        tr, te = stratified_split(y_te.numpy(), 0.6, s.data_seed)
        tr, te = torch.as_tensor(tr), torch.as_tensor(te)
        x_tr, y_tr, x_te, y_te = x_te[tr], y_te[tr], x_te[te], y_te[te]
    keep = torch.as_tensor(balanced_subset(y_tr.numpy(), s.train_limit, s.data_seed, "train"))
    x_tr, y_tr = x_tr[keep], y_tr[keep]
    keep = torch.as_tensor(balanced_subset(y_te.numpy(), s.test_limit, s.data_seed, "test"))
    x_te, y_te = x_te[keep], y_te[keep]
    flat = dict(x_train=x_tr.reshape(len(x_tr), -1).contiguous(), y_train=y_tr,
                x_test=x_te.reshape(len(x_te), -1).contiguous(), y_test=y_te)
    image_shape = tuple(data.x_train.shape[1:])
    return dataclasses.replace(data, kind="tabular", **flat), image_shape


def compute_rows(s: Table6Settings, aug: AugmentSettings, profile: str, progress: bool = True) -> list[dict]:
    rows = []
    for name in s.datasets:
        data, image_shape = load_data(name, s)
        M = s.M or default_M(data.x_train.shape[1])
        # the task's name keys cache folders: the row name, never a path
        task = ConcreteTask(M, known_as(name), profile, s.epochs, s.attack_set, s.n_estimators, s.preset)
        for r in run_augmentation(task, data, settings=aug, progress=progress):
            rows.append({**r, "dataset": known_as(name), "source": name, "image_shape": image_shape,
                         "d": data.x_train.shape[1], "M": M, "n_test": len(data.x_test)})
    return rows


def paper_beside(summary: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (dataset, method), r in summary.iterrows():
        p = PAPER.get(dataset)
        err, acc = None, None
        if p and method in ("Original", "MINE-UAE"):
            err, acc = (p[0], p[2]) if method == "Original" else (p[1], p[3])
        out.append({"dataset": dataset, "method": method, "error": r["error"],
                    "error_improvement": r.get("error_improvement"), "accuracy": r["accuracy"],
                    "accuracy_change": r.get("accuracy_improvement"), "asr": r["asr"],
                    "paper_error": err, "paper_accuracy": acc})
    return pd.DataFrame(out).set_index(["dataset", "method"])


def direction(summary: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: does MINE-UAE lower the test error / raise the accuracy, as in the paper?"""
    out = []
    for dataset in dict.fromkeys(summary.index.get_level_values(0)):
        sub = summary.loc[dataset]
        if "MINE-UAE" not in sub.index:
            continue
        r = sub.loc["MINE-UAE"]
        p = PAPER.get(dataset)
        dup = sub.loc["Duplicate"] if "Duplicate" in sub.index else None
        out.append({"dataset": dataset, "error lower": bool(r["error_improvement"] > 0),
                    "accuracy higher": bool(r["accuracy_improvement"] > 0),
                    "error lower than Duplicate": None if dup is None else bool(r["error"] < dup["error"]),
                    "accuracy higher than Duplicate": None if dup is None else bool(r["accuracy"] > dup["accuracy"]),
                    "paper: error lower": None if p is None else p[1] < p[0],
                    "paper: accuracy higher": None if p is None else p[3] > p[2]})
    return pd.DataFrame(out).set_index("dataset") if out else pd.DataFrame()


def selection_figure(rows: list[dict], dataset: str | None = None):
    """Which pixels were selected, before (original model) and after MINE-UAE augmentation."""
    picked = [r for r in rows if (dataset is None or r["dataset"] == dataset) and r["key"] in ("original", "mine-uae")]
    if not picked:
        raise ValueError(f"no rows for dataset {dataset!r}")
    shape = picked[0]["image_shape"]
    fig = Figure(figsize=(2.4 * len(picked), 2.6))
    axes = fig.subplots(1, len(picked), squeeze=False)[0]
    for ax, r in zip(axes, picked):
        mask = torch.zeros(r["d"])
        mask[r["selected"]] = 1.0
        if len(shape) == 3:
            ax.imshow((mask.view(shape)[0] if shape[0] == 1 else mask.view(shape).mean(0)).numpy(), cmap="viridis",
                      vmin=0, vmax=1, interpolation="nearest")
        else:  # tabular: one row of features
            ax.imshow(mask.view(1, -1).numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_title(f"{r['dataset']}: {r['method']}\n{r['M']} features", fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def table6_rows(profile: str | None = None, progress: bool = True,
                **overrides) -> tuple[list[dict], Table6Settings, dict]:
    """The per-(dataset, method, seed) rows of Table 6 (cached), with the settings and config used."""
    profile = active_profile(profile)
    exp_kw, aug_kw = split_overrides(overrides)
    aug_kw.setdefault("methods", TABLE6_METHODS)
    s = Table6Settings.from_profile(profile, **exp_kw)
    aug = AugmentSettings.from_profile(profile, **aug_kw)
    prints = [load_data(n, s)[0].fingerprint() for n in s.datasets]
    config = {"table6": s.to_dict(), "augment": aug.to_dict(), "profile": profile, "data": prints}
    if any(is_csv(n) for n in s.datasets):  # a CSV's rows are named after the paper's row (known_as)
        config["names"] = [known_as(n) for n in s.datasets]
    rows = cached("table6_concrete", config, lambda: compute_rows(s, aug, profile, progress))
    for r in rows:
        r["model"] = r["dataset"]  # the summary groups by dataset
    return rows, s, config


@experiment("table6_concrete", title="Table 6: concrete autoencoder with MINE-UAE augmentation", order=62)
def table6_concrete(profile: str | None = None, progress: bool = True, **overrides) -> ExperimentResult:
    """Run Table 6. ``overrides``: fields of :class:`Table6Settings` and of AugmentSettings."""
    rows, s, config = table6_rows(profile, progress, **overrides)
    summary = summarize(rows, METRICS)
    summary.index = summary.index.set_names(["dataset", "method"])
    tables = {
        "summary": summary,
        "paper_style": pd.concat([paper_style(summary, "error"),
                                  paper_style(summary, "accuracy", relative=False, digits=4, asr=False)
                                  .add_prefix("accuracy ")], axis=1),
        "vs_paper": paper_beside(summary),
        "direction": direction(summary),
        "runs": runs_table(rows, METRICS),
        # margins: half the paper's change for the dataset, times our Original (none for datasets it lacks)
        "tests": pd.concat([claim_tests(rows, m, better, relative_margin={
            known_as(d): paper.half_claimed_effect(6, known_as(d), m) for d in s.datasets}).assign(metric=m)
            for m, better in (("error", "lower"), ("accuracy", "higher"))]),
    }
    figures = {"selected": selection_figure(rows, known_as(s.datasets[0]))}
    notes = ("Error: per-pixel test MSE (↑ = lower, relative). Accuracy: Extra-Trees on the selected "
             "features; its change is a difference of fractions. 'Duplicate' (original + exact copy) is the "
             f"control for the doubled number of gradient steps. {preset_note(s.preset, s.attack_set)} " +
             "; ".join(f"{r['dataset']}: d={r['d']}, M={r['M']}, {r['n_train']} train, {r['n_test']} test"
                       for r in {r["dataset"]: r for r in reversed(rows) if r["key"] == "original"}.values())
             + ". " + seeds_note(config["augment"]))
    return ExperimentResult("table6_concrete", config, tables, figures, notes)


def real_table6(dataset: str = "mnist", tag: str = "full", root: str | None = None) -> dict[str, Any] | None:
    """The committed real-data Table 6 of ``dataset`` (``benchmarks/real_table6.py --tag full``):
    "summary", "tests" (MINE-UAE against each row, error and accuracy, Welch's t, verdict), "runs",
    "notes" and "config"; None when it has not been run."""
    return read_result(f"table6_{dataset}" + (f"_{tag}" if tag else ""), results_dir=root)
