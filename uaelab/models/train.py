"""One training loop for every model (:func:`fit`) and per-model recipes with released settings.

:func:`fit` handles seeding, the device (batches follow the model's device), shuffling,
optional validation split, early stopping, a ``tqdm.auto`` bar with the loss, and returns a
``pandas.DataFrame`` history with columns ``epoch, loss, val_loss, time, cpu_time``. With
``state_path`` it saves its whole state after every epoch and resumes from it, so an interrupted
run continues to the same weights an uninterrupted one reaches.

Per-model recipes (:func:`train_autoencoder`, :func:`train_classifier`, :func:`train_concrete`,
:func:`train_simclr`) build the model, pick the training settings for the profile with
:func:`recipe_settings` and call :func:`fit`. The ``paper`` settings are the released ones
(``REFERENCE.md``); the ``quick`` settings train on the 8×8 digits in seconds.
"""
from __future__ import annotations

import copy
import io
import math
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, TypeVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import trange

from uaelab.config import Settings, active_profile, register
from uaelab.models.autoencoders import make_autoencoder
from uaelab.models.classifiers import make_classifier
from uaelab.models.concrete import ConcreteAutoencoder
from uaelab.models.simclr import SimCLR, make_encoder, simclr_step
from uaelab.utils import atomic_write_bytes, derive_seed, fingerprint, generator, model_device, seed_everything

OptimizerName = Literal["adam", "rmsprop", "adadelta", "sgd"]
LossName = Literal["mse", "bce", "ce", "none"]


@register("train")
@dataclass(frozen=True)
class TrainSettings(Settings):
    epochs: int = 20  # passes over the training set
    batch_size: int = 100  # samples per gradient step
    lr: float = 1e-3  # learning rate of the optimizer
    optimizer: OptimizerName = "adam"  # adam | rmsprop | adadelta | sgd
    momentum: float = 0.0  # SGD momentum (Nesterov when > 0, as in Carlini–Wagner's training)
    loss: LossName = "mse"  # mse (mean per element) | bce | ce (logits) | none (a step_fn gives the loss)
    weight_decay: float = 0.0  # L2 weight decay of the optimizer
    patience: int | None = None  # early stopping: epochs without improvement before stopping; None = off
    val_fraction: float = 0.0  # fraction of the training data held out for val_loss (0 = none)
    seed: int = 0  # seeds shuffling, the validation split and the global RNGs

    PROFILES = {"quick": {}, "paper": {}}  # per-model values live in RECIPES below

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must lie in [0, 1), got {self.val_fraction}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None (off), got {self.patience}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.loss not in ("mse", "bce", "ce", "none"):
            raise ValueError(f"unknown loss {self.loss!r}; choose mse, bce, ce or none")


# Released settings (profile "paper") and the quick profile's changes, per model kind.
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    # Dense AE: RMSprop lr 0.0025, MSE, 20 epochs, batch 100.
    "dense": {"paper": dict(epochs=20, batch_size=100, lr=0.0025, optimizer="rmsprop", loss="mse"),
              # quick: Adam reaches the same digits error as 150 Adadelta epochs in 60 (CPU seconds).
             "quick": dict(epochs=60, batch_size=32, lr=3e-3, optimizer="adam", loss="bce")},
    # Sparse AE: same shape, Adam (Keras default lr 1e-3), 50 epochs.
    "sparse": {"paper": dict(epochs=50, batch_size=100, lr=1e-3, optimizer="adam", loss="mse"),
               "quick": dict(epochs=150, batch_size=32, lr=3e-3)},
    # Conv AE: Adadelta with Keras 2's default lr 1.0 (the TF1-era Keras of the released code;
    # Keras >= 2.3 changed it to 0.001, which barely trains in 20 epochs), BCE, 20 epochs, batch 100.
    "conv": {"paper": dict(epochs=20, batch_size=100, lr=1.0, optimizer="adadelta", loss="bce"),
             # quick: Adam reaches the same digits error as 150 Adadelta epochs in 60 (CPU seconds).
             "quick": dict(epochs=60, batch_size=32, lr=3e-3, optimizer="adam", loss="bce")},
    # Adversarial AE (released keras-aae.py): three Adam optimizers at lr 1e-4, MSE, 50 epochs, batch 100.
    "adversarial": {"paper": dict(epochs=50, batch_size=100, lr=1e-4, optimizer="adam", loss="mse"),
                    "quick": dict(epochs=40, batch_size=64, lr=1e-3)},
    # Carlini–Wagner classifier training: SGD lr 0.01, momentum 0.9 (Nesterov), 50 epochs, batch 128.
    "classifier": {"paper": dict(epochs=50, batch_size=128, lr=0.01, optimizer="sgd", momentum=0.9, loss="ce"),
                   "quick": dict(epochs=30, batch_size=64, lr=1e-3, optimizer="adam", momentum=0.0)},
    # Concrete AE (Balın et al. defaults): Adam 1e-3, 300 epochs; temperature 10 -> 0.1 over training.
    "concrete": {"paper": dict(epochs=300, batch_size=256, lr=1e-3, optimizer="adam", loss="mse"),
                 "quick": dict(epochs=200, batch_size=64)},
    # SimCLR (Table 5): batch 512, 1000 epochs; Adam 3e-4, weight decay 1e-6 (common SimCLR port).
    "simclr": {"paper": dict(epochs=1000, batch_size=512, lr=3e-4, optimizer="adam", loss="none", weight_decay=1e-6),
               "quick": dict(epochs=30, batch_size=128, lr=1e-3)},
}


