"""Exercise checkers for notebook 02 (supervised MinMax attacks)."""
from __future__ import annotations

from typing import Callable

import torch

from . import Feedback, failed, passed


def check_cw_margin(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Exercise 1: ``fn(logits [B, classes], y [B]) -> [B]``, the untargeted C&W margin
    logit_y - max_{j≠y} logit_j (κ = 0); the attack succeeds where it is <= 0."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 10, generator=g) * 3
    y = torch.randint(0, 10, (6,), generator=g)
    own = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.masked_fill(torch.nn.functional.one_hot(y, 10).bool(), float("-inf")).amax(1)
    want = own - others
    try:
        got = torch.as_tensor(fn(logits, y)).float()
    except Exception as exc:
        return failed(f"your function raised {type(exc).__name__}: {exc}")
    if got.shape != want.shape:
        return failed(f"return one value per sample (shape {tuple(want.shape)}), got {tuple(got.shape)}")
    if torch.allclose(got, -want, atol=1e-5):
        return failed("the sign is flipped: the margin is positive while the model still predicts y")
    if torch.allclose(got, own - logits.amax(1), atol=1e-5):
        return failed("exclude class y itself when taking the maximum over the other logits")
    if not torch.allclose(got, want, atol=1e-5):
        return failed("the values differ from logit_y - max over j≠y of logit_j")
    return passed("right: f ≤ 0 exactly when some other class reaches the true class's logit")


def check_small_epsilon(epsilon: float, n: int = 8, T: int = 30, profile: str | None = None) -> Feedback:
    """Exercise 2: an ε so small that the untargeted attack fails on at least half of ``n`` samples.

    Runs the quick attack (digits classifier, random-sampling MINE, ``T`` iterations)."""
    from ..experiments.classifier_setup import classifier_for, correct_samples, load_data
    from ..experiments.supervised import SupervisedSettings, attack_samples

    if not 0 < float(epsilon) <= 1:
        return failed(f"ε must lie in (0, 1], got {epsilon}")
    data = load_data(profile)
    model, _ = classifier_for(data, profile)
    x, y, idx = correct_samples(model, data.x_test, data.y_test, n)
    s = SupervisedSettings.from_profile(profile, n_samples=n, T=T, epsilon=float(epsilon), sampler="random")
    rate = float(attack_samples(model, x, y, idx, s, profile)["success"].float().mean())
    if rate > 0.5:
        return failed(f"your ε = {epsilon:g} is too large: {rate:.2f} of the samples still succeed; try a smaller ε")
    if rate == 0:
        return passed(f"ε = {epsilon:g}: no sample succeeds at all (success rate 0.00); the L∞ ball is too small "
                      "to cross the decision boundary")
    return passed(f"ε = {epsilon:g}: success rate {rate:.2f} ≤ 0.5; the L∞ bound now limits the attack")


def check_targeted(target: int, pred: torch.Tensor, success: torch.Tensor) -> Feedback:
    """Exercise 3: a targeted attack's predictions on x_adv (``pred``) and its ``success`` flags."""
    pred, success = torch.as_tensor(pred), torch.as_tensor(success).bool()
    if pred.shape != success.shape:
        return failed("pred and success must have one entry per sample")
    if not success.any():
        return failed("no sample succeeded; raise T or use ε = 1")
    wrong = (pred[success] != target).sum().item()
    if wrong:
        return failed(f"{wrong} successful examples are not predicted as class {target}: did you pass target= to "
                      "the criterion (a targeted attack succeeds only on the target class)?")
    return passed(f"every successful example is classified as {target} "
                  f"({int(success.sum())}/{len(success)} succeeded)")
