"""Paper artefacts (figures and tables) as functions, a disk cache, and the ``reproduce`` driver.

Each module in this package defines one or more experiments with the ``@experiment`` decorator::

    @experiment("table4", title="Table 4: UAE augmentation for autoencoders", order=60)
    def table4(profile: str | None = None, **overrides) -> ExperimentResult: ...

An experiment returns an :class:`ExperimentResult` (pandas tables, matplotlib figures and the
config that produced them). Heavy work inside it goes through :func:`cached`, keyed by the
settings (:mod:`uaelab.augment.cache`), so notebooks and ``make reproduce`` share results. :func:`run_all` imports every
module here, runs each experiment in ``order`` and writes its files under ``figures/<profile>/`` and
``results/<profile>/`` of the output folder (:func:`uaelab.utils.output_dir`: ``out``, else
``$UAELAB_OUTPUT``, else the working directory; never inside the installed package).
"""
from __future__ import annotations

import importlib
import io
import json
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import matplotlib
import pandas as pd
from tqdm.auto import tqdm

from uaelab.augment.cache import CACHE_VERSION, cache_key, cached, is_cached  # noqa: F401 (the experiments' public names)
from uaelab.config import active_profile
from uaelab.utils import atomic_write_bytes, output_dir, repo_root


@dataclass
class ExperimentResult:
    """What an experiment hands back: named tables, named figures, and its config."""

    name: str
    config: dict[str, Any]
    tables: dict[str, Any] = field(default_factory=dict)  # name -> pandas.DataFrame
    figures: dict[str, Any] = field(default_factory=dict)  # name -> matplotlib Figure
    notes: str = ""  # one paragraph: what to look at, what differs from the paper


@dataclass
class Experiment:
    name: str
    title: str
    fn: Callable[..., ExperimentResult]
    order: int


EXPERIMENTS: dict[str, Experiment] = {}


def experiment(name: str, title: str, order: int = 100):
    """Register ``fn(profile=None, **overrides) -> ExperimentResult`` under ``name``."""

    def deco(fn: Callable[..., ExperimentResult]) -> Callable[..., ExperimentResult]:
        assert name not in EXPERIMENTS or EXPERIMENTS[name].fn.__qualname__ == fn.__qualname__, name
        EXPERIMENTS[name] = Experiment(name, title, fn, order)
        return fn

    return deco


def load_all() -> dict[str, Experiment]:
    """Import every module of this package so that its experiments register themselves."""
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    return dict(sorted(EXPERIMENTS.items(), key=lambda kv: (kv[1].order, kv[0])))


# -- writing --------------------------------------------------------------------------------
def write_result(
    result: ExperimentResult,
    profile: str | None = None,
    figures_dir: Path | None = None,
    results_dir: Path | None = None,
    out: Path | str | None = None,
) -> list[Path]:
    """Write a result's figures (PNG) and tables (CSV and Markdown) plus its config (JSON).

    Files go to ``figures/<profile>/`` and ``results/<profile>/`` of the output folder ``out``
    (default :func:`uaelab.utils.output_dir`: ``$UAELAB_OUTPUT``, else the working directory)
    unless other folders are given. Returns the written paths.
    """
    profile = active_profile(profile)
    if figures_dir is None or results_dir is None:
        base = output_dir(out)
        figures_dir = figures_dir or base / "figures" / profile
        results_dir = results_dir or base / "results" / profile
    figures_dir, results_dir = Path(figures_dir), Path(results_dir)
    written: list[Path] = []
    for key, fig in result.figures.items():
        buf = io.BytesIO()
        # fixed metadata keeps the PNG bytes identical between runs of the same result
        fig.savefig(buf, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None})
        path = figures_dir / f"{result.name}_{key}.png"
        atomic_write_bytes(path, buf.getvalue())
        written.append(path)
    for key, table in result.tables.items():
        stem = results_dir / f"{result.name}_{key}"
        atomic_write_bytes(stem.with_suffix(".csv"), table.to_csv(index=True).encode())
        atomic_write_bytes(stem.with_suffix(".md"), table.to_markdown().encode())
        written += [stem.with_suffix(".csv"), stem.with_suffix(".md")]
    cfg = {"experiment": result.name, "profile": profile, "config": result.config, "notes": result.notes}
    path = results_dir / f"{result.name}_config.json"
    atomic_write_bytes(path, json.dumps(cfg, indent=2, sort_keys=True, default=str).encode())
    written.append(path)
    return written


def read_result(name: str, tables: tuple[str, ...] = ("summary", "tests", "runs"),
                results_dir: Path | str | None = None) -> dict[str, Any] | None:
    """The tables a :func:`write_result` call wrote for ``name`` (e.g. "table4_mnist_dense_full"),
    as DataFrames, plus "notes" and "config" from its JSON; None when its first table is missing
    (not run on this checkout; a later table that is missing is left out). ``results_dir``
    defaults to ``results/real/``. This is how the notebooks show committed real-data results
    without typing a number."""
    base = Path(results_dir) if results_dir else repo_root() / "results" / "real"
    if not (base / f"{name}_{tables[0]}.csv").exists():
        return None
    # an earlier run may lack the later tables ("tests", "runs"): those keys are then absent
    out: dict[str, Any] = {t: pd.read_csv(base / f"{name}_{t}.csv") for t in tables
                           if (base / f"{name}_{t}.csv").exists()}
    cfg = json.loads((base / f"{name}_config.json").read_text())
    out.update(notes=cfg.get("notes", ""), config=cfg.get("config", {}))
    return out


def run_all(profile: str | None = None, only: list[str] | None = None,
            out: Path | str | None = None) -> list[Path]:
    """Run every registered experiment (or those named in ``only``) and write their files under
    the output folder ``out`` (see :func:`write_result`)."""
    matplotlib.use("Agg")  # reproduce runs headless
    import matplotlib.pyplot as plt  # after choosing the backend

    profile = active_profile(profile)
    out = output_dir(out)  # checked before the first experiment runs, not after it
    exps = load_all()
    if only:
        unknown = [n for n in only if n not in exps]
        if unknown:
            raise ValueError(f"unknown experiment(s) {unknown}; known: {', '.join(exps)}")
        exps = {n: e for n, e in exps.items() if n in only}
    written: list[Path] = []
    for exp in tqdm(list(exps.values()), desc=f"reproduce ({profile})", unit="exp"):
        result = exp.fn(profile=profile)
        written += write_result(result, profile, out=out)
        for fig in result.figures.values():
            plt.close(fig)
    return written
