"""A ready :class:`uaelab.augment.AugmentTask` for a user's own autoencoder class
(``docs/extending.md``, "Add a model family"): the class and the data are the user's; the sample
shape, seeds, loss, device, attack criterion and cache key are derived here."""
from __future__ import annotations

import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from uaelab.attacks import Preset, check_preset, make_attack
from uaelab.augment.overrides import attack_components, attack_overrides
from uaelab.augment.pipeline import Method
from uaelab.config import Settings, active_profile, apply_overrides
from uaelab.evaluate.metrics import reconstruction_error
from uaelab.mi.mine import MineSettings
from uaelab.models.train import TrainSettings, fit
from uaelab.utils import derive_seed, eval_mode, fingerprint, seed_everything


@dataclass(frozen=True)
class AutoencoderTask:
    """An :class:`~uaelab.augment.AugmentTask` for any autoencoder class: give the class, the rest
    is derived.

    ``model(shape, **model_kwargs)`` builds a fresh model for samples of ``shape`` (one sample's
    shape, taken from the training data: ``(C, H, W)`` or ``(d,)``) whose output has its input's
    shape. The pipeline's seed seeds its initialisation and :func:`uaelab.models.train.fit` (loss
    from ``train_settings``, MSE by default; resumable); :meth:`evaluate` reports the per-pixel test
    and training reconstruction errors; :meth:`make_attack` builds each method's attack against
    the reconstruction loss; :meth:`config` keys the cache by the class's code (bytecode, not
    source: an edited ``forward`` gets a new key, also in a notebook), its arguments and every
    setting below. Subclass it to change one part (e.g. ``evaluate`` with more ``metrics``).
    """

    name: str  # short id: the rows' "model" column and the cache folders' prefix
    model: type[torch.nn.Module]  # the autoencoder class, called as model(shape, **model_kwargs)
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # its other arguments (JSON-able)
    train_settings: TrainSettings | None = None  # None: TrainSettings() (20 epochs, Adam, MSE)
    # attack settings, "component.field=value" as make_attack's overrides and the CLI's --set:
    # "mine.*" applies to every attack, "minmax.*" to MINE-UAE, no-MI and closed-form,
    # "l2uae.*" to L2-UAE, "gaussian.*" to GA (unknown names raise)
    attack_overrides: tuple[str, ...] = ()
    preset: Preset = "reference_code"  # attack preset (uaelab.attacks.PRESETS), as Tables 4 and 6
    profile: str | None = None  # settings profile of the attacks (None: $UAELAB_PROFILE or quick)
    device: str = "cpu"  # where the model trains and is attacked ("cuda" for a GPU)

    # test error first: the tables lead with it; both are per-pixel MSEs, lower is better
    metrics: ClassVar[dict[str, tuple[str, bool]]] = {"error": ("lower", True), "train_error": ("lower", True)}

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name or ""):
            raise ValueError(f"name {self.name!r} names cache folders: use letters, digits, '_', '.' or '-'")
        if not (isinstance(self.model, type) and issubclass(self.model, torch.nn.Module)):
            raise ValueError(f"model must be a torch.nn.Module subclass (the class, not an instance), "
                             f"got {self.model!r}")
        settings = TrainSettings() if self.train_settings is None else self.train_settings
        if not isinstance(settings, TrainSettings):
            raise ValueError(f"train_settings must be a uaelab.models.train.TrainSettings, "
                             f"got {type(settings).__name__}")
        object.__setattr__(self, "train_settings", settings)
        object.__setattr__(self, "attack_overrides", tuple(self.attack_overrides))
        apply_overrides(_attack_settings(), self.attack_overrides)  # raises on a misspelt name or value
        object.__setattr__(self, "preset", check_preset(self.preset))
        object.__setattr__(self, "profile", active_profile(self.profile))

    def config(self) -> dict[str, Any]:
        # a subclass's own code (e.g. its evaluate) changes the rows, so it keys them too
        return {"task": [type(self).__qualname__, code_digest(type(self), below=AutoencoderTask)],
                "model": f"{self.model.__module__}.{self.model.__qualname__}", "code": code_digest(self.model),
                "model_kwargs": self.model_kwargs, "train": self.train_settings.to_dict(),
                "attack_overrides": list(self.attack_overrides), "preset": self.preset, "profile": self.profile,
                "device": self.device}

    def train(self, x: torch.Tensor, y: torch.Tensor | None, seed: int, epoch_scale: float = 1.0,
              state_path: Path | None = None) -> torch.nn.Module:
        s = self.train_settings.replace(seed=seed)
        if epoch_scale != 1.0:  # the rule of scaled_recipe: keep the gradient steps (budget="steps")
            s = s.replace(epochs=max(1, round(s.epochs * epoch_scale)))
        seed_everything(derive_seed(seed, "init", "autoencoder"))
        model = self.model(tuple(x.shape[1:]), **self.model_kwargs).to(self.device)
        with torch.no_grad(), eval_mode(model):
            out = model(x[:2].to(self.device))
        if tuple(out.shape) != tuple(x[:2].shape):
            raise ValueError(f"{self.model.__name__} maps inputs of shape {tuple(x[:2].shape)} to {tuple(out.shape)}; "
                             "an autoencoder must return its input's shape (end with nn.Unflatten(1, shape))")
        fit(model, x, settings=s, progress=False, desc=self.name, state_path=state_path)
        return model

    def evaluate(self, model: torch.nn.Module, data: Any) -> dict[str, float]:
        return {"error": reconstruction_error(model, data.x_test),
                "train_error": reconstruction_error(model, data.x_train)}

    def make_attack(self, method: Method, model: torch.nn.Module, seed: int) -> Any:
        # each attack takes the entries of its own component and "mine.*", then the method's own
        # values, which define it (start-only is T=1, closed-form its estimator)
        return make_attack(method.attack, model, profile=self.profile, seed=seed, preset=self.preset,
                           kind="autoencoder", **attack_overrides(method, self.attack_overrides))


def _attack_settings() -> dict[str, Settings]:
    """Default settings of MINE and of every registered attack's component, to check overrides on."""
    return {"mine": MineSettings(), **{c: cls() for c, cls in attack_components().items()}}


def _code_parts(code: types.CodeType) -> list[Any]:
    """What a code object runs, without its file name and line numbers (they change between
    notebook sessions and cell edits that leave the code alone)."""
    consts = []
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            consts.append(_code_parts(c))
        else:  # a frozenset's repr follows string hashing, which changes per process
            consts.append(sorted(map(repr, c)) if isinstance(c, frozenset) else repr(c))
    return [code.co_code.hex(), consts, list(code.co_names), list(code.co_varnames)]


def code_digest(cls: type, below: type | None = None) -> str:
    """A digest of what ``cls`` runs: the code of every function it and its bases define (not
    torch's, nor ``below`` and its bases), their default arguments and the plain class
    attributes. The same class defined again (a new session, another file position) gives the
    same digest; an edit of its code gives another, so a cache keyed by it never returns a stale
    model."""
    parts = []
    stop = set(below.__mro__) if below is not None else set()
    for klass in cls.__mro__:
        if klass is object or klass in stop or klass.__module__.split(".")[0] == "torch":
            continue
        for name, value in sorted(vars(klass).items()):
            func = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            code = getattr(func, "__code__", None)
            if code is not None:
                parts.append([klass.__qualname__, name, _code_parts(code), repr(func.__defaults__),
                              repr(func.__kwdefaults__)])
            elif not name.startswith("__") and isinstance(value, (int, float, str, bool, tuple, type(None))):
                parts.append([klass.__qualname__, name, repr(value)])
    return fingerprint(parts)
