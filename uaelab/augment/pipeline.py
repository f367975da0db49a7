"""UAEs as data augmentation (paper Sections 4.4-4.6, Tables 4-6), shared by notebooks 06-08.

The pipeline, for one model and one augmentation method:

1. train the original model on the training set (or take it from the cache);
2. generate one adversarial example per training sample with the method (MINE-UAE, L2-UAE or
   Gaussian noise of std σ) through :func:`uaelab.augment.store.generate_to_dir`, which is resumable:
   interrupt it and run it again, and it continues where it stopped;
3. build the augmented set *original + generated*; a sample whose attack failed is replaced by a
   copy of itself (the paper's replication rule, which keeps the data balanced);
4. retrain the model from scratch with the same settings on the augmented set;
5. evaluate it on the untouched test set and report the change relative to the original model.

The attack success rate (ASR) is the fraction of training samples whose example succeeded (its
training loss is no greater than the original's). Improvements follow the sign convention of
the paper's tables: positive (↑) means better, i.e. a *lower* error or loss and a *higher*
accuracy. Errors and losses improve relatively, ``(orig - new) / orig``; accuracies by their
difference ``new - orig`` (Table 5 writes "+1.58%"). Both are fractions.

A task (what "train", "evaluate" and "attack" mean) is any object with the methods of
:class:`AugmentTask`; :mod:`uaelab.experiments.table4_reconstruction`, ``table6_concrete`` and
``table5_simclr`` define one each, and :class:`uaelab.augment.task.AutoencoderTask` makes one
from any autoencoder class (``docs/extending.md``, "Add a model family"). The data is any
object with ``x_train`` and ``x_test`` (``y_train`` is handed to ``train`` when present;
``fingerprint()`` keys the cache, else the tensors do), e.g. a :class:`uaelab.data.DataSplits`.
"""
from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch

from uaelab import plugins
from uaelab.attacks import METHODS, attack_config
from uaelab.augment import store
from uaelab.augment.cache import cache_key, cached
from uaelab.config import Settings, register
from uaelab.models.train import recipe_settings, train_resuming
from uaelab.utils import cache_dir, derive_seed, fingerprint

PAPER_METHODS = ("original", "mine-uae", "l2-uae", "ga:0.01", "ga:0.001")


# -- settings -------------------------------------------------------------------------------
@register("augment")
@dataclass(frozen=True)
class AugmentSettings(Settings):
    # methods to compare: original, mine-uae, l2-uae, ga:<sigma> (Gaussian noise), duplicate
    # (the replication rule alone: every sample copied once, a control for "more steps"),
    # no-mi (MinMax without the MI term) and closed-form (MinMax with the exact MI of
    # random-sampling mode): the two ablations of the MINE term
    methods: tuple[str, ...] = PAPER_METHODS
    # seeds of the randomised methods (GA); the paper reports mean ± std over several GA runs
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    # also repeat the attacks (MINE-UAE, L2-UAE) over all seeds, not only the first
    repeat_all: bool = False
    # seed of the original model; the retrained models start from the same initialisation
    model_seed: int = 0
    # seeds of the training runs (issue 13's "retraining seeds"): when given, every method is
    # retrained once per seed and the original model is trained with each seed too, so a row's
    # spread is the spread of training itself. The UAEs are still generated once, against the
    # model_seed original (attack seed seeds[0]); GA draws its noise with the retraining seed.
    retrain_seeds: tuple[int, ...] = ()
    # samples per generation batch (and per resumable shard on disk)
    batch_size: int = 100
    # training budget when retraining on the augmented set: "epochs" keeps the number of epochs
    # (the paper: twice the data, twice the steps); "steps" keeps the number of gradient steps
    budget: Literal["epochs", "steps"] = "epochs"

    PROFILES = {"quick": {"seeds": (0, 1), "batch_size": 100}}

    def validate(self) -> None:
        if not self.methods:
            raise ValueError("augment.methods is empty; name at least one of " + ", ".join(PAPER_METHODS))
        for m in self.methods:
            parse_method(m)
        if not self.seeds:
            raise ValueError("augment.seeds is empty; give at least one seed, e.g. (0,)")
        if self.batch_size < 1:
            raise ValueError(f"augment.batch_size must be >= 1, got {self.batch_size}")
        if self.budget not in ("epochs", "steps"):
            raise ValueError(f"augment.budget must be 'epochs' or 'steps', got {self.budget!r}")


