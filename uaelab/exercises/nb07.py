"""Exercises of notebook 07 (Table 6: the concrete autoencoder)."""
from __future__ import annotations

from typing import Callable

import torch

from uaelab.exercises import Feedback, failed, passed


def check_selected_features(fn: Callable[[torch.nn.Module], torch.Tensor], model) -> Feedback:
    """``fn(model)`` must return the M *distinct* input indices the concrete select layer uses at
    evaluation time, ``model.selected_features()``: each row of ``model.select.logits`` (M×d) takes
    its argmax, and when two rows pick the same feature, the rows are visited from the most to the
    least confident (largest softmax probability) and each takes its most probable feature not yet
    taken. The order of the indices does not matter."""
    logits = model.select.logits.detach()
    want = torch.as_tensor(model.selected_features()).flatten().long().cpu()
    try:
        got = torch.as_tensor(fn(model)).flatten().long().cpu()
    except Exception as exc:
        return failed(f"your function raised {type(exc).__name__}: {exc}")
    if got.numel() != want.numel():
        return failed(f"expected {want.numel()} indices (one per row of the select layer), got {got.numel()}")
    if torch.equal(got.sort().values, want.sort().values):
        return passed("right: the M distinct features the select layer uses at test time")
    argmax = logits.argmax(1).cpu()
    if torch.equal(got.sort().values, argmax.sort().values):
        return failed(f"that is the argmax of each row, but only {len(torch.unique(argmax))} of its {len(argmax)} "
                      "features are distinct: when rows collide, visit them from the most to the least confident "
                      "and give each its most probable feature not yet taken")
    if torch.equal(got, logits.argmax(0).cpu()[: got.numel()]):
        return failed("take the argmax over the *features* (dim=1), one per selection row")
    if len(torch.unique(got)) < got.numel():
        return failed("some of your indices repeat: the select layer uses M distinct features at test time")
    return failed("these are not the features model.select.logits selects: start from the argmax of each row")


def check_downstream_accuracy(value: float, model, data, tolerance: float = 0.05) -> Feedback:
    """``value`` must be the test accuracy (a fraction) of Extra-Trees trained on the selected
    features (``model.selected_features()``, exercise 1) of the training set only."""
    from uaelab.evaluate.metrics import extra_trees_accuracy

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
