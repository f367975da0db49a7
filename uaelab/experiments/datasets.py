"""The data a profile runs on: a grid of samples per class and a table of sizes.

``python -m uaelab reproduce`` writes ``figures/<profile>/dataset_samples_grid.png`` and
``results/<profile>/dataset_samples_summary.{csv,md}``.
"""
from __future__ import annotations

import pandas as pd
import torch

from uaelab.data import DataSettings, DataSplits, load
from uaelab.experiments import ExperimentResult, experiment
from uaelab.viz.plotting import Figure, image_grid, new_figure


def class_samples(x: torch.Tensor, y: torch.Tensor, label: int, count: int) -> torch.Tensor:
    """The first ``count`` samples of class ``label`` (fewer if the class is smaller)."""
    return x[y == label][:count]


def summary_table(data: DataSplits) -> pd.DataFrame:
    """One row: name, kind, n_train, n_test, sample shape, number of classes, value range."""
    row = {
        "name": data.name,
        "kind": data.kind,
        "n_train": len(data.x_train),
        "n_test": len(data.x_test),
        "shape": "×".join(map(str, data.sample_shape)),
        "classes": data.n_classes,
        "min": float(data.x_train.min()),
        "max": float(data.x_train.max()),
    }
    return pd.DataFrame([row]).set_index("name")


def sample_figure(data: DataSplits, per_class: int = 8, max_classes: int = 10) -> Figure:
    """Images: one row per class with its first ``per_class`` training samples.
    Tabular data: the same samples as a heat map (one row per sample, one column per feature)."""
    classes = list(range(min(data.n_classes, max_classes)))
    rows = [class_samples(data.x_train, data.y_train, c, per_class) for c in classes]
    names = [data.class_names[c] for c in classes]
    if data.kind == "image":
        return image_grid([list(r) for r in rows], row_titles=names, title=f"{data.name}: training samples")
    fig = new_figure(figsize=(8, 1.5 + 0.05 * per_class * len(classes)))
    ax = fig.subplots()
    ax.imshow(torch.cat(rows).numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ticks = torch.tensor([len(r) for r in rows]).cumsum(0) - torch.tensor([len(r) for r in rows]) / 2
    ax.set_yticks(ticks.tolist(), names)
    ax.set_xlabel("feature")
    ax.set_title(f"{data.name}: training samples (features scaled to [0, 1])")
    fig.tight_layout()
    return fig


@experiment("dataset_samples", title="Dataset samples and sizes of the active profile", order=5)
def dataset_samples(profile: str | None = None, **overrides) -> ExperimentResult:
    """Load the profile's dataset (``data.*`` settings; overrides are DataSettings fields)."""
    settings = DataSettings.from_profile(profile, **overrides)
    data = load(settings)
    return ExperimentResult(
        name="dataset_samples",
        config={"data": settings.to_dict(), "fingerprint": data.fingerprint()},
        tables={"summary": summary_table(data)},
        figures={"grid": sample_figure(data)},
        notes=(f"The data every experiment of this profile starts from: {data.name}, "
               f"{len(data.x_train)} training and {len(data.x_test)} test samples. "
               "The paper uses MNIST and the other datasets of its tables (profile 'paper')."),
    )