# -- methods --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    """One augmentation method, parsed from its short name."""

    key: str  # the short name, e.g. "ga:0.01"
    label: str  # the column name of the paper's tables, e.g. "GA (σ=0.01)"
    attack: str | None  # uaelab.attacks.make_attack name; None for original / duplicate
    # attack settings (GA: sigma); a dotted key names another component (e.g. "mine.estimator")
    overrides: dict[str, Any] = field(default_factory=dict)
    random: bool = False  # whether the result changes with the seed (noise drawn at random)

    @property
    def stream(self) -> str:
        """Name of the random stream the attack is seeded from. The MinMax-loop methods (MINE-UAE,
        no-MI, closed-form MI, L2-UAE) share one, so they start from the same δ0 and differ only
        in their objective: the ablations are controlled comparisons."""
        return "minmax" if self.attack in MINMAX_ATTACKS else self.key


MINMAX_ATTACKS = ("mine-uae", "no-mi", "l2-uae")  # attacks that run the MinMax loop from a random δ0

# short name -> (table label, attack method, overrides), for the methods without a parameter
NAMED_METHODS: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "original": ("Original", None, {}),
    "duplicate": ("Duplicate", None, {}),
    "mine-uae": ("MINE-UAE", "mine-uae", {}),
    "l2-uae": ("L2-UAE", "l2-uae", {}),
    "no-mi": ("no-MI", "no-mi", {}),
    "closed-form": ("closed-form MI", "mine-uae", {"mine.estimator": "closed-form"}),
    # the MinMax loop stopped before its first step: the random start δ0 (the same draw as
    # MINE-UAE's), kept where it already satisfies f <= 0, the original elsewhere. The control
    # for "the optimisation, not its random start, makes the example"
    "start-only": ("random start only", "no-mi", {"T": 1}),
}


# the labels of the control rows (not baselines of the paper)
CONTROL_LABELS = tuple(NAMED_METHODS[k][0] for k in ("duplicate", "no-mi", "closed-form", "start-only"))


def parse_method(spec: str) -> Method:
    """``"original" | "mine-uae" | "l2-uae" | "ga:<sigma>" | "duplicate" | "no-mi" |
    "closed-form" | "start-only"`` (the keys of :data:`NAMED_METHODS`, or ``ga:<sigma>``), or
    an unsupervised attack registered with :func:`uaelab.attacks.register_attack` -> :class:`Method`."""
    key = spec.strip().lower()
    if key in NAMED_METHODS:
        label, attack, overrides = NAMED_METHODS[key]
        return Method(key, label, attack, dict(overrides))
    m = re.fullmatch(r"(?:ga|gaussian):\s*([0-9.eE+-]+)", key)
    if m:
        try:
            sigma = float(m.group(1))
        except ValueError:
            sigma = -1.0
        if not (sigma > 0 and math.isfinite(sigma)):
            raise ValueError(f"method {spec!r}: σ must be a positive number, e.g. 'ga:0.01'")
        return Method(f"ga:{sigma:g}", f"GA (σ={sigma:g})", "gaussian", {"sigma": sigma}, random=True)
    if key not in METHODS:  # not built in: maybe an installed plugin's attack (uaelab.plugins)
        plugins.load_plugins(plugins.ATTACKS)
    # augmentation has no labels; the Gaussian baseline is spelled ga:<sigma> (it needs its σ)
    unsupervised = [k for k, m in METHODS.items() if not m.supervised and k != "gaussian"]
    if key in unsupervised:  # any other attack of the registry (uaelab.attacks.register_attack)
        return Method(key, METHODS[key].label or key, key)
    raise ValueError(
        f"unknown augmentation method {spec!r}; use {', '.join(NAMED_METHODS)}, ga:<sigma> (e.g. ga:0.01) "
        f"or an unsupervised attack of uaelab.attacks.METHODS ({', '.join(unsupervised)})"
    )


# -- the task interface ---------------------------------------------------------------------
class AugmentTask(Protocol):
    """What the pipeline needs to know about one model family (see module docstring); each
    member, and what the pipeline does with it: ``docs/extending.md``, "Add a model family".
    :class:`uaelab.augment.task.AutoencoderTask` implements it for any autoencoder class."""

    name: str  # short id, e.g. "dense"
    # metric name -> "lower" or "higher" (which is better) and whether it improves relatively;
    # the first metric is the one the tables lead with
    metrics: dict[str, tuple[str, bool]]

    def config(self) -> dict[str, Any]:
        """Every setting that changes the trained model (the cache key)."""

    def train(self, x: torch.Tensor, y: torch.Tensor | None, seed: int, epoch_scale: float = 1.0,
              state_path: Path | None = None) -> torch.nn.Module:
        """Train a fresh model on ``x`` (labels only if the task needs them; UAE tasks do not).

        ``state_path`` (optional in a task's signature): hand it to :func:`uaelab.models.train.fit` so an
        interrupted training resumes; a task without the parameter simply retrains."""

    def evaluate(self, model: torch.nn.Module, data: Any) -> dict[str, float]:
        """The test metrics of ``model`` on ``data`` (the untouched test split)."""

    def make_attack(self, method: Method, model: torch.nn.Module, seed: int) -> Any:
        """The attack object :func:`uaelab.augment.store.generate_to_dir` runs for ``method``: a thin
        wrapper over :func:`uaelab.attacks.make_attack` (``method.attack`` with this task's model
        kind, preset and budget), e.g. ``make_attack(method.attack, model, seed=seed,
        **attack_overrides(method, attack_set))`` (:mod:`uaelab.augment.overrides`)."""


