"""Concrete autoencoder (Balın, Abid & Zou 2019) for unsupervised feature selection (Table 6).

The encoder is a *concrete select layer*: M rows of logits over the d input features. During
training each row is a Gumbel-softmax sample at temperature T (annealed geometrically from
10 to 0.1 over training by :meth:`ConcreteAutoencoder.schedule`), so each of the M outputs is a
soft mix of inputs; at evaluation each row becomes the one-hot argmax, i.e. M selected inputs.
An MLP decoder reconstructs all d features from the M selected ones.

Inputs are tabular N×d float32 in [0, 1]; images are flattened first.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConcreteSelect(nn.Module):
    """x (N×d) -> N×M: Gumbel-softmax feature mixes in training, hard selections in eval."""

    def __init__(self, d: int, M: int, start_temp: float = 10.0, end_temp: float = 0.1):
        super().__init__()
        if not 1 <= M <= d:
            raise ValueError(f"M must satisfy 1 <= M <= d (d={d}), got M={M}")
        if not start_temp >= end_temp > 0:
            raise ValueError(f"need start_temp >= end_temp > 0, got {start_temp}, {end_temp}")
        self.d, self.M = d, M
        self.start_temp, self.end_temp = start_temp, end_temp
        # Small random logits (Glorot-uniform in the original) break the symmetry between rows.
        self.logits = nn.Parameter(torch.empty(M, d).uniform_(-1e-2, 1e-2))
        self.register_buffer("temperature", torch.tensor(float(start_temp)))

    def schedule(self, progress: float) -> None:
        """Set T = start·(end/start)^progress, progress in [0, 1] (geometric, as in the original)."""
        p = min(max(float(progress), 0.0), 1.0)
        self.temperature.fill_(self.start_temp * (self.end_temp / self.start_temp) ** p)

    def indices(self) -> torch.Tensor:
        """The M selected input indices (LongTensor[M], all distinct).

        Each row takes the argmax of its logits; when two rows collide (the concrete layer can
        converge to the same feature twice), rows are visited from the most to the least
        confident and each takes its most probable feature not yet taken. Without collisions
        this is exactly the per-row argmax.
        """
        with torch.no_grad():
            probs = F.softmax(self.logits, dim=1).cpu()
        order = torch.argsort(probs.max(1).values, descending=True, stable=True)
        chosen = torch.empty(self.M, dtype=torch.long)
        taken: set[int] = set()
        for row in order.tolist():
            for feat in torch.argsort(probs[row], descending=True, stable=True).tolist():
                if feat not in taken:
                    taken.add(feat)
                    chosen[row] = feat
                    break
        assert len(taken) == self.M
        return chosen.to(self.logits.device)

    def selection(self) -> torch.Tensor:
        """M×d selection weights: a Gumbel-softmax sample in training, one-hot of
        :meth:`indices` (distinct argmax) in eval."""
        if self.training:
            u = torch.rand_like(self.logits).clamp(1e-10, 1.0)
            gumbel = -torch.log((-torch.log(u)).clamp_min(1e-10))
            return F.softmax((self.logits + gumbel) / self.temperature, dim=1)
        return F.one_hot(self.indices(), self.d).to(self.logits.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.selection().t()


class ConcreteAutoencoder(nn.Module):
    """Concrete select layer (d -> M) + MLP decoder (M -> hidden -> hidden -> d, sigmoid).

    The decoder sizes are our choice (the original uses a small MLP with LeakyReLU 0.2).
    """

    def __init__(self, d: int, M: int, hidden: int = 256, start_temp: float = 10.0, end_temp: float = 0.1):
        super().__init__()
        self.select = ConcreteSelect(d, M, start_temp, end_temp)
        self.decoder = nn.Sequential(nn.Linear(M, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                                     nn.LeakyReLU(0.2), nn.Linear(hidden, d), nn.Sigmoid())
        self.d, self.M = d, M
        self.config = {"d": d, "M": M, "hidden": hidden, "start_temp": start_temp, "end_temp": end_temp}

    def schedule(self, progress: float) -> None:
        """Called by ``fit`` before every step with the fraction of training done."""
        self.select.schedule(progress)

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1)
        if x.shape[1] != self.d:
            raise ValueError(f"expected {self.d} features per sample, got {x.shape[1]}")
        return x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: N×d (or images, flattened) -> N×M selected (eval) or mixed (training) features."""
        return self.select(self._flat(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction N×d in [0, 1] (same shape as the flattened input)."""
        return self.decoder(self.encode(x)).view(x.shape)

    def selected_features(self) -> torch.Tensor:
        """The M selected input indices (LongTensor[M], all distinct); see :meth:`ConcreteSelect.indices`."""
        return self.select.indices()

    def has_duplicates(self) -> bool:
        """True when two rows' argmax pick the same feature (eval-mode output repeats a feature)."""
        arg = self.select.logits.argmax(1)
        return len(torch.unique(arg)) < len(arg)


def random_features(d: int, M: int, seed: int = 0) -> torch.Tensor:
    """M distinct random feature indices, the baseline the selection must beat."""
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(d, generator=g)[:M]

