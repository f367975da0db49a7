"""Models: classifiers, Table 4 autoencoders, the concrete autoencoder and SimCLR.

Images are N×C×H×W float32 in [0, 1]; classifiers return logits, autoencoders return
reconstructions in [0, 1]. :func:`build_model` rebuilds any of them from a kind and its
``.config`` (used by :mod:`uaelab.models.checkpoint`).
"""
from __future__ import annotations

from torch import nn

from uaelab.models.autoencoders import AUTOENCODERS, AdversarialAE, ConvAE, DenseAE, SparseAE, make_autoencoder
from uaelab.models.classifiers import (
    CLASSIFIERS,
    CWCifarClassifier,
    CWMnistClassifier,
    DigitsClassifier,
    make_classifier,
)
from uaelab.models.concrete import ConcreteAutoencoder, ConcreteSelect, random_features
from uaelab.models.simclr import (
    SimCLR,
    SmallEncoder,
    make_encoder,
    nt_xent,
    resnet18_small,
    simclr_augment,
    simclr_step,
)

__all__ = [
    "DigitsClassifier", "CWMnistClassifier", "CWCifarClassifier", "make_classifier",
    "DenseAE", "SparseAE", "ConvAE", "AdversarialAE", "make_autoencoder",
    "ConcreteAutoencoder", "ConcreteSelect", "random_features",
    "SmallEncoder", "resnet18_small", "make_encoder", "SimCLR", "nt_xent", "simclr_augment", "simclr_step",
    "build_model", "MODEL_KINDS",
]


def _simclr(encoder: dict, proj_dim: int) -> SimCLR:
    enc = resnet18_small(**encoder) if "in_channels" in encoder else SmallEncoder(**encoder)
    return SimCLR(enc, proj_dim)


MODEL_KINDS = {**CLASSIFIERS, **AUTOENCODERS, "concrete": ConcreteAutoencoder, "simclr": _simclr}


def build_model(kind: str, config: dict) -> nn.Module:
    """A fresh model of ``kind`` (see ``MODEL_KINDS``) from its ``.config`` dict."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    try:
        return MODEL_KINDS[kind](**config)
    except TypeError as exc:
        raise ValueError(f"cannot build a {kind!r} model from config {config}: {exc}") from None