# Model changes per profile (explicit keyword arguments win). Quick AAE: 256 hidden units (the
# released 1000 are too slow for the CPU budget) and a linear code: with the released sigmoid
# code against an N(0, I) prior the discriminator wins and the AAE collapses to the mean image on
# digits (error = mean-image error, measured), which teaches nothing.
MODEL_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "adversarial": {"quick": {"hidden": 256, "latent_activation": "linear"}},
}


def model_defaults(kind: str, profile: str | None = None) -> dict[str, Any]:
    """Constructor arguments of ``kind`` that the profile changes (empty for the released sizes)."""
    return dict(MODEL_DEFAULTS.get(kind, {}).get(active_profile(profile), {}))


def recipe_settings(kind: str, profile: str | None = None, **overrides: Any) -> TrainSettings:
    """Training settings for a model kind: released values, then the profile's, then overrides."""
    if kind not in RECIPES:
        raise ValueError(f"no training recipe for {kind!r}; choose one of {', '.join(RECIPES)}")
    values = dict(RECIPES[kind]["paper"])
    if active_profile(profile) == "quick":
        values.update(RECIPES[kind]["quick"])
    values.update(overrides)
    return TrainSettings.from_dict(values)


# -- the loop -------------------------------------------------------------------------------
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": lambda p, s: torch.optim.Adam(p, lr=s.lr, weight_decay=s.weight_decay),
    # Keras' RMSprop: rho 0.9, eps 1e-7 (torch's alpha is Keras' rho).
    "rmsprop": lambda p, s: torch.optim.RMSprop(p, lr=s.lr, alpha=0.9, eps=1e-7, weight_decay=s.weight_decay),
    # Keras' Adadelta: rho 0.95, eps 1e-7.
    "adadelta": lambda p, s: torch.optim.Adadelta(p, lr=s.lr, rho=0.95, eps=1e-7, weight_decay=s.weight_decay),
    "sgd": lambda p, s: torch.optim.SGD(p, lr=s.lr, momentum=s.momentum, nesterov=s.momentum > 0,
                                        weight_decay=s.weight_decay),
}

LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": F.mse_loss,
    "bce": F.binary_cross_entropy,
    "ce": F.cross_entropy,
}

StepFn = Callable[[nn.Module, torch.Tensor, "torch.Tensor | None"], "torch.Tensor | float"]


def make_optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    return OPTIMIZERS[settings.optimizer]([p for p in model.parameters() if p.requires_grad], settings)


def _split_val(x, y, settings):
    n_val = int(round(len(x) * settings.val_fraction))
    if n_val == 0:
        return x, y, None, None
    perm = torch.randperm(len(x), generator=generator(settings.seed, "val_split"))
    val, tr = perm[:n_val], perm[n_val:]
    return x[tr], None if y is None else y[tr], x[val], None if y is None else y[val]


def _eval_loss(model, x, y, loss_fn, step_fn, batch_size, device) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(device)
            yb = None if y is None else y[i:i + batch_size].to(device)
            if loss_fn is not None:
                val = loss_fn(model(xb), xb if yb is None else yb)
            else:
                val = step_fn(model, xb, yb)
                assert isinstance(val, torch.Tensor), "val_loss needs a loss_fn when step_fn optimises itself"
            total += float(val) * len(xb)
            count += len(xb)
    return total / max(count, 1)


class TrainStateError(ValueError):
    """A ``state_path`` file that cannot be resumed from (corrupt, or from another run)."""


_STATE_FORMAT = 2  # 2: RNG states as tensors and lists, so the file loads with weights_only=True


