"""Attack criteria f_x(x'): one value per sample, the attack succeeds where f <= 0.

Every criterion is built for one batch (it may hold the batch's x or labels) and is called as
``criterion(x_adv) -> Tensor[B]`` (differentiable in ``x_adv``). It carries ``mi_direction``:
``"max"`` when the attack should keep x' as similar to x as possible (supervised: maximise MI)
and ``"min"`` when it should make x' as different as possible (unsupervised: minimise MI).

* :class:`CWMargin` - Carlini–Wagner margin on logits (untargeted / targeted, κ). "max".
* :class:`Reconstruction` - ``||x - Φ(x')|| - ||x - Φ(x)|| + κ`` for an autoencoder Φ. "min".
* :class:`Contrastive` - contrastive loss of x' against x's views minus that of x. "min".
* :class:`TiledContrastive` - the released SimCLR criterion (tiled copies; constant, see there). "min".
* :class:`FromCallable` - any ``fn(x_adv) -> Tensor[B]``; the direction must be given.
"""
from __future__ import annotations

import math
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Direction = Literal["max", "min"]


def _check_direction(d: str) -> str:
    if d not in ("max", "min"):
        raise ValueError(f"mi_direction must be 'max' (supervised) or 'min' (unsupervised), got {d!r}")
    return d


