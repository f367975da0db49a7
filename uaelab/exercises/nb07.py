"""Exercises of notebook 07 (Table 6: the concrete autoencoder)."""
from __future__ import annotations

from typing import Callable

import torch

from . import Feedback, failed, passed


def check_selected_features(fn: Callable[[torch.nn.Module], torch.Tensor], model) -> Feedback:
    """``fn(model)`` must return the M input indices the concrete select layer picks at evaluation
    time: the argmax of each of its M rows of logits (``model.select.logits``, M×d)."""
    want = model.select.logits.detach().argmax(1)
    try:
        got = torch.as_tensor(fn(model)).flatten().long()
    except Exception as exc:
        return failed(f"your function raised {type(exc).__name__}: {exc}")
    if got.numel() != want.numel():
        return failed(f"expected {want.numel()} indices (one per row of the select layer), got {got.numel()}")
    if torch.equal(got.sort().values, want.sort().values):
        return passed("right: each of the M rows selects the input feature with the largest logit")
    if torch.equal(got, model.select.logits.detach().argmax(0)[: got.numel()]):
        return failed("take the argmax over the *features* (dim=1), one per selection row")
    return failed("these are not the argmax features of the rows of model.select.logits")


def check_downstream_accuracy(value: float, model, data, tolerance: float = 0.05) -> Feedback:
    """``value`` must be the test accuracy (a fraction) of Extra-Trees trained on the selected
    features of the training set only."""
    from ..metrics import extra_trees_accuracy

    v = float(value)
    if v > 1:
        return failed("give the accuracy as a fraction in [0, 1], not in percent")
    sel = model.selected_features()
    want = extra_trees_accuracy(data.x_train[:, sel], data.y_train, data.x_test[:, sel], data.y_test)
    full = extra_trees_accuracy(data.x_train, data.y_train, data.x_test, data.y_test)
    if abs(v - want) <= tolerance:
        return passed(f"right: {v:.3f} (the reference run gets {want:.3f}; all {data.x_train.shape[1]} "
                      f"features give {full:.3f})")
    if abs(v - full) <= tolerance / 2 and abs(full - want) > tolerance:
        return failed("that looks like the accuracy on *all* features: keep only the selected columns")
    return failed(f"expected about {want:.3f}; train on x_train[:, selected] and score on x_test[:, selected]")