def _rng_states() -> dict[str, Any]:
    """The global RNG states in types ``torch.load(weights_only=True)`` accepts."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {"torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy_rng": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
            "python_rng": [version, list(internal), gauss_next]}


def _set_rng_states(saved: dict[str, Any]) -> None:
    torch.set_rng_state(saved["torch_rng"])
    if saved["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda_rng"])
    name, keys, pos, has_gauss, gauss = saved["numpy_rng"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = saved["python_rng"]
    random.setstate((version, tuple(internal), gauss_next))


def _state_key(model: nn.Module, x: torch.Tensor, y, settings: TrainSettings) -> str:
    # Everything that decides the trajectory: the settings, the model class, the data itself.
    return fingerprint(_STATE_FORMAT, type(model).__name__, settings.to_dict(), x, -1 if y is None else y)


def _save_state(path, key, model, opt, step_fn, shuffle_g, rows, step, best, best_state, waited, done) -> None:
    state = {
        "format": _STATE_FORMAT, "key": key, "model": model.state_dict(), "optimizer": opt.state_dict(),
        "step_fn": step_fn.state_dict() if hasattr(step_fn, "state_dict") else None,
        # RNG states, so shuffling, dropout, Gumbel noise, prior samples and augmentations after
        # the resume are the ones the uninterrupted run would have drawn.
        "shuffle_rng": shuffle_g.get_state(), **_rng_states(),
        "rows": rows, "step": step, "best": best, "best_state": best_state, "waited": waited, "done": done,
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def _load_state(path, key) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # a state file cannot run code
    except Exception as exc:  # any unpickling failure means the file is unusable
        first = (str(exc).splitlines() or [""])[0]  # torch's weights_only advice would mislead here
        raise TrainStateError(f"cannot read the training state {path} ({type(exc).__name__}: {first}); "
                              "delete it to start training from scratch") from None
    if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT or state.get("key") != key:
        raise TrainStateError(f"the training state {path} belongs to another run (other settings, model or "
                              "data); delete it to start from scratch, or pass another state_path")
    return state


T = TypeVar("T")


def train_resuming(train: Callable[[Path], T], state_path: str | Path) -> T:
    """``train(state_path)``, resuming from ``state_path`` when it holds an unfinished run.

    A state file that cannot be resumed (:class:`TrainStateError`: corrupt, or from other
    settings) is reported with a warning, deleted, and training starts from scratch. The file is
    left in place afterwards: the caller deletes it once the result is stored, so an interruption
    between the end of training and that point does not lose the training.
    """
    try:
        return train(Path(state_path))
    except TrainStateError as exc:
        warnings.warn(f"ignoring the unfinished training state: {exc}; training from scratch", stacklevel=2)
        Path(state_path).unlink(missing_ok=True)
        return train(Path(state_path))


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *, settings: TrainSettings,
        loss_fn: Callable | None = None, step_fn: StepFn | None = None, x_val: torch.Tensor | None = None,
        y_val: torch.Tensor | None = None, progress: bool = True, desc: str = "train",
        state_path: str | Path | None = None) -> pd.DataFrame:
    """Train ``model`` in place and return its history.

    Args:
        x: inputs (images N×C×H×W or tabular N×d, float32 in [0, 1]); kept on its device,
            batches are moved to the model's device.
        y: targets (int64 labels for ``loss="ce"``); None means the target is x (autoencoders).
        settings: :class:`TrainSettings` (epochs, batch size, optimizer, loss, patience, ...).
        loss_fn: ``loss_fn(output, target) -> scalar``; default from ``settings.loss``.
        step_fn: ``step_fn(model, xb, yb) -> loss`` replaces the default step. Return a tensor and
            ``fit`` back-propagates and steps its optimizer; return a float when the step updated
            the weights itself (e.g. the adversarial AE's three optimizers).
        x_val, y_val: validation data; else ``settings.val_fraction`` of x is held out.
        state_path: a file for the training state (weights, optimizer, RNGs, history), written
            atomically after every epoch. If it exists when ``fit`` starts, training resumes
            after its last finished epoch and ends with the same weights and history an
            uninterrupted run gets (on CPU). A file from other settings, model or data raises
            :class:`TrainStateError` (a ``ValueError``). The caller deletes it when done with it.
            A ``step_fn`` with state of its own (optimizers) must offer ``state_dict`` and
            ``load_state_dict``.

    A model with ``training_loss(xb, yb, loss_fn)`` (the sparse AE adds its penalty) uses it in the
    default step; a model with ``schedule(progress)`` (the concrete AE's temperature) is told the
    fraction of training done, in [0, 1], before every step. ``val_loss`` is the plain
    ``loss_fn`` without regularisers. With ``patience`` set, training stops after that many epochs
    without improvement of val_loss (train loss when there is no validation data) and the best
    weights are restored. The model is left in eval mode.

    Returns:
        DataFrame with one row per epoch: epoch (1-based), loss (mean train loss), val_loss (NaN
        without validation data), time (wall seconds), cpu_time (process CPU seconds).
    """
    if not isinstance(settings, TrainSettings):
        raise ValueError(f"settings must be a TrainSettings, got {type(settings).__name__}; "
                         "use TrainSettings.from_profile(...) or recipe_settings(kind)")
    if y is not None and len(y) != len(x):
        raise ValueError(f"x and y have different lengths ({len(x)} vs {len(y)})")
    if len(x) == 0:
        raise ValueError("x is empty: nothing to train on")
    if loss_fn is None and settings.loss != "none":
        loss_fn = LOSSES[settings.loss]
    if loss_fn is None and step_fn is None:
        raise ValueError("settings.loss='none' needs a step_fn that returns the loss")
    seed_everything(derive_seed(settings.seed, "fit"))
    device = model_device(model)
    if x_val is None:
        x, y, x_val, y_val = _split_val(x, y, settings)
    opt = make_optimizer(model, settings)
    g = generator(settings.seed, "shuffle")
    n, bs = len(x), settings.batch_size
    steps_per_epoch = math.ceil(n / bs)
    total_steps = settings.epochs * steps_per_epoch
    rows, best, best_state, waited, step, done = [], math.inf, None, 0, 0, False
    key = _state_key(model, x, y, settings) if state_path is not None else None
    if state_path is not None and Path(state_path).exists():
        saved = _load_state(state_path, key)
        try:
            model.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optimizer"])
            if saved["step_fn"] is not None:
                step_fn.load_state_dict(saved["step_fn"])
        except (RuntimeError, KeyError, ValueError, AttributeError) as exc:
            raise TrainStateError(f"the training state {state_path} does not fit this model ({exc}); "
                                  "delete it to start from scratch") from None
        g.set_state(saved["shuffle_rng"])
        _set_rng_states(saved)
        rows, step, best, best_state = saved["rows"], saved["step"], saved["best"], saved["best_state"]
        waited, done = saved["waited"], saved["done"]
    start = settings.epochs if done else len(rows)
    bar = trange(start, settings.epochs, initial=start, total=settings.epochs, desc=desc,
                 disable=not progress, leave=False)
    for epoch in bar:
        t0, c0 = time.perf_counter(), time.process_time()
        model.train()
        perm = torch.randperm(n, generator=g)
        total = 0.0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb = x[idx].to(device)
            yb = None if y is None else y[idx].to(device)
            if hasattr(model, "schedule"):
                model.schedule(step / max(total_steps - 1, 1))
            if step_fn is not None:
                out = step_fn(model, xb, yb)
            elif hasattr(model, "training_loss"):
                out = model.training_loss(xb, yb, loss_fn)
            else:
                out = loss_fn(model(xb), xb if yb is None else yb)
            if isinstance(out, torch.Tensor):
                if not torch.isfinite(out):
                    raise ValueError(f"loss became {float(out)} at epoch {epoch + 1}; lower the learning rate")
                opt.zero_grad()
                out.backward()
                opt.step()
            total += float(out.detach() if isinstance(out, torch.Tensor) else out) * len(idx)
            step += 1
        loss = total / n
        val_loss = math.nan
        if x_val is not None and len(x_val):
            val_loss = _eval_loss(model, x_val, y_val, loss_fn, step_fn, bs, device)
        rows.append({"epoch": epoch + 1, "loss": loss, "val_loss": val_loss,
                     "time": time.perf_counter() - t0, "cpu_time": time.process_time() - c0})
        bar.set_postfix(loss=f"{loss:.4g}", **({} if math.isnan(val_loss) else {"val_loss": f"{val_loss:.4g}"}))
        if settings.patience is not None:
            monitored = loss if math.isnan(val_loss) else val_loss
            if monitored < best:
                best, waited = monitored, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
                done = waited >= settings.patience
        if state_path is not None:
            _save_state(state_path, key, model, opt, step_fn, g, rows, step, best, best_state, waited, done)
        if done:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return pd.DataFrame(rows, columns=["epoch", "loss", "val_loss", "time", "cpu_time"])


# -- recipes --------------------------------------------------------------------------------
def _train_inputs(data) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(x_train, y_train) from a DataSplits-like object, or (data, None) from a tensor."""
    if isinstance(data, torch.Tensor):
        return data, None
    if hasattr(data, "x_train"):
        return data.x_train, getattr(data, "y_train", None)
    raise ValueError(f"data must be a DataSplits (uaelab.data.load_dataset) or a tensor, got {type(data).__name__}")


def _settings(kind: str, settings: TrainSettings | None, profile: str | None, seed: int) -> TrainSettings:
    base = settings if settings is not None else recipe_settings(kind, profile)
    return base.replace(seed=seed)


def _image_shape(x: torch.Tensor) -> tuple[int, int, int]:
    if x.dim() != 4:
        raise ValueError(f"this model needs images N×C×H×W, got shape {tuple(x.shape)}")
    return tuple(x.shape[1:])  # type: ignore[return-value]


def train_autoencoder(kind: str, data, settings: TrainSettings | None = None, *, profile: str | None = None,
                      seed: int = 0, progress: bool = True, state_path: str | Path | None = None,
                      **model_kwargs) -> tuple[nn.Module, pd.DataFrame]:
    """Train one of the Table 4 autoencoders (dense, sparse, conv, adversarial) on ``data``.

    ``data``: DataSplits (uses x_train) or an image tensor N×C×H×W in [0, 1]. ``state_path``:
    resume file, see :func:`fit`. Returns (model in eval mode, history).
    """
    x, _ = _train_inputs(data)
    s = _settings(kind, settings, profile, seed)
    seed_everything(derive_seed(seed, "init", kind))
    model = make_autoencoder(kind, _image_shape(x), **{**model_defaults(kind, profile), **model_kwargs})
    step_fn = model.make_step(s.lr) if kind == "adversarial" else None
    return model, fit(model, x, settings=s, step_fn=step_fn, progress=progress, desc=f"{kind} AE",
                      state_path=state_path)


def train_classifier(data, settings: TrainSettings | None = None, *, profile: str | None = None, seed: int = 0,
                     arch: str | None = None, progress: bool = True,
                     state_path: str | Path | None = None) -> tuple[nn.Module, pd.DataFrame]:
    """Train a classifier (architecture picked by image size unless ``arch``) on x_train, y_train."""
    x, y = _train_inputs(data)
    if y is None:
        raise ValueError("train_classifier needs labels: pass a DataSplits with y_train")
    s = _settings("classifier", settings, profile, seed)
    seed_everything(derive_seed(seed, "init", "classifier"))
    n_classes = int(getattr(data, "n_classes", 0) or int(y.max()) + 1)
    model = make_classifier(_image_shape(x), n_classes, arch)
    return model, fit(model, x, y, settings=s, progress=progress, desc="classifier", state_path=state_path)


def train_concrete(data, M: int = 50, settings: TrainSettings | None = None, *, profile: str | None = None,
                   seed: int = 0, progress: bool = True, state_path: str | Path | None = None,
                   **model_kwargs) -> tuple[nn.Module, pd.DataFrame]:
    """Train a concrete autoencoder selecting ``M`` of the d input features (images are flattened)."""
    x, _ = _train_inputs(data)
    x = x.reshape(len(x), -1)
    s = _settings("concrete", settings, profile, seed)
    seed_everything(derive_seed(seed, "init", "concrete"))
    model = ConcreteAutoencoder(x.shape[1], M, **model_kwargs)
    return model, fit(model, x, settings=s, progress=progress, desc="concrete AE", state_path=state_path)


def train_simclr(data, settings: TrainSettings | None = None, *, profile: str | None = None, seed: int = 0,
                 encoder: str | None = None, proj_dim: int = 64, temperature: float = 0.5, strength: float = 0.5,
                 progress: bool = True, state_path: str | Path | None = None) -> tuple[nn.Module, pd.DataFrame]:
    """Pretrain SimCLR on the training images; ``encoder`` small (quick default) or resnet18 (paper)."""
    x, _ = _train_inputs(data)
    shape = _image_shape(x)
    s = _settings("simclr", settings, profile, seed)
    encoder = encoder or ("small" if active_profile(profile) == "quick" else "resnet18")
    seed_everything(derive_seed(seed, "init", "simclr"))
    model = SimCLR(make_encoder(encoder, shape), proj_dim=proj_dim)
    step = simclr_step(shape, temperature=temperature, strength=strength)
    return model, fit(model, x, settings=s, step_fn=step, progress=progress, desc="SimCLR", state_path=state_path)
