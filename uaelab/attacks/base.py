"""Shared base of every solver: input checks, device and mode handling, batching, results.

A solver subclasses :class:`Attack` and implements ``_run(x, y, idx, criterion)`` for one chunk
of samples already on the model's device; :meth:`Attack.__call__` does everything else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd
import torch
from torch import Tensor, nn

from uaelab.attacks import criteria as C
from uaelab.mi.mine import MineSettings, PerSampleMINE, closed_form_mi
from uaelab.utils import check_epsilon, check_unit_interval, fingerprint, model_device

HISTORY_KEYS = ("mi", "f", "c", "success")


@dataclass
class AttackResult:
    """Result of one attack call on B samples (all tensors on the input's device).

    x_adv: [B, ...] float32 in [0, 1]; the original x where the attack failed.
    success: bool [B], f(x_adv) <= 0 for the returned x_adv.
    mi_final: [B] MI estimate at the last iteration; mi_best: [B] MI of the returned x_adv
    (NaN where no MI was measured); c: [B] final penalty coefficient; f: [B] criterion value
    of the returned x_adv. history: {"mi", "f", "c", "success"} -> [T, B] per iteration.
    """

    x_adv: Tensor
    success: Tensor
    mi_final: Tensor
    mi_best: Tensor
    c: Tensor
    f: Tensor
    history: dict[str, Tensor] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        """Fraction of samples attacked successfully."""
        return float(self.success.float().mean()) if self.success.numel() else float("nan")

    def to_frame(self, indices: Tensor | None = None):
        """Long pandas DataFrame: one row per (iteration, sample) with mi, f, c, success."""
        if not self.history:
            return pd.DataFrame(columns=["iteration", "sample", "mi", "f", "c", "success"])
        T, B = self.history["mi"].shape
        samples = torch.arange(B) if indices is None else indices.cpu()
        it = torch.arange(1, T + 1).repeat_interleave(B)
        return pd.DataFrame({
            "iteration": it.numpy(),
            "sample": samples.repeat(T).numpy(),
            **{k: self.history[k].detach().cpu().reshape(-1).numpy() for k in HISTORY_KEYS},
        })

    @staticmethod
    def cat(parts: list["AttackResult"]) -> "AttackResult":
        """Join results of consecutive chunks of one batch along the sample axis."""
        if len(parts) == 1:
            return parts[0]
        keys = parts[0].history.keys()
        return AttackResult(
            *(torch.cat([getattr(p, n) for p in parts]) for n in
              ("x_adv", "success", "mi_final", "mi_best", "c", "f")),
            history={k: torch.cat([p.history[k] for p in parts], dim=1) for k in keys},
        )


def attack_config(attack: Any, *, weights: bool = False) -> dict[str, Any]:
    """Everything an attack's output depends on besides its input: the one cache key and manifest
    entry for attacks (the augmentation's UAE folders, the experiments' caches and ``uaelab
    generate``'s resume check all use it, so a new attack needs nothing here).

    ``weights=True`` adds a fingerprint of the attacked model's weights, for caches that outlive
    one model (a retrained model must never reuse stale examples); an object that is not an
    :class:`Attack` (e.g. a user's noise function) contributes its ``settings``/``config``
    attributes where it has them.
    """
    out: dict[str, Any] = {"class": type(attack).__name__, "seed": getattr(attack, "seed", None)}
    for name, key in (("settings", "settings"), ("mine_settings", "mine")):
        value = getattr(attack, name, None)
        if value is not None and hasattr(value, "key_dict"):
            out[key] = value.key_dict()
        elif value is not None and hasattr(value, "to_dict"):
            out[key] = value.to_dict()
    if getattr(attack, "config", None) is not None:
        out["config"] = attack.config
    model = getattr(attack, "model", None)
    if weights and isinstance(model, nn.Module):
        out["model"] = fingerprint(*model.state_dict().values())
    return out


def project(x_adv: Tensor, x: Tensor, eps: float) -> Tensor:
    """Projection onto {|x' - x| <= eps} ∩ [0, 1] (both boxes: clipping is exact)."""
    return torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp(0.0, 1.0)


def default_criterion(model: nn.Module, settings: Any, kind: str | None = None):
    """The default criterion factory ``(x, y) -> Criterion`` of an attack with ``settings`` (its
    ``kappa``, ``recon_norm`` and ``units`` where it has them): C&W for ``kind="classifier"``,
    reconstruction for ``"autoencoder"``, or with ``kind=None`` inferred from each batch
    (:func:`uaelab.attacks.criteria.infer`). :func:`uaelab.attacks.make_attack` and :class:`Attack`
    both take it from here."""
    kappa = getattr(settings, "kappa", 0.0)
    norm = getattr(settings, "recon_norm", "l2")
    units = getattr(settings, "units", "native")
    if kind == "classifier":
        return C.cw(model, kappa=kappa)
    if kind == "autoencoder":
        return C.reconstruction(model, norm=norm, kappa=kappa, units=units)
    return lambda x, y: C.infer(model, x, y, kappa=kappa, norm=norm, units=units)


class Attack:
    """Base class. ``Attack(model, criterion=None, settings=None, *, seed=0, ...)``, then
    ``attack(x, y=None, *, indices=None) -> AttackResult``.

    ``criterion`` is a factory ``(x, y) -> Criterion`` (see :mod:`uaelab.attacks.criteria`: ``cw``,
    ``reconstruction``, ``contrastive``), a ready :class:`~uaelab.attacks.criteria.Criterion` for one
    fixed batch, or None to infer it from the model (autoencoder -> reconstruction, classifier
    with labels -> C&W). ``indices`` are dataset indices that seed each sample's random
    streams (default ``arange(B)``), so a sample's result does not depend on its batch mates.
    ``max_batch`` splits large batches into chunks (memory); results do not change.
    ``callback``, if given, receives ``{"t": iteration, "x": x, "x_adv": x', "c": c}`` after
    every iteration (for monitoring and for the projection-invariant tests).
    """

    settings_cls: type | None = None

    def __init__(self, model: nn.Module, criterion: Any = None, settings: Any = None, *,
                 mine: MineSettings | None = None, seed: int = 0, feature: nn.Module | None = None,
                 max_batch: int | None = None, progress: bool = False,
                 callback: Callable[[dict], None] | None = None):
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.criterion = C.as_factory(criterion)
        if settings is None and self.settings_cls is not None:
            settings = self.settings_cls()
        self.settings = settings
        self.mine_settings = mine if mine is not None else MineSettings()
        if self.mine_settings.sampler == "conv" and feature is None:
            feature = getattr(model, "first_conv", None)
        self.feature = feature
        self.seed = int(seed)
        self.max_batch = max_batch
        self.progress = progress
        self.callback = callback  # called as callback({"t", "x", "x_adv", "c"}) every iteration
        if settings is not None and hasattr(settings, "epsilon"):
            check_epsilon(settings.epsilon)

    # -- helpers for solvers ----------------------------------------------------------------
    def make_criterion(self, x: Tensor, y: Tensor | None) -> C.Criterion:
        factory = self.criterion if self.criterion is not None else default_criterion(self.model, self.settings)
        crit = factory(x, y)
        if not isinstance(crit, C.Criterion) and not callable(crit):
            raise ValueError("the criterion factory must return a Criterion")
        size = getattr(crit, "batch_size", None)
        if size is not None and size != x.shape[0]:
            raise ValueError(f"the criterion was built for a batch of {size} samples, not {x.shape[0]}; "
                             "pass a factory (x, y) -> Criterion, e.g. uaelab.attacks.criteria.cw(model)")
        return crit

    def direction(self, crit: C.Criterion) -> str:
        d = getattr(self.settings, "direction", "auto")
        if d == "auto":
            d = getattr(crit, "mi_direction", None)
            if d not in ("max", "min"):
                raise ValueError("the criterion does not state mi_direction; set direction='max' or 'min'")
        return d

    def evaluate(self, crit: C.Criterion, x_adv: Tensor) -> Tensor:
        f = crit(x_adv)
        if f.shape != (x_adv.shape[0],):
            raise ValueError(f"the criterion must return one value per sample [B], got {tuple(f.shape)}")
        return f

    def notify(self, t: int, x: Tensor, x_adv: Tensor, c: Tensor | None) -> None:
        if self.callback is not None:
            self.callback({"t": t, "x": x.detach(), "x_adv": x_adv.detach(), "c": None if c is None else c.detach()})

    def new_mine(self, x: Tensor, idx: Tensor) -> PerSampleMINE:
        # the random projection depends on the seed only, so it is kept between calls: attacking
        # a dataset batch by batch (or one sample at a time) draws the K·m·d matrix once
        mine = PerSampleMINE(self.mine_settings, x, seed=self.seed, indices=idx, feature=self.feature,
                             sampler=getattr(self, "_sampler", None))
        if mine.s.sampler == "random":
            self._sampler = mine.sampler
        return mine

    def measure_mi(self, x: Tensor, x_adv: Tensor, idx: Tensor, steps: int) -> Tensor:
        """MI of (x, x_adv) from freshly trained per-sample networks (``steps`` Adam steps);
        used by the baselines that do not estimate MI while attacking. NaN when steps = 0.
        With ``mine.estimator="closed-form"`` the exact value (:func:`uaelab.mi.mine.closed_form_mi`)."""
        ms = self.mine_settings
        if ms.estimator == "closed-form":
            with torch.no_grad():
                return closed_form_mi(x, x_adv, ms.m, floor=ms.closed_form_floor)
        if steps <= 0:
            return torch.full((x.shape[0],), float("nan"), device=x.device)
        with torch.no_grad():
            mine = self.new_mine(x, idx)
            b = mine.features(x_adv, it=0)
            mine.train(x_adv, b, it=0, steps=steps)
            return mine.value(b, it=0)[0]

    def _check_model_input(self, x1: Tensor) -> None:
        """One forward pass on one sample, so that a sample the model cannot take fails with a
        message naming the shapes instead of a matmul error deep inside the attack."""
        try:
            with torch.no_grad():
                self.model(x1)
        except RuntimeError as err:
            want = getattr(self.model, "in_shape", None)
            hint = f"; it was built for samples of shape {tuple(want)}" if want is not None else ""
            raise ValueError(f"the model cannot take samples of shape {tuple(x1.shape[1:])}{hint} "
                             f"({str(err).splitlines()[0]}); pass data of the size the model was trained on") from None

    # -- the call ---------------------------------------------------------------------------
    def _run(self, x: Tensor, y: Tensor | None, idx: Tensor, crit: C.Criterion) -> AttackResult:
        raise NotImplementedError

    def __call__(self, x: Tensor, y: Tensor | None = None, *, indices: Tensor | None = None) -> AttackResult:
        """Attack a batch. x: [B, C, H, W] or [B, d] float in [0, 1]; y: int64 [B] labels
        (supervised criteria); indices: int64 [B] dataset indices for the random streams."""
        check_unit_interval(x, "x", ndim=(2, 3, 4))
        if x.dim() == 3:
            raise ValueError(f"x has shape {tuple(x.shape)}: images are N×C×H×W and tabular data N×d; "
                             "for a single C×H×W image pass x[None]")
        B = x.shape[0]
        if B == 0:
            raise ValueError("x is an empty batch; pass at least one sample")
        if y is not None:
            y = torch.as_tensor(y)
            if y.dim() != 1 or y.shape[0] != B:
                raise ValueError(f"y must hold one label per sample: {B} expected, got shape {tuple(y.shape)}")
            y = y.long()
        idx = torch.arange(B) if indices is None else torch.as_tensor(indices).long().cpu()
        if idx.shape != (B,):
            raise ValueError(f"indices must hold one dataset index per sample: {B} expected, got {tuple(idx.shape)}")
        in_device = x.device
        device = model_device(self.model)
        was_training = self.model.training
        req = [p.requires_grad for p in self.model.parameters()]
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)  # only gradients with respect to x' are needed
        try:
            x = x.to(device, torch.float32)
            y = None if y is None else y.to(device)
            self._check_model_input(x[:1])
            step = self.max_batch or B
            parts = []
            for s in range(0, B, step):
                xs, ys, ids = x[s:s + step], None if y is None else y[s:s + step], idx[s:s + step]
                crit = self.make_criterion(xs, ys)
                parts.append(self._run(xs, ys, ids, crit))
            res = AttackResult.cat(parts)
        finally:
            self.model.train(was_training)
            for p, r in zip(self.model.parameters(), req):
                p.requires_grad_(r)
        for name in ("x_adv", "success", "mi_final", "mi_best", "c", "f"):
            setattr(res, name, getattr(res, name).detach().to(in_device))
        res.history = {k: v.detach().to(in_device) for k, v in res.history.items()}
        return res
