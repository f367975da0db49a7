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

:func:`make_attack` builds a configured attack by method name from the profile, a preset
(:data:`PRESETS`) and typed overrides (``attack={"T": 20}``, ``mine={"K": 96}``); the CLI's
``"component.field=value"`` text goes through its ``overrides``. Every part of the package
(experiments, the augmentation pipeline, ``uaelab generate``, the notebooks) builds attacks with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping

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
from uaelab.attacks.presets import ALL_PRESET_FIELDS, PRESETS, Preset, check_preset, preset_values
from uaelab.config import active_profile, apply_overrides, did_you_mean
from uaelab.mi.mine import MineSettings
from uaelab.models.simclr import simclr_augment

__all__ = [
    "attack_config",
    "Attack", "AttackResult", "project", "MinMax", "MinMaxSettings", "Penalty", "PenaltySettings",
    "bracket_update", "PGD", "PGDSettings", "L2UAE", "L2UAESettings", "Gaussian", "GaussianSettings",
    "NoMI", "make_attack", "register_attack", "METHODS", "MethodSpec",
    "PRESETS", "Preset", "check_preset", "REFERENCE_CODE", "glorot_limit",
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
    # the settings fields a preset may change (PRESETS); every other field keeps the method's value
    preset_fields: tuple[str, ...] = ()

    @property
    def supervised(self) -> bool:
        """Whether its default criterion (C&W on a classifier) needs the labels."""
        return self.kind == "classifier"


_MINMAX_FAMILY = ALL_PRESET_FIELDS  # Algorithm 1's solvers take every preset field
METHODS: dict[str, MethodSpec] = {
    "mine-uae": MethodSpec(MinMax, "minmax", "autoencoder", preset_fields=_MINMAX_FAMILY,
                           help="unsupervised MinMax, MI minimised (the paper's UAE)"),
    "mine-sup": MethodSpec(MinMax, "minmax", "classifier", {"steps": 1},  # released: 1 MINE step
                           preset_fields=_MINMAX_FAMILY, help="supervised MinMax, MI maximised (uses labels)"),
    "no-mi": MethodSpec(NoMI, "minmax", "autoencoder", preset_fields=_MINMAX_FAMILY,
                        help="ablation: Algorithm 1 without the MI term"),
    "l2-uae": MethodSpec(L2UAE, "l2uae", "autoencoder", preset_fields=_MINMAX_FAMILY,
                         help="maximise the reconstruction loss instead of -MI"),
    "gaussian": MethodSpec(Gaussian, "gaussian", "autoencoder", preset_fields=("recon_norm",),
                           help="Gaussian noise baseline"),
    "pgd": MethodSpec(PGD, "pgd", "classifier", preset_fields=("recon_norm",),
                      help="projected gradient descent on the criterion"),
    # c0 stays the penalty method's own (Carlini-Wagner's 1e-3 start of the binary search)
    "penalty": MethodSpec(Penalty, "penalty", "classifier", {"lr": 2e-5},  # released binary search
                          preset_fields=("recon_norm", "fallback", "delta_init"),
                          help="penalty method with binary search over c"),
}


def register_attack(name: str, cls: type[Attack], *, component: str, kind: str = "autoencoder",
                    mine: dict[str, Any] | None = None, help: str = "", label: str = "",
                    preset_fields: tuple[str, ...] = ()) -> MethodSpec:
    """Make ``make_attack(name, ...)``, ``uaelab generate --method name`` and the augmentation
    method ``name`` (:mod:`uaelab.augment`) build ``cls``.

    ``cls`` subclasses :class:`Attack` with a ``settings_cls`` registered as ``component``
    (:func:`uaelab.config.register`), so overrides reach it; ``kind`` picks the default
    criterion (autoencoder, classifier or simclr); ``mine``: MINE settings this method changes;
    ``preset_fields``: the fields of its settings that a preset (:data:`PRESETS`) may set, e.g.
    ``("recon_norm",)``; by default a preset changes none of them, whatever their names.
    Re-registering a name raises.
    """
    if name in METHODS:
        raise ValueError(f"attack method {name!r} is registered already; pick another name")
    if not (isinstance(cls, type) and issubclass(cls, Attack)):
        raise ValueError(f"cls must be a subclass of uaelab.attacks.Attack, got {cls!r}")
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}")
    names = cls.settings_cls.field_names() if cls.settings_cls is not None else []
    unknown = [f for f in preset_fields if f not in names]
    if unknown:
        raise ValueError(f"preset_fields {unknown} are not settings of {cls.__name__}; "
                         f"its settings: {', '.join(names)}")
    METHODS[name] = spec = MethodSpec(cls, component, kind, dict(mine or {}), help, label, tuple(preset_fields))
    return spec


