"""Shared evaluation metrics: reconstruction error, accuracy, linear probe, extra-trees accuracy.

Unit of reconstruction error: **per-pixel mean squared error** — the squared difference
averaged over every pixel (and channel) of a sample, then over samples. This is how we read
Table 4's "average L2 reconstruction loss" (its MNIST values, ~0.0026, are per-pixel MSEs;
a per-sample sum would be ~784× larger). All accuracies are fractions in [0, 1].
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from uaelab.utils import check_unit_interval, eval_mode, model_device


def _batches(x: torch.Tensor, batch_size: int):
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for i in range(0, len(x), batch_size):
        yield x[i:i + batch_size]


@torch.no_grad()
def per_sample_reconstruction_error(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Per-pixel MSE of each sample: x (N×C×H×W or N×d in [0, 1]) -> float tensor N (on CPU)."""
    check_unit_interval(x, "x", ndim=(2, 4))
    device = model_device(model)
    out = []
    with eval_mode(model):
        for xb in _batches(x, batch_size):
            xb = xb.to(device)
            out.append((model(xb) - xb).pow(2).flatten(1).mean(1).cpu())
    return torch.cat(out) if out else torch.zeros(0)


def reconstruction_error(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> float:
    """Per-pixel MSE averaged over samples and pixels (Table 4's unit, see the module doc)."""
    return float(per_sample_reconstruction_error(model, x, batch_size).mean())


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Predicted class (argmax of the logits) for each sample, int64 N on CPU."""
    device = model_device(model)
    with eval_mode(model):
        out = [model(xb.to(device)).argmax(1).cpu() for xb in _batches(x, batch_size)]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Fraction of samples whose argmax logit equals the label y (int64 N)."""
    if len(x) != len(y):
        raise ValueError(f"x and y have different lengths ({len(x)} vs {len(y)})")
    if len(x) == 0:
        raise ValueError("accuracy of an empty set is undefined; pass at least one sample")
    return float((predict(model, x, batch_size) == y.cpu()).float().mean())


@torch.no_grad()
def features(encoder: nn.Module | callable, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Frozen features: ``encoder.encode`` if it has one, else ``encoder(x)``, flattened, on CPU."""
    fn = encoder.encode if hasattr(encoder, "encode") else encoder
    module = encoder if isinstance(encoder, nn.Module) else None
    device = model_device(module) if module is not None else torch.device("cpu")
    with eval_mode(module):
        out = [fn(xb.to(device)).flatten(1).cpu() for xb in _batches(x, batch_size)]
    return torch.cat(out)


def linear_probe(encoder, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
                 *, max_iter: int = 2000, C: float = 1.0, seed: int = 0) -> float:
    """Test accuracy (fraction) of a linear classifier on frozen encoder features.

    Multinomial logistic regression (scikit-learn, L2 strength ``1/C``) on standardised features;
    the scaler is fit on the training features and survives constant features (scale 1).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    f_tr, f_te = features(encoder, x_train).numpy(), features(encoder, x_test).numpy()
    scaler = StandardScaler().fit(f_tr)
    clf = LogisticRegression(max_iter=max_iter, C=C, random_state=seed)
    clf.fit(scaler.transform(f_tr), y_train.cpu().numpy())
    return float(clf.score(scaler.transform(f_te), y_test.cpu().numpy()))


def extra_trees_accuracy(x_train_sel, y_train, x_test_sel, y_test, seed: int = 0, n_estimators: int = 50) -> float:
    """Test accuracy (fraction) of Extremely Randomized Trees on the selected features only.

    The concrete-autoencoder paper's downstream evaluation (scikit-learn ``ExtraTreesClassifier``,
    50 trees as in their code). Inputs N×M tensors or arrays; labels int N.
    """
    from sklearn.ensemble import ExtraTreesClassifier

    def np_(a):
        return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)

    clf = ExtraTreesClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=1)
    clf.fit(np_(x_train_sel).reshape(len(x_train_sel), -1), np_(y_train))
    return float(clf.score(np_(x_test_sel).reshape(len(x_test_sel), -1), np_(y_test)))


def perturbation_sizes(x: torch.Tensor, results: dict) -> "pd.DataFrame":
    """How far adversarial examples moved, one row per method.

    ``results``: name -> ``(x_adv, success)`` with x_adv shaped like ``x`` and success bools [N].
    Columns: ``asr`` (fraction successful), then over the successful samples ``mean_linf``,
    ``max_linf`` and ``mean_l2`` of δ = x_adv - x (pixel units of [0, 1]) and ``mean_cos``, the
    cosine similarity of x and x_adv (what random-sampling MI measures). NaN where none succeeded.
    """
    rows = {}
    for name, (x_adv, success) in results.items():
        if x_adv.shape != x.shape or success.shape != (x.shape[0],):
            raise ValueError(f"{name}: x_adv must have x's shape {tuple(x.shape)} and success one flag per "
                             f"sample, got {tuple(x_adv.shape)} and {tuple(success.shape)}")
        ok = success.bool()
        d = (x_adv - x).flatten(1)
        linf = d.abs().amax(1)
        cos = torch.nn.functional.cosine_similarity(x.flatten(1), x_adv.flatten(1))
        mean = (lambda t: float(t[ok].mean()) if ok.any() else float("nan"))  # noqa: E731
        rows[name] = {"asr": float(ok.float().mean()) if ok.numel() else float("nan"),
                      "mean_linf": mean(linf), "max_linf": float(linf[ok].max()) if ok.any() else float("nan"),
                      "mean_l2": mean(d.norm(dim=1)), "mean_cos": mean(cos)}
    return pd.DataFrame.from_dict(rows, orient="index")
