"""Attacks: the MinMax solver (Algorithm 1), the penalty/binary-search baseline, PGD, L2-UAE and
Gaussian augmentation, all with one call and one result type.

Every solver is ``Attack(model, criterion=None, settings=None, *, mine=None, seed=0,
feature=None, max_batch=None, progress=False, callback=None)`` and is called as
``attack(x, y=None, *, indices=None) -> AttackResult``:

* ``x``: [B, C, H, W] or [B, d] float in [0, 1]; ``y``: int64 [B] labels (supervised only);
  ``indices``: int64 [B] dataset indices (default ``arange(B)``). Every random choice of
  sample i (its statistics network, its shuffles, its δ0 or noise) comes from a stream seeded
  by ``(seed, index_i)``, and the random projection from ``(seed, draw)``, so a sample's result
  does not depend on which samples share its batch.
* **Criterion design**: an attack holds a criterion *factory* ``(x, y) -> Criterion`` and
  builds the criterion for each batch (a reconstruction criterion needs that batch's x, C&W
  its labels). Factories: :func:`uaelab.attacks.criteria.cw`, :func:`~uaelab.attacks.criteria.reconstruction`,
  :func:`~uaelab.attacks.criteria.contrastive`; any ``lambda x, y: FromCallable(...)`` works. A ready
  ``Criterion`` instance is accepted for a single fixed batch. With ``criterion=None`` it is
  inferred: a model whose output has the input's shape is an autoencoder (reconstruction);
  a [B, classes] output with labels is a classifier (C&W).
* Whether MI is maximised or minimised comes from ``criterion.mi_direction`` (or the
  settings' ``direction``), never guessed.
* The call puts the model in eval mode on its own device and restores its mode and its
  parameters' ``requires_grad`` afterwards. Results come back on the input's device.

:func:`make_attack` builds a configured attack by method name from profiles and
``"component.field=value"`` overrides (the CLI ``uaelab generate`` and notebooks use it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

from torch import nn

from uaelab import plugins
from uaelab.attacks import criteria as C
from uaelab.attacks.base import Attack, AttackResult, attack_config, default_criterion, project
from uaelab.attacks.descent import glorot_limit
from uaelab.attacks.gaussian import Gaussian, GaussianSettings
from uaelab.attacks.l2uae import L2UAE, L2UAESettings
from uaelab.attacks.minmax import REFERENCE_CODE, MinMax, MinMaxSettings
from uaelab.attacks.nomi import NoMI
from uaelab.attacks.penalty import Penalty, PenaltySettings, bracket_update
from uaelab.attacks.pgd import PGD, PGDSettings
from uaelab.config import active_profile, apply_overrides
from uaelab.mi.mine import MineSettings
from uaelab.models.simclr import simclr_augment

__all__ = [
    "attack_config",
    "Attack", "AttackResult", "project", "MinMax", "MinMaxSettings", "Penalty", "PenaltySettings",
    "bracket_update", "PGD", "PGDSettings", "L2UAE", "L2UAESettings", "Gaussian", "GaussianSettings",
    "NoMI", "make_attack", "register_attack", "METHODS", "MethodSpec", "PRESETS", "REFERENCE_CODE", "glorot_limit",
]

Method = str  # a name in METHODS: mine-uae, l2-uae, gaussian, mine-sup, pgd, penalty, no-mi, or registered
KINDS = ("autoencoder", "classifier", "simclr")  # model kinds with a default criterion


@dataclass(frozen=True)
class MethodSpec:
    """One attack method: what :func:`make_attack` builds for its name."""

    cls: type[Attack]  # the solver
    component: str  # its settings component (for "component.field=value" overrides)
    kind: str  # default model kind: autoencoder (reconstruction), classifier (C&W) or simclr
    mine: dict[str, Any] = field(default_factory=dict)  # MINE settings this method changes
    help: str = ""  # one line for the CLI
    label: str = ""  # its column name in the augmentation tables (default: the name)
    keep: tuple[str, ...] = ()  # settings a preset leaves at this method's own value

    @property
    def supervised(self) -> bool:
        """Whether its default criterion (C&W on a classifier) needs the labels."""
        return self.kind == "classifier"


METHODS: dict[str, MethodSpec] = {
    "mine-uae": MethodSpec(MinMax, "minmax", "autoencoder",
                           help="unsupervised MinMax, MI minimised (the paper's UAE)"),
    "mine-sup": MethodSpec(MinMax, "minmax", "classifier", {"steps": 1},  # released: 1 MINE step
                           help="supervised MinMax, MI maximised (uses labels)"),
    "no-mi": MethodSpec(NoMI, "minmax", "autoencoder",
                        help="ablation: Algorithm 1 without the MI term"),
    "l2-uae": MethodSpec(L2UAE, "l2uae", "autoencoder", help="maximise the reconstruction loss instead of -MI"),
    "gaussian": MethodSpec(Gaussian, "gaussian", "autoencoder", help="Gaussian noise baseline"),
    "pgd": MethodSpec(PGD, "pgd", "classifier", help="projected gradient descent on the criterion"),
    "penalty": MethodSpec(Penalty, "penalty", "classifier", {"lr": 2e-5},  # released binary search
                          help="penalty method with binary search over c", keep=("c0",)),
}



def register_attack(name: str, cls: type[Attack], *, component: str, kind: str = "autoencoder",
                    mine: dict[str, Any] | None = None, help: str = "", label: str = "") -> MethodSpec:
    """Make ``make_attack(name, ...)``, ``uaelab generate --method name`` and the augmentation
    method ``name`` (:mod:`uaelab.augment`) build ``cls``.

    ``cls`` subclasses :class:`Attack` with a ``settings_cls`` registered as ``component``
    (:func:`uaelab.config.register`), so ``"component.field=value"`` overrides reach it;
    ``kind`` picks the default criterion (autoencoder, classifier or simclr); ``mine``: MINE
    settings this method changes. Re-registering a name raises.
    """
    if name in METHODS:
        raise ValueError(f"attack method {name!r} is registered already; pick another name")
    if not (isinstance(cls, type) and issubclass(cls, Attack)):
        raise ValueError(f"cls must be a subclass of uaelab.attacks.Attack, got {cls!r}")
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}")
    METHODS[name] = spec = MethodSpec(cls, component, kind, dict(mine or {}), help, label)
    return spec


# Named configurations. "paper": the paper's text (c0 = 0, L2 norms, δ0 = 0, the original
# returned when nothing succeeds). "reference_code": the authors' released code, which produced
# the paper's numbers (REFERENCE.md): c0 = 1e-3, summed squared reconstruction error for the
# criterion and the L2-UAE objective, the lowest-f iterate when nothing succeeds, a random
# Glorot-uniform δ0, the projection redrawn at every evaluation.
# "simclr": what the released SimCLR attack (contrast_attack.py) does besides: its tiled-copies
# criterion (uaelab.attacks.criteria.TiledContrastive) and the dual step with t^(1/2).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {},
    "reference_code": {"attack": REFERENCE_CODE, "mine": {"projection": "per_evaluation"},
                       "simclr": {"contrastive": "tiled", "dual_power": 0.5}},
}
Preset = Literal["paper", "reference_code"]


def check_preset(preset: str) -> str:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(map(repr, PRESETS))} "
                         "('reference_code' = the authors' released code, 'paper' = the paper's text)")
    return preset


def make_attack(method: Method, model: nn.Module, *, profile: str | None = None,
                overrides: Iterable[str] = (), seed: int = 0,
                kind: Literal["autoencoder", "classifier", "simclr"] | None = None,
                preset: Preset = "paper", criterion=None,
                augment=None, feature: nn.Module | None = None, max_batch: int | None = None,
                progress: bool = False, callback=None) -> Attack:
    """A configured attack by name.

    method: "mine-uae" (unsupervised MinMax, MI minimised), "mine-sup" (supervised MinMax,
    MI maximised, 1 MINE step per iteration), "no-mi" (the MinMax loop without the MI term),
    "l2-uae", "gaussian", "pgd", "penalty" (binary search, MINE lr 2e-5). kind picks the default
    criterion: "autoencoder" -> reconstruction, "classifier" -> C&W margin, "simclr" ->
    contrastive (views from ``augment``, default SimCLR's augmentations). preset (see
    :data:`PRESETS`): "paper" (the paper's text) or "reference_code" (the released code's
    choices: c0 = 1e-3, summed squares for the criterion and the L2-UAE objective, lowest-f
    fallback, Glorot-uniform random δ0, projection redrawn per evaluation; for kind="simclr"
    also the tiled-copies criterion and the dual step with t^(1/2)).
    overrides: ``"mine.K=96"``, ``"minmax.T=20"``, ``"mine.estimator=closed-form"`` (the exact
    MI of random-sampling mode instead of MINE networks), ... (component names ``mine`` and the
    method's settings component). They apply after the profile and the preset. Unknown names
    raise ValueError.
    """
    if method not in METHODS:
        plugins.load_plugins(plugins.ATTACKS)  # not built in: maybe an installed plugin's (uaelab.plugins)
    if method not in METHODS:
        raise ValueError(f"unknown attack method {method!r}; choose one of {', '.join(METHODS)}")
    check_preset(preset)
    spec = METHODS[method]
    cls, comp = spec.cls, spec.component
    kind = kind or spec.kind
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}")
    prof = active_profile(profile)
    mine = MineSettings.from_profile(prof)
    settings = cls.settings_cls.from_profile(prof)
    if spec.mine:
        mine = mine.replace(**spec.mine)
    ref = PRESETS[preset]
    if ref:
        mine = mine.replace(**ref.get("mine", {}))
        names = settings.field_names()
        attack_ref = {**ref.get("attack", {}), **(ref.get("simclr", {}) if kind == "simclr" else {})}
        settings = settings.replace(**{k: v for k, v in attack_ref.items()
                                       if k in names and k not in spec.keep})
    comps = apply_overrides({"mine": mine, comp: settings}, overrides)
    mine, settings = comps["mine"], comps[comp]
    if criterion is None:
        kappa = getattr(settings, "kappa", 0.0)
        if kind in ("classifier", "autoencoder"):
            criterion = default_criterion(model, settings, kind)
        elif getattr(settings, "contrastive", "views") == "tiled":
            criterion = C.tiled_contrastive(model, copies=settings.copies, kappa=kappa, augment=augment)
        else:
            def criterion(x, y=None, _aug=augment):
                if _aug is None:
                    _aug = simclr_augment(tuple(x.shape[1:]))
                return C.Contrastive(model, x, augment=_aug, kappa=kappa, seed=seed)
    return cls(model, criterion, settings, mine=mine, seed=seed, feature=feature,
               max_batch=max_batch, progress=progress, callback=callback)
