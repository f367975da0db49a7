"""SimCLR (Chen et al. 2020) pieces for Table 5: encoders, projection head, NT-Xent, augmentations.

Images are N×C×H×W float32 in [0, 1]. :func:`resnet18_small` is torchvision's ResNet-18 with
the usual small-image changes (3×3 stride-1 stem, no max-pool, no classifier); :class:`SmallEncoder`
is a 3-block CNN for the quick profile. Both expose ``.out_dim`` and ``.first_conv``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from uaelab.models.classifiers import _check_shape


class SmallEncoder(nn.Module):
    """conv(32)-conv(64, /2)-conv(128, /2), BatchNorm + ReLU, global average pool -> 128 features."""

    def __init__(self, in_shape, width: int = 32):
        super().__init__()
        self.in_shape = _check_shape(in_shape)
        c = self.in_shape[0]

        def block(i, o, stride):
            return [nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

        self.net = nn.Sequential(*block(c, width, 1), *block(width, 2 * width, 2), *block(2 * width, 4 * width, 2),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_dim = 4 * width
        self.config = {"in_shape": list(self.in_shape), "width": width}

    @property
    def first_conv(self) -> nn.Conv2d:
        return self.net[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _ResNet18Small(nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
        net.fc = nn.Identity()
        self.net = net
        self.out_dim = 512
        self.config = {"in_channels": in_channels}

    @property
    def first_conv(self) -> nn.Conv2d:
        return self.net.conv1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def resnet18_small(in_channels: int = 3) -> nn.Module:
    """torchvision ResNet-18 for small images: 3×3 stride-1 stem, no max-pool, 512-d output."""
    return _ResNet18Small(in_channels)


def make_encoder(name: str, in_shape) -> nn.Module:
    """``small`` -> SmallEncoder(in_shape); ``resnet18`` -> resnet18_small(C)."""
    shape = _check_shape(in_shape)
    if name == "small":
        return SmallEncoder(shape)
    if name == "resnet18":
        return resnet18_small(shape[0])
    raise ValueError(f"unknown SimCLR encoder {name!r}; choose small or resnet18")


class SimCLR(nn.Module):
    """Encoder + projection head (Linear-ReLU-Linear). ``encode`` gives the representation used
    for linear evaluation; ``forward`` gives the projection z used by the contrastive loss."""

    def __init__(self, encoder: nn.Module, proj_dim: int = 64):
        super().__init__()
        self.encoder = encoder
        dim = encoder.out_dim
        self.projector = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, proj_dim))
        self.config = {"encoder": dict(encoder.config), "proj_dim": proj_dim}

    @property
    def first_conv(self) -> nn.Conv2d:
        return self.encoder.first_conv

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(x))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent loss of N positive pairs (z1[i], z2[i]), each N×D; the other 2N-2 views are negatives.

    Cosine similarities divided by ``temperature``; cross-entropy via ``logsumexp`` over each
    row with the self-similarity masked out. Returns the mean over the 2N anchors.
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"z1 and z2 must both be N×D, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), -math.inf)
    pos = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return (torch.logsumexp(sim, dim=1) - sim[torch.arange(2 * n, device=z.device), pos]).mean()


def simclr_augment(in_shape, strength: float = 0.5):
    """SimCLR's augmentations (torchvision transforms), applied independently to every sample.

    Random resized crop (scale 0.08–1, or 0.5–1 for images under 16 px where tiny crops are
    just noise), horizontal flip for colour images only (a flipped digit is another symbol: on
    the 8×8 digits flips cut the probe accuracy's gain over a random encoder from 0.033 to
    0.008, measured), colour jitter with probability 0.8 (brightness, contrast, saturation
    0.8·strength, hue 0.2·strength; grey images get brightness/contrast only), random greyscale
    with p 0.2 for colour images; no blur (as in Table 5's setup).
    Returns ``augment(x) -> x'`` for batches N×C×H×W in [0, 1]; uses torch's global RNG, so
    ``fit``'s seeding makes it reproducible.
    """
    from torchvision.transforms import v2 as T

    c, h, w = _check_shape(in_shape)
    s = float(strength)
    if not 0 <= s <= 1:
        raise ValueError(f"strength must lie in [0, 1], got {strength}")
    scale = (0.5, 1.0) if min(h, w) < 16 else (0.08, 1.0)
    ops = [T.RandomResizedCrop((h, w), scale=scale, antialias=True)]
    if c == 3:
        jitter = T.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)
        ops += [T.RandomHorizontalFlip(), T.RandomApply([jitter], p=0.8), T.RandomGrayscale(0.2)]
    else:
        ops += [T.RandomApply([T.ColorJitter(0.8 * s, 0.8 * s)], p=0.8)]
    pipeline = T.Compose(ops)

    def augment(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([pipeline(xi) for xi in x]).clamp(0, 1)

    return augment


def simclr_step(in_shape, temperature: float = 0.5, strength: float = 0.5):
    """A ``step_fn`` for :func:`uaelab.models.train.fit`: two augmented views -> NT-Xent loss."""
    augment = simclr_augment(in_shape, strength)

    def step(model: SimCLR, x: torch.Tensor, y=None) -> torch.Tensor:
        return nt_xent(model(augment(x)), model(augment(x)), temperature)

    return step