class Criterion:
    """Base class: ``__call__(x_adv [B, ...]) -> Tensor[B]``, success where <= 0."""

    # "max" (supervised) or "min" (unsupervised); no default, so a subclass that forgets it is
    # refused by the attack instead of silently treated as supervised
    mi_direction: str | None = None
    batch_size: int | None = None  # the batch it was built for (None: any)

    def __call__(self, x_adv: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def check_logits(out: Tensor) -> None:
    """Raise ValueError when a classifier's output looks like probabilities, not logits.

    Like the released code's check: every row non-negative, at most 1, and summing to 1.
    A softmax output would make the C&W margin saturate and its gradients vanish.
    """
    if out.dim() != 2:
        raise ValueError(f"the classifier must return logits [B, classes], got shape {tuple(out.shape)}")
    with torch.no_grad():
        if out.shape[1] > 1 and bool((out >= 0).all() and (out <= 1).all()) and bool(
                torch.allclose(out.sum(1), torch.ones_like(out[:, 0]), atol=1e-4)):
            raise ValueError("the model returns probabilities (rows in [0,1] summing to 1); the "
                             "Carlini–Wagner criterion needs logits: remove the final softmax")


class CWMargin(Criterion):
    """Carlini–Wagner margin: untargeted ``logit_y - max_{j≠y} logit_j + κ`` or targeted
    ``max_{j≠t} logit_j - logit_t + κ``. ``model`` returns logits [B, classes]; ``y`` int64 [B].
    """

    mi_direction = "max"

    def __init__(self, model: nn.Module, y: Tensor, kappa: float = 0.0, target: Tensor | None = None):
        if not isinstance(y, Tensor) or y.dim() != 1:
            raise ValueError("y must be an int64 tensor of labels [B]")
        if target is not None and (not isinstance(target, Tensor) or target.shape != y.shape):
            raise ValueError("target must be an int64 tensor with one class per sample, like y")
        if kappa < 0:
            raise ValueError(f"kappa must be >= 0, got {kappa}")
        self.model, self.kappa = model, float(kappa)
        self.y = y.long()
        self.target = None if target is None else target.long()
        self.batch_size = y.shape[0]

    def __call__(self, x_adv: Tensor) -> Tensor:
        logits = self.model(x_adv)
        check_logits(logits)
        if self.y.max() >= logits.shape[1] or self.y.min() < 0:
            raise ValueError(f"labels must lie in [0, {logits.shape[1] - 1}]")
        cls = self.y if self.target is None else self.target
        cls = cls.to(logits.device)
        own = logits.gather(1, cls[:, None]).squeeze(1)
        others = logits.masked_fill(F.one_hot(cls, logits.shape[1]).bool(), float("-inf")).amax(1)
        margin = own - others if self.target is None else others - own
        return margin + self.kappa


class Reconstruction(Criterion):
    """Unsupervised reconstruction criterion for an autoencoder Φ (any ``nn.Module`` x -> x̂):

    ``norm="l2"`` (paper): ``||x - Φ(x')||₂ - ||x - Φ(x)||₂ + κ``;
    ``norm="sq"`` (released code): summed squares ``||x - Φ(x')||² - ||x - Φ(x)||² + κ``.

    ``units="mnist"`` multiplies the loss difference by ``mnist_scale`` (784/d for inputs of
    fewer than 784 values, else 1): the released code's step sizes (α, β, c0) were set for sums
    over MNIST's 784 pixels, and on an 8×8 image the same sum is ~12× smaller, so c and c·∇f
    stay too small to move δ. The sign of f, hence success, does not change.
    """

    mi_direction = "min"

    def __init__(self, autoencoder: nn.Module, x: Tensor, norm: Literal["l2", "sq"] = "l2",
                 kappa: float = 0.0, units: Literal["native", "mnist"] = "native"):
        if norm not in ("l2", "sq"):
            raise ValueError(f"norm must be 'l2' (paper) or 'sq' (released code), got {norm!r}")
        if kappa < 0:
            raise ValueError(f"kappa must be >= 0, got {kappa}")
        self.model, self.norm, self.kappa = autoencoder, norm, float(kappa)
        self.scale = units_scale(units, x[0].numel())
        self.x = x.detach()
        self.batch_size = x.shape[0]
        with torch.no_grad():
            self.base = self.loss(x)

    def loss(self, x_adv: Tensor) -> Tensor:
        """Reconstruction loss of ``x_adv`` with respect to the original x, [B]."""
        out = self.model(x_adv)
        if out.shape != self.x.shape:
            raise ValueError(f"the autoencoder must return the input's shape {tuple(self.x.shape)}, "
                             f"got {tuple(out.shape)}")
        sq = (self.x - out).flatten(1).pow(2).sum(1)
        return sq if self.norm == "sq" else torch.sqrt(sq + 1e-12)

    def __call__(self, x_adv: Tensor) -> Tensor:
        diff = self.loss(x_adv) - self.base
        return (diff if self.scale == 1.0 else self.scale * diff) + self.kappa


MNIST_VALUES = 28 * 28  # the size the released code's step sizes were chosen for


def units_scale(units: str, d: int) -> float:
    """Factor that puts a loss summed over ``d`` values into ``units``: 1 for "native";
    max(1, 784/d) for "mnist" (see :class:`Reconstruction`)."""
    if units not in ("native", "mnist"):
        raise ValueError(f"units must be 'native' or 'mnist', got {units!r}")
    return max(1.0, MNIST_VALUES / d) if units == "mnist" else 1.0


class Contrastive(Criterion):
    """SimCLR criterion: the contrastive loss of x' against x's views is no greater than x's.

    ``encoder`` maps images to embeddings [B, e] (a SimCLR encoder with its projection head).
    Views of x come from ``views`` ([V, B, ...] tensor) or from ``augment(x)`` called
    ``n_views`` times under a seeded RNG. The loss of a query q (x or x') for sample i is the
    NT-Xent loss ``-mean_v log softmax_j(sim(q, k_j)/τ)`` over positives k = x_i's views and
    negatives = the other samples' views in ``negatives`` (default: the views of the rest of
    this batch, as in SimCLR - which makes f depend on the batch; pass a fixed ``negatives``
    tensor of embeddings [N, e] for batch-independent results).
    """

    mi_direction = "min"

    def __init__(self, encoder: nn.Module, x: Tensor, views: Tensor | None = None,
                 augment: Callable[[Tensor], Tensor] | None = None, n_views: int = 2,
                 temperature: float = 0.5, kappa: float = 0.0, negatives: Tensor | None = None,
                 seed: int = 0):
        if temperature <= 0:
            raise ValueError("temperature must be > 0")
        if views is None and augment is None:
            raise ValueError("Contrastive needs views= [V, B, ...] or augment= a callable x -> view")
        self.model, self.tau, self.kappa = encoder, float(temperature), float(kappa)
        self.batch_size = x.shape[0]
        with torch.no_grad():
            if views is None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    views = torch.stack([augment(x) for _ in range(n_views)])
            if views.shape[1] != x.shape[0]:
                raise ValueError("views must be [V, B, ...] with the batch's B")
            V, B = views.shape[:2]
            emb = F.normalize(encoder(views.flatten(0, 1)), dim=-1).view(V, B, -1)
            self.pos = emb.transpose(0, 1)  # [B, V, e]
            self.neg = None if negatives is None else F.normalize(negatives, dim=-1)
            self.base = self.loss(x)

    def loss(self, q_x: Tensor) -> Tensor:
        q = F.normalize(self.model(q_x), dim=-1)  # [B, e]
        B, V, _ = self.pos.shape
        pos = torch.einsum("be,bve->bv", q, self.pos) / self.tau  # [B, V]
        if self.neg is not None:
            neg = q @ self.neg.T / self.tau  # [B, N]
        else:
            allv = self.pos.reshape(B * V, -1)
            neg = (q @ allv.T / self.tau).view(B, B, V)
            own = torch.eye(B, dtype=torch.bool, device=q.device)[:, :, None].expand(B, B, V)
            neg = neg.masked_fill(own, float("-inf")).reshape(B, B * V)
        lse_neg = torch.logsumexp(neg, 1, keepdim=True)
        # each positive competes with the negatives: log(e^p / (e^p + Σ e^n))
        denom = torch.logaddexp(pos, lse_neg.expand_as(pos))
        return -(pos - denom).mean(1)

    def __call__(self, x_adv: Tensor) -> Tensor:
        return self.loss(x_adv) - self.base + self.kappa


class TiledContrastive(Criterion):
    """The released SimCLR criterion (setup_contrast.py): per sample, the SimCLR loss of a batch
    made of ``copies`` copies of the query, two views each, minus the same for x:
    ``f = L(x') − L(x) + κ`` with ``L = loss_a + loss_b`` (both directions of NT-Xent at
    temperature τ, as SimCLR's ``add_contrastive_loss``; = 2 × :func:`~uaelab.models.simclr.nt_xent`).

    The released code makes the views with SimCLR's ``preprocess_image(is_training=False,
    test_crop=False)``, which is the identity, so its 2·copies views are one embedding repeated.
    Then every similarity in the batch is the same number and ``L = 2·log(2·copies − 1)`` for
    every input (9.19 for 50 copies): f is 0 up to float rounding, the criterion constrains
    nothing, and the attack only minimises MI. ``augment=None`` (default) reproduces that,
    computing the encoder once per sample (the copies are identical); :meth:`constant` gives
    the closed form. Pass a differentiable ``augment(x) -> view`` for the criterion the paper's
    text implies (fresh random views of every copy; ~2·copies encoder passes per sample).
    Each sample's loss uses only its own copies, so f does not depend on the batch.
    """

    mi_direction = "min"

    def __init__(self, encoder: nn.Module, x: Tensor, copies: int = 50, temperature: float = 0.5,
                 kappa: float = 0.0, augment: Callable[[Tensor], Tensor] | None = None):
        if temperature <= 0:
            raise ValueError("temperature must be > 0")
        if copies < 2:
            raise ValueError(f"copies must be >= 2 (the released code tiles 50), got {copies}")
        self.model, self.copies, self.tau, self.kappa = encoder, int(copies), float(temperature), float(kappa)
        self.augment = augment
        self.batch_size = x.shape[0]
        with torch.no_grad():
            self.base = self.loss(x)

    def constant(self) -> float | None:
        """``2·log(2·copies − 1)``, the loss of every input when the views are the identity
        (``augment=None``); None when random views make it depend on the input."""
        return 2 * math.log(2 * self.copies - 1) if self.augment is None else None

    def loss(self, q_x: Tensor) -> Tensor:
        """L(q) per sample, [B]."""
        B, n = q_x.shape[0], self.copies
        if self.augment is None:  # identical views: one encoder pass, repeated 2·copies times
            z = F.normalize(self.model(q_x), dim=-1)[:, None, :].expand(B, 2 * n, -1)
        else:
            tiled = q_x.repeat_interleave(2 * n, dim=0)  # [B·2n, ...], sample-major
            z = F.normalize(self.model(self.augment(tiled)), dim=-1).view(B, 2 * n, -1)
        sim = z @ z.transpose(1, 2) / self.tau  # [B, 2n, 2n]
        eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
        sim = sim.masked_fill(eye, float("-inf"))
        pos = (torch.arange(2 * n, device=z.device) + n) % (2 * n)  # view k's partner: k ± n
        own = sim.gather(2, pos.view(1, -1, 1).expand(B, -1, 1)).squeeze(2)  # [B, 2n]
        return 2 * (torch.logsumexp(sim, 2) - own).mean(1)

    def __call__(self, x_adv: Tensor) -> Tensor:
        return self.loss(x_adv) - self.base + self.kappa


class FromCallable(Criterion):
    """Wrap any ``fn(x_adv) -> Tensor[B]`` (success where <= 0); ``mi_direction`` is required."""

    def __init__(self, fn: Callable[[Tensor], Tensor], mi_direction: Direction):
        if not callable(fn):
            raise ValueError("fn must be callable: x_adv [B, ...] -> Tensor[B]")
        self.fn = fn
        self.mi_direction = _check_direction(mi_direction)

    def __call__(self, x_adv: Tensor) -> Tensor:
        return self.fn(x_adv)


# -- factories: what an Attack holds, so it can build the criterion for each batch -----------
def cw(model: nn.Module, kappa: float = 0.0, target: Tensor | int | None = None):
    """Factory ``(x, y) -> CWMargin(model, y, kappa, target)`` for batched attacks."""
    def make(x: Tensor, y: Tensor | None) -> CWMargin:
        if y is None:
            raise ValueError("the supervised criterion needs labels: call attack(x, y)")
        t = torch.full_like(y, target) if isinstance(target, int) else target
        return CWMargin(model, y, kappa=kappa, target=t)
    return make


def reconstruction(autoencoder: nn.Module, norm: Literal["l2", "sq"] = "l2", kappa: float = 0.0,
                   units: Literal["native", "mnist"] = "native"):
    """Factory ``(x, y) -> Reconstruction(autoencoder, x, norm, kappa, units)``."""
    return lambda x, y=None: Reconstruction(autoencoder, x, norm=norm, kappa=kappa, units=units)


def contrastive(encoder: nn.Module, **kwargs):
    """Factory ``(x, y) -> Contrastive(encoder, x, **kwargs)``."""
    return lambda x, y=None: Contrastive(encoder, x, **kwargs)


def tiled_contrastive(encoder: nn.Module, **kwargs):
    """Factory ``(x, y) -> TiledContrastive(encoder, x, **kwargs)``."""
    return lambda x, y=None: TiledContrastive(encoder, x, **kwargs)


def infer(model: nn.Module, x: Tensor, y: Tensor | None, *, kappa: float = 0.0,
          norm: Literal["l2", "sq"] = "l2", units: Literal["native", "mnist"] = "native") -> Criterion:
    """Default criterion when none is given: an output with the input's shape means an
    autoencoder (Reconstruction); a [B, classes] output with labels means a classifier (CW)."""
    with torch.no_grad():
        out = model(x[:1])
    if out.shape[1:] == x.shape[1:]:
        return Reconstruction(model, x, norm=norm, kappa=kappa, units=units)
    if out.dim() == 2 and y is not None:
        return CWMargin(model, y, kappa=kappa)
    raise ValueError("cannot infer the attack criterion: the model is neither an autoencoder "
                     "(output shaped like x) nor a classifier called with labels y; pass criterion=")


def as_factory(criterion) -> Callable[[Tensor, Tensor | None], Criterion] | None:
    """Normalise an Attack's ``criterion=`` argument to a factory (or None for inference)."""
    if criterion is None:
        return None
    if isinstance(criterion, Criterion):
        return lambda x, y=None: criterion
    if callable(criterion):
        return criterion
    raise ValueError("criterion must be a Criterion, a factory (x, y) -> Criterion, or None")
