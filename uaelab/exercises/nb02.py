"""Exercise checkers for notebook 02 (supervised MinMax attacks)."""
from __future__ import annotations

from typing import Callable

import torch

from uaelab.exercises import Feedback, failed, passed


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
    from uaelab.experiments.classifier_setup import classifier_for, correct_samples, load_data
    from uaelab.experiments.supervised import SupervisedSettings, attack_samples

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


def check_targeted(target: int, x: torch.Tensor, x_adv: torch.Tensor, success: torch.Tensor,
                   epsilon: float = 1.0, profile: str | None = None, model: torch.nn.Module | None = None) -> Feedback:
    """Exercise 3: a targeted attack's clean inputs ``x``, its examples ``x_adv`` and ``success``
    flags (``small_attack``'s ``out["x"]``, ``out["x_adv"]``, ``out["success"]``).

    The checker re-runs the profile's classifier (or ``model``) on your tensors: every ``x_adv``
    must lie in the [0, 1] box and the L∞ ball of radius ``epsilon`` around its ``x``, no ``x`` may
    already be of class ``target``, and the examples flagged successful must be exactly those the
    classifier assigns to ``target``."""
    from uaelab.experiments.classifier_setup import classifier_for, load_data

    try:
        x, x_adv = torch.as_tensor(x).float(), torch.as_tensor(x_adv).float()
        success = torch.as_tensor(success).bool().flatten()
    except Exception as exc:  # None, a list of tensors, ...: feedback, not a crash
        return failed(f"pass the tensors x, x_adv and success of your attack ({exc})")
    if x.shape != x_adv.shape or x.dim() < 2 or success.shape != (len(x),):
        return failed("x and x_adv must have the same shape (N×C×H×W) and success one flag per sample")
    if x_adv.min() < 0 or x_adv.max() > 1:
        return failed("x_adv leaves the [0, 1] pixel box: these are not the attack's examples")
    linf = (x_adv - x).flatten(1).abs().amax(1)
    if (linf > epsilon + 1e-5).any():
        return failed(f"{int((linf > epsilon + 1e-5).sum())} examples lie outside the L∞ ball of radius "
                      f"ε = {epsilon:g} around their x: pass the x you attacked and the attack's ε")
    if model is None:
        model, _ = classifier_for(load_data(profile), profile)
    with torch.no_grad():
        clean, pred = model(x).argmax(1), model(x_adv).argmax(1)
    if (clean == target).any():
        return failed(f"{int((clean == target).sum())} of your x are already classified as {target}: a targeted "
                      "attack starts from images of other classes")
    if not success.any():
        return failed("no sample succeeded; raise T or use ε = 1")
    hit = pred == target
    wrong = int((success & ~hit).sum())
    if wrong:
        return failed(f"{wrong} examples flagged successful are classified as "
                      f"{pred[success & ~hit].tolist()}, not {target}: did you pass target= to the attack (a "
                      "targeted attack succeeds only on the target class)?")
    if (hit & ~success).any():
        return failed(f"{int((hit & ~success).sum())} examples are classified as {target} but flagged as failures: "
                      "pass the attack's own success flags")
    return passed(f"every successful example is classified as {target} by the model "
                  f"({int(success.sum())}/{len(success)} succeeded, largest L∞ change {float(linf.max()):.3f})")