def improvement(original: float, new: float, better: str = "lower", relative: bool = True) -> float:
    """The paper's signed improvement, a fraction: positive means ``new`` is better.

    ``better="lower"`` (errors, losses): ``(original - new) / original`` when ``relative``.
    ``better="higher"`` (accuracies): ``new - original`` unless ``relative``.
    """
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    diff = (original - new) if better == "lower" else (new - original)
    if not relative:
        return float(diff)
    if original == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return float(diff / abs(original))


def asr(success: torch.Tensor | np.ndarray) -> float:
    """Attack success rate: the fraction of samples whose adversarial example succeeded."""
    s = torch.as_tensor(np.asarray(success)).bool()
    if s.dim() != 1:
        raise ValueError(f"success must be a 1-d bool vector, got shape {tuple(s.shape)}")
    return float(s.float().mean()) if s.numel() else 0.0


def scaled_recipe(kind: str, profile: str | None, epochs: int | None = None, epoch_scale: float = 1.0):
    """The training recipe of ``kind`` (:func:`uaelab.models.train.recipe_settings`), with ``epochs``
    replacing the recipe's count when given and then scaled by ``epoch_scale`` (at least 1), so
    retraining on a larger set can keep the number of gradient steps (``budget="steps"``)."""
    s = recipe_settings(kind, profile)
    if epochs is not None:
        s = s.replace(epochs=epochs)
    if epoch_scale != 1.0:
        s = s.replace(epochs=max(1, round(s.epochs * epoch_scale)))
    return s


# -- the pipeline ---------------------------------------------------------------------------
def uae_dir(task: AugmentTask, data_fp: str, method: Method, seed: int, attack_config: Any = None):
    """The generation folder of one (task, data, method, seed) under ``cache_dir("uaes", ...)``."""
    key = fingerprint(task.name, task.config(), data_fp, method.key, method.overrides, seed, attack_config)
    return cache_dir("uaes", f"{task.name}-{method.key.replace(':', '')}-{key}")


def generate(task: AugmentTask, model: torch.nn.Module, x: torch.Tensor, method: Method, seed: int,
             settings: AugmentSettings, data_fp: str, progress: bool = True):
    """Run ``method``'s attack on every training sample through :func:`uaelab.augment.store.generate_to_dir`.

    Resumable: the folder is a fixed function of (task, data, method, seed, attack settings), so
    an interrupted call continues where it stopped. Returns ``(out_dir, x_adv, success)`` with
    x_adv N×... and success N bools in sample order.
    """
    attack = task.make_attack(method, model, derive_seed(seed, method.stream))
    config = {"task": task.name, "task_config": task.config(), "method": method.key, "seed": seed,
              "attack": attack_config(attack, weights=True)}
    out_dir = uae_dir(task, data_fp, method, seed, config["attack"])
    store.generate_to_dir(attack, x, out_dir, batch_size=settings.batch_size, config=config,
                          data_fingerprint=data_fp, progress=progress)
    idx, x_adv, success = store.load_adversarial(out_dir)
    assert torch.equal(idx, torch.arange(x.shape[0])), "every training sample has exactly one example"
    return out_dir, x_adv, success


def _labels_of(data: Any) -> torch.Tensor | None:
    return getattr(data, "y_train", None)


def _data_fp(data: Any) -> str:
    fp = getattr(data, "fingerprint", None)
    return fp() if callable(fp) else fingerprint(data.x_train, data.x_test)


def _state_path(task: AugmentTask, what: str, cfg: dict[str, Any]) -> Path | None:
    """Resume file of the training behind the cached result ``(what, cfg)``; None for a task
    whose ``train`` takes no ``state_path`` (it simply retrains)."""
    if "state_path" not in inspect.signature(task.train).parameters:
        return None
    return cache_dir("train-state") / f"{what}-{cache_key(what, cfg)}.state"


def _train(task: AugmentTask, state: Path | None, x, y, seed: int, epoch_scale: float = 1.0) -> torch.nn.Module:
    if state is None:
        return task.train(x, y, seed, epoch_scale=epoch_scale)
    return train_resuming(lambda p: task.train(x, y, seed, epoch_scale=epoch_scale, state_path=p), state)


def _drop(state: Path | None) -> None:
    """Delete a resume file once the result it led to is stored."""
    if state is not None:
        state.unlink(missing_ok=True)


