"""Supervised image classifiers: Carlini–Wagner MNIST / CIFAR-10 nets and a small digits net.

All take images N×C×H×W float32 in [0, 1] and return **logits** N×n_classes (no softmax), so
``torch.nn.functional.cross_entropy`` and the attacks can use them directly. Each exposes
``.first_conv`` (an ``nn.Conv2d``): per-sample MINE in conv mode compares the channels of the
model's own first conv layer applied to x and to x+δ.

Every model stores its constructor arguments in ``.config`` so a checkpoint can rebuild it.
"""
from __future__ import annotations

import torch
from torch import nn

Shape = tuple[int, int, int]


def _check_shape(in_shape) -> Shape:
    shape = tuple(int(s) for s in in_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"in_shape must be (C, H, W) with positive sizes, got {in_shape!r}")
    return shape  # type: ignore[return-value]


def _flat_size(features: nn.Module, in_shape: Shape) -> int:
    with torch.no_grad():
        return int(features(torch.zeros(1, *in_shape)).numel())


class _ConvClassifier(nn.Module):
    """conv stack -> flatten -> dense head; the shared skeleton of the three classifiers."""

    def __init__(self, in_shape, n_classes: int, convs: list[tuple[int, bool]], dense: list[int],
                 padding: int, dropout: float):
        super().__init__()
        self.in_shape = _check_shape(in_shape)
        self.n_classes = int(n_classes)
        layers: list[nn.Module] = []
        c = self.in_shape[0]
        for width, pool_after in convs:
            layers += [nn.Conv2d(c, width, 3, padding=padding), nn.ReLU()]
            if pool_after:
                layers.append(nn.MaxPool2d(2))
            c = width
        self.features = nn.Sequential(*layers)
        flat = _flat_size(self.features, self.in_shape)
        head: list[nn.Module] = [nn.Flatten()]
        for width in dense:
            head += [nn.Linear(flat, width), nn.ReLU()]
            if dropout:
                head.append(nn.Dropout(dropout))
            flat = width
        head.append(nn.Linear(flat, self.n_classes))
        self.head = nn.Sequential(*head)

    @property
    def first_conv(self) -> nn.Conv2d:
        return self.features[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N×C×H×W in [0, 1] -> logits N×n_classes."""
        return self.head(self.features(x))


class DigitsClassifier(_ConvClassifier):
    """Small net for the 8×8 digits: conv32, conv64 (3×3 same), pool, dense 128, logits."""

    def __init__(self, in_shape=(1, 8, 8), n_classes: int = 10, dropout: float = 0.25):
        super().__init__(in_shape, n_classes, [(32, False), (64, True)], [128], padding=1, dropout=dropout)
        self.config = {"in_shape": list(self.in_shape), "n_classes": self.n_classes, "dropout": dropout}


class CWMnistClassifier(_ConvClassifier):
    """Carlini–Wagner MNIST net: conv 32, 32, pool, conv 64, 64, pool, dense 200, 200, logits.

    3×3 valid convolutions and dropout 0.5 in the dense layers, as in C&W's ``train_models.py``.
    Needs H, W >= 16 (two valid convs + pools).
    """

    def __init__(self, in_shape=(1, 28, 28), n_classes: int = 10, dropout: float = 0.5):
        if min(_check_shape(in_shape)[1:]) < 16:
            raise ValueError(f"CWMnistClassifier needs images of at least 16×16, got {in_shape}; use DigitsClassifier")
        super().__init__(in_shape, n_classes, [(32, False), (32, True), (64, False), (64, True)], [200, 200],
                         padding=0, dropout=dropout)
        self.config = {"in_shape": list(self.in_shape), "n_classes": self.n_classes, "dropout": dropout}


class CWCifarClassifier(_ConvClassifier):
    """Carlini–Wagner CIFAR-10 net: conv 64, 64, pool, conv 128, 128, pool, dense 256, 256, logits."""

    def __init__(self, in_shape=(3, 32, 32), n_classes: int = 10, dropout: float = 0.5):
        if min(_check_shape(in_shape)[1:]) < 16:
            raise ValueError(f"CWCifarClassifier needs images of at least 16×16, got {in_shape}; use DigitsClassifier")
        super().__init__(in_shape, n_classes, [(64, False), (64, True), (128, False), (128, True)], [256, 256],
                         padding=0, dropout=dropout)
        self.config = {"in_shape": list(self.in_shape), "n_classes": self.n_classes, "dropout": dropout}


CLASSIFIERS = {"digits": DigitsClassifier, "cw_mnist": CWMnistClassifier, "cw_cifar": CWCifarClassifier}


def make_classifier(in_shape, n_classes: int = 10, arch: str | None = None) -> nn.Module:
    """Build a classifier; ``arch`` one of digits, cw_mnist, cw_cifar, or None to pick by size:
    images smaller than 16×16 -> digits, grey -> cw_mnist, colour -> cw_cifar."""
    shape = _check_shape(in_shape)
    if arch is None:
        arch = "digits" if min(shape[1:]) < 16 else ("cw_mnist" if shape[0] == 1 else "cw_cifar")
    if arch not in CLASSIFIERS:
        raise ValueError(f"unknown classifier arch {arch!r}; choose one of {', '.join(CLASSIFIERS)}")
    return CLASSIFIERS[arch](shape, n_classes)
