"""Autoencoders of Table 4: dense, sparse, convolutional and adversarial.

Every autoencoder takes images N×C×H×W float32 in [0, 1] (any C, H, W: digits 1×8×8, MNIST
1×28×28, SVHN/CIFAR 3×32×32) and returns a reconstruction of the same shape in [0, 1]
(sigmoid output). ``.encode(x)`` gives the code. ``.config`` holds the constructor arguments
so that :mod:`uaelab.models.checkpoint` can rebuild the model.

Architectures follow the authors' released code (see ``REFERENCE.md``); what the code does
not fix (adversarial AE sizes, padding for odd image sizes) is documented where chosen.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from uaelab.models.classifiers import _check_shape

AEKind = Literal["dense", "sparse", "conv", "adversarial"]


class _FlatAE(nn.Module):
    """Shared by the fully connected autoencoders: ``self.encoder`` maps N×C×H×W to a code,
    ``self.decoder`` maps the code to N×(C·H·W) in (0, 1), reshaped back to ``self.in_shape``."""

    in_shape: tuple[int, int, int]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: N×C×H×W -> code (N×hidden, or N×latent for the adversarial AE)."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code).view(-1, *self.in_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class DenseAE(_FlatAE):
    """d -> hidden (sigmoid) -> d (sigmoid), d = C·H·W; released: 784 -> 128 -> 784."""

    def __init__(self, in_shape, hidden: int = 128):
        super().__init__()
        self.in_shape = _check_shape(in_shape)
        d = self.in_shape[0] * self.in_shape[1] * self.in_shape[2]
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, hidden), nn.Sigmoid())
        self.decoder = nn.Sequential(nn.Linear(hidden, d), nn.Sigmoid())
        self.config = {"in_shape": list(self.in_shape), "hidden": hidden}


class SparseAE(DenseAE):
    """Dense AE with the released sparsity terms, returned by :meth:`penalty`.

    * L1 activity regularisation ``l1`` on the outputs of both layers (code and reconstruction),
      Keras-style: ``l1 · Σ|activation|``, summed over units and averaged over the batch.
    * KL sparsity ``kl_weight · mean_j KL(ρ ‖ ρ̂_j)`` with ρ = ``kl_target`` and ρ̂_j the batch mean
      of code unit j. The released code averages over the units (``K.mean``), not sums (Ng's
      notes): a sum would be ``hidden``× stronger and triples the MNIST error. ρ̂ is clamped away
      from 0 and 1 so it stays finite.
    """

    def __init__(self, in_shape, hidden: int = 128, l1: float = 1e-7, kl_target: float = 0.1, kl_weight: float = 3.0):
        super().__init__(in_shape, hidden)
        if not 0 < kl_target < 1:
            raise ValueError(f"kl_target must lie in (0, 1), got {kl_target}")
        self.l1, self.kl_target, self.kl_weight = l1, kl_target, kl_weight
        self.config.update(l1=l1, kl_target=kl_target, kl_weight=kl_weight)

    def penalty_terms(self, code: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        """The sparsity penalty from an already computed code and reconstruction (a scalar)."""
        n = code.shape[0]
        l1 = self.l1 * (code.abs().sum() + recon.abs().sum()) / n
        rho = self.kl_target
        rho_hat = code.mean(0).clamp(1e-6, 1 - 1e-6)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return l1 + self.kl_weight * kl.mean()

    def training_loss(self, x: torch.Tensor, y, loss_fn) -> torch.Tensor:
        """Reconstruction loss plus the penalty, with one forward pass (used by ``fit``)."""
        code = self.encode(x)
        recon = self.decode(code)
        return loss_fn(recon, x) + self.penalty_terms(code, recon)

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        """Sparsity penalty for a batch x (N×C×H×W in [0, 1]); add it to the reconstruction loss."""
        code = self.encode(x)
        return self.penalty_terms(code, self.decode(code))


class ConvAE(nn.Module):
    """Released conv AE: conv16(5×5) -> pool2 -> conv8 -> pool2 -> conv8 -> up2 -> conv16 -> up2 -> conv C.

    All convs are 5×5 'same' with ReLU, the last one has a sigmoid. Two 2× poolings need H and W
    divisible by 4: other sizes are zero-padded (evenly on both sides) up to the next multiple of
    4 and the output is cropped back, so input and output shapes always agree (8×8, 28×28 and
    32×32 need no padding).
    """

    def __init__(self, in_shape):
        super().__init__()
        self.in_shape = _check_shape(in_shape)
        c = self.in_shape[0]

        def conv(i, o):
            return nn.Conv2d(i, o, 5, padding=2)

        self.encoder = nn.Sequential(conv(c, 16), nn.ReLU(), nn.MaxPool2d(2), conv(16, 8), nn.ReLU(), nn.MaxPool2d(2),
                                     conv(8, 8), nn.ReLU())
        self.decoder = nn.Sequential(nn.Upsample(scale_factor=2), conv(8, 16), nn.ReLU(), nn.Upsample(scale_factor=2),
                                     conv(16, c), nn.Sigmoid())
        h, w = self.in_shape[1:]
        ph, pw = (-h) % 4, (-w) % 4
        self._pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)  # F.pad order: left, right, top, bottom
        self.config = {"in_shape": list(self.in_shape)}

    @property
    def first_conv(self) -> nn.Conv2d:
        return self.encoder[0]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: N×C×H×W -> code N×8×ceil(H/4)×ceil(W/4)."""
        return self.encoder(F.pad(x, self._pad))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        out = self.decoder(code)
        left, right, top, bottom = self._pad
        return out[:, :, top:out.shape[2] - bottom, left:out.shape[3] - right]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def _mlp(sizes: list[int], act_last: nn.Module | None = None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if act_last is not None:
        layers.append(act_last)
    return nn.Sequential(*layers)


class AdversarialAE(_FlatAE):
    """Adversarial autoencoder (Makhzani et al. 2016) with a Gaussian prior on the code.

    Encoder d -> hidden -> hidden -> latent, decoder latent -> hidden -> hidden -> d (sigmoid),
    discriminator latent -> hidden -> hidden -> 1 logit, ReLU inside. Training alternates three
    steps per batch (:meth:`make_step`): reconstruction (MSE), discriminator (prior samples
    N(0, I) are 'real', codes are 'fake'), and generator (the encoder fools the discriminator).
    Defaults are the released ``keras-aae.py``: ``latent=2``, ``hidden=1000`` and a *sigmoid*
    code (``latent_activation="sigmoid"``) even though the prior is N(0, I); the 2-d code is why
    Table 4's adversarial error (0.048) is an order of magnitude above the others.
    ``latent_activation="linear"`` gives the textbook AAE.
    """

    def __init__(self, in_shape, latent: int = 2, hidden: int = 1000, latent_activation: str = "sigmoid"):
        super().__init__()
        self.in_shape = _check_shape(in_shape)
        d = self.in_shape[0] * self.in_shape[1] * self.in_shape[2]
        self.latent = latent
        if latent_activation not in ("sigmoid", "linear"):
            raise ValueError(f"latent_activation must be sigmoid or linear, got {latent_activation!r}")
        last = nn.Sigmoid() if latent_activation == "sigmoid" else None
        self.encoder = nn.Sequential(nn.Flatten(), _mlp([d, hidden, hidden, latent], last))
        self.decoder = _mlp([latent, hidden, hidden, d], nn.Sigmoid())
        self.discriminator = _mlp([latent, hidden, hidden, 1])
        self.config = {"in_shape": list(self.in_shape), "latent": latent, "hidden": hidden,
                       "latent_activation": latent_activation}

    def make_step(self, lr: float = 1e-3, adv_lr: float | None = None) -> "AdversarialStep":
        """A ``step_fn`` for :func:`uaelab.models.train.fit` with its own three Adam optimizers.

        Returns ``step(model, x, y) -> float`` (the reconstruction loss), which updates the
        weights itself; ``fit`` sees a float and does not step its own optimizer.
        """
        return AdversarialStep(self, lr, lr if adv_lr is None else adv_lr)


class AdversarialStep:
    """One AAE training step: reconstruction, discriminator, then generator (see :class:`AdversarialAE`).

    Holds the three Adam optimizers; ``state_dict``/``load_state_dict`` let :func:`uaelab.models.train.fit`
    save and resume them with the rest of the training state.
    """

    def __init__(self, model: AdversarialAE, lr: float, adv_lr: float):
        self.model = model
        self.ae_opt = torch.optim.Adam(list(model.encoder.parameters()) + list(model.decoder.parameters()), lr=lr)
        self.d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=adv_lr)
        self.g_opt = torch.optim.Adam(model.encoder.parameters(), lr=adv_lr)

    def state_dict(self) -> dict:
        return {"ae": self.ae_opt.state_dict(), "d": self.d_opt.state_dict(), "g": self.g_opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.ae_opt.load_state_dict(state["ae"])
        self.d_opt.load_state_dict(state["d"])
        self.g_opt.load_state_dict(state["g"])

    def __call__(self, model: AdversarialAE, x: torch.Tensor, y=None) -> float:
        assert model is self.model, "make_step belongs to one model"
        bce = F.binary_cross_entropy_with_logits
        recon_loss = F.mse_loss(model(x), x)
        self.ae_opt.zero_grad()
        recon_loss.backward()
        self.ae_opt.step()
        code = model.encode(x).detach()
        prior = torch.randn_like(code)
        d_real, d_fake = model.discriminator(prior), model.discriminator(code)
        d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        self.d_opt.zero_grad()
        d_loss.backward()
        self.d_opt.step()
        g_out = model.discriminator(model.encode(x))
        g_loss = bce(g_out, torch.ones_like(g_out))
        self.g_opt.zero_grad()
        g_loss.backward()
        self.g_opt.step()
        return float(recon_loss.detach())


AUTOENCODERS = {"dense": DenseAE, "sparse": SparseAE, "conv": ConvAE, "adversarial": AdversarialAE}


def make_autoencoder(kind: AEKind, in_shape, **kwargs) -> nn.Module:
    """Build an autoencoder: ``kind`` one of dense, sparse, conv, adversarial."""
    if kind not in AUTOENCODERS:
        raise ValueError(f"unknown autoencoder kind {kind!r}; choose one of {', '.join(AUTOENCODERS)}")
    return AUTOENCODERS[kind](in_shape, **kwargs)