def original_model(task: AugmentTask, data: Any, seed: int) -> torch.nn.Module:
    """The original model, trained once per (task settings, data, seed) and cached on disk."""
    cfg = {"task": task.name, "config": task.config(), "data": _data_fp(data), "seed": seed}
    state = _state_path(task, "augment-original", cfg)
    model = cached("augment-original", cfg, lambda: _train(task, state, data.x_train, _labels_of(data), seed))
    _drop(state)
    return model


def run_method(task: AugmentTask, data: Any, method: Method, seed: int, settings: AugmentSettings,
               progress: bool = True, n_keep: int = 8, retrain_seed: int | None = None) -> dict[str, Any]:
    """One row of a table: generate, augment, retrain, evaluate. Cached by everything it uses.

    ``seed`` seeds the attack (or the noise); ``retrain_seed`` (default ``settings.model_seed``)
    seeds the retraining, and for the "original" row the original model that is evaluated. The
    examples are always made against the ``settings.model_seed`` original.

    Returns a dict with the task, method, seed, retrain_seed, every test metric, the ASR, the
    training-set size, and ``examples`` (the first ``n_keep`` originals, their examples and
    success flags).
    """
    data_fp = _data_fp(data)
    cfg = {"task": task.name, "config": task.config(), "data": data_fp, "method": method.key,
           "overrides": method.overrides, "seed": seed, "model_seed": settings.model_seed,
           "budget": settings.budget, "batch_size": settings.batch_size}
    if retrain_seed is not None and retrain_seed != settings.model_seed:
        cfg["retrain_seed"] = retrain_seed  # absent when equal, so earlier cached rows stay valid
    train_seed = settings.model_seed if retrain_seed is None else retrain_seed
    state = _state_path(task, "augment-row", cfg)

    def compute() -> dict[str, Any]:
        model = original_model(task, data, settings.model_seed)
        x, y = data.x_train, _labels_of(data)
        n = x.shape[0]
        row: dict[str, Any] = {"model": task.name, "method": method.label, "key": method.key, "seed": seed,
                               "retrain_seed": train_seed}
        if method.key == "original":
            if train_seed != settings.model_seed:
                model = original_model(task, data, train_seed)
            row.update(task.evaluate(model, data), asr=float("nan"), n_train=n)
            row["examples"] = (x[:n_keep].clone(), x[:n_keep].clone(), torch.zeros(min(n, n_keep), dtype=torch.bool))
            return row
        if method.key == "duplicate":
            x_aug, success, x_adv = torch.cat([x, x]), torch.zeros(n, dtype=torch.bool), x
        else:
            out_dir, x_adv, success = generate(task, model, x, method, seed, settings, data_fp, progress)
            x_aug, _ = store.augmented_dataset(x, out_dir)  # failed samples replaced by themselves
        y_aug = None if y is None else torch.cat([y, y])
        scale = 1.0 if settings.budget == "epochs" else n / x_aug.shape[0]
        retrained = _train(task, state, x_aug, y_aug, train_seed, epoch_scale=scale)
        row.update(task.evaluate(retrained, data), asr=asr(success), n_train=int(x_aug.shape[0]))
        row["examples"] = (x[:n_keep].clone(), x_adv[:n_keep].clone(), success[:n_keep].clone())
        return row

    row = cached("augment-row", cfg, compute)
    _drop(state)
    return row


def run_augmentation(task: AugmentTask, data: Any, methods: tuple[str, ...] | None = None,
                     settings: AugmentSettings | None = None, seeds: tuple[int, ...] | None = None,
                     progress: bool = True, **overrides: Any) -> list[dict[str, Any]]:
    """All rows for one task: the original model and every method, over the seeds.

    Randomised methods (GA) run once per seed; the attacks run on the first seed only unless
    ``settings.repeat_all``. With ``settings.retrain_seeds`` every method (the original too) is
    instead trained once per retraining seed, from examples made once (GA: noise drawn with the
    retraining seed). ``overrides``: fields of :class:`AugmentSettings` (e.g.
    ``retrain_seeds=(0, 1, 2)``), applied over ``settings`` (default: the profile's); unknown
    names raise. Returns one dict per row, see :func:`run_method`.
    """
    settings = settings or AugmentSettings.from_profile()
    if overrides:
        settings = settings.replace(**overrides)
    methods = tuple(methods or settings.methods)
    seeds = tuple(seeds or settings.seeds)
    rows = []
    for spec in methods:
        method = parse_method(spec)
        if settings.retrain_seeds:
            for r in settings.retrain_seeds:
                seed = r if method.random else seeds[0]
                rows.append(run_method(task, data, method, seed, settings, progress=progress, retrain_seed=r))
            continue
        use = seeds if (method.random or settings.repeat_all) and method.attack else seeds[:1]
        for seed in use:
            rows.append(run_method(task, data, method, seed, settings, progress=progress))
    return rows