def make_attack(method: Method, model: nn.Module, *, profile: str | None = None,
                attack: Mapping[str, Any] | None = None, mine: Mapping[str, Any] | None = None,
                overrides: Iterable[str] = (), seed: int = 0,
                kind: Literal["autoencoder", "classifier", "simclr"] | None = None,
                preset: Preset = "paper", criterion=None,
                augment=None, feature: nn.Module | None = None, max_batch: int | None = None,
                progress: bool = False, callback=None) -> Attack:
    """A configured attack by name: the one constructor of every attack in the package.

    method: "mine-uae" (unsupervised MinMax, MI minimised), "mine-sup" (supervised MinMax,
    MI maximised, 1 MINE step per iteration), "no-mi" (the MinMax loop without the MI term),
    "l2-uae", "gaussian", "pgd", "penalty" (binary search, MINE lr 2e-5). kind picks the default
    criterion: "autoencoder" -> reconstruction, "classifier" -> C&W margin, "simclr" ->
    contrastive (views from ``augment``, default SimCLR's augmentations). preset (see
    :data:`PRESETS`): "paper" (the paper's text) or "reference_code" (the released code's
    choices: c0 = 1e-3, summed squares for the criterion and the L2-UAE objective, lowest-f
    fallback, Glorot-uniform random δ0, projection redrawn per evaluation; for kind="simclr"
    also the tiled-copies criterion and the dual step with t^(1/2)); it changes only the
    fields the method declares (``MethodSpec.preset_fields``).

    Settings are built as: the solver's defaults, the profile's values, the method's own MINE
    changes, the preset, then the caller's values. ``attack``: typed values of the method's
    settings (``{"T": 20, "epsilon": 0.3}``); ``mine``: of the per-sample MINE settings
    (``{"K": 96, "estimator": "closed-form"}``). ``overrides``: the same as text,
    ``"minmax.T=20"``, ``"mine.K=96"`` (the CLI's ``--set``; code passes ``attack``/``mine``).
    Unknown or misspelt names raise ``ValueError`` with the closest valid name.
    """
    if method not in METHODS:
        plugins.load_plugins(plugins.ATTACKS)  # not built in: maybe an installed plugin's (uaelab.plugins)
    if method not in METHODS:
        raise ValueError(f"unknown attack method {method!r}.{did_you_mean(method, METHODS)} "
                         f"Choose one of {', '.join(METHODS)}")
    check_preset(preset)
    spec = METHODS[method]
    cls, comp = spec.cls, spec.component
    kind = kind or spec.kind
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}")
    prof = active_profile(profile)
    mine_s = MineSettings.from_profile(prof).replace(**spec.mine)
    settings = cls.settings_cls.from_profile(prof)
    preset_attack, preset_mine = preset_values(preset, kind, spec.preset_fields)
    mine_s = mine_s.replace(**{**preset_mine, **(mine or {})})
    settings = settings.replace(**{**preset_attack, **(attack or {})})
    comps = apply_overrides({"mine": mine_s, comp: settings}, overrides)
    mine_s, settings = comps["mine"], comps[comp]
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
    return cls(model, criterion, settings, mine=mine_s, seed=seed, feature=feature,
               max_batch=max_batch, progress=progress, callback=callback)
