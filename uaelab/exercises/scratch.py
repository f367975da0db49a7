"""Exercise set-up and checkers for notebook 10 (per-sample MINE and Algorithm 1 from scratch).

The learner re-implements, in plain torch, what :class:`uaelab.mi.mine.PerSampleMINE` and
:class:`uaelab.attacks.MinMax` compute for a few digits against the quick dense autoencoder:
the projected pairs, the Donsker–Varadhan bound, the statistics network and its Adam steps, and
the MinMax loop (δ step, projection, dual step on c, success bookkeeping). The pieces that must
agree bit for bit come from uaelab itself, for the same seed and sample indices
(:func:`scratch_problem`): the Gaussian projection, each sample's initial statistics-network
weights, and each sample's random stream *in the state uaelab leaves it after initialising the
network* (it then draws one shuffle of the K pairs per DV evaluation). Everything else is the
learner's arithmetic, and the checkers compare it with uaelab's result on the same seed:

* :func:`check_features` - the K standardised projected vectors of one image;
* :func:`check_dv_bound` - mean(joint) - log mean exp(marg) for one sample's K scores;
* :func:`check_mine_estimate` - the statistics network, the shuffle and ``steps`` Adam steps;
* :func:`check_project` and :func:`check_dual_step` - the projection of δ and the step on c;
* :func:`check_minmax` - the whole attack: the same δ (within :data:`DELTA_TOL`) and the same
  success mask as ``make_attack("mine-uae", ..., preset="paper")`` on the same seed.

Float summation orders differ (uaelab folds each branch's two dense layers into one matrix and
writes its gradients by hand), so the comparisons have tolerances, stated with each checker.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from uaelab.exercises import Feedback, failed, passed

DELTA_TOL = 1e-5  # largest |δ_yours - δ_uaelab| accepted (δ itself is of order 1e-3 here)
MI_TOL = 1e-4  # nats: DV estimates of the two implementations agree to this
FEATURE_TOL = 1e-4  # the standardised projected vectors (values of order 1)


@dataclass(frozen=True)
class ScratchSettings:
    """The small configuration of notebook 10 (independent of the active profile).

    Paper preset of uaelab's MinMax (δ0 = 0, c0 = 0, L2 reconstruction criterion, the original
    returned when nothing succeeds, each new iterate judged) with random-sampling MINE whose
    projection is drawn once per attack; small K and T so that both implementations run in
    seconds on a CPU.
    """

    n_images: int = 6  # test digits 0..n-1 (dataset indices seed their random streams)
    K: int = 32  # projected pairs per sample
    m: int = 32  # dimension of each projected vector
    steps: int = 20  # MINE Adam steps per attack iteration
    T: int = 10  # attack iterations
    alpha: float = 0.01  # step size on δ
    beta: float = 0.1  # step size on c
    epsilon: float = 1.0  # L∞ bound on δ (1: no bound inside [0, 1])
    dual_power: float = 0.25  # the t^(1/4) of the dual step
    seed: int = 0

    def attack_kwargs(self) -> dict[str, dict]:
        """The same configuration as typed ``make_attack`` keywords: ``make_attack(..., **s.attack_kwargs())``."""
        return {"mine": {"K": self.K, "m": self.m, "steps": self.steps, "projection": "per_attack"},
                "attack": {"T": self.T, "alpha": self.alpha, "beta": self.beta, "epsilon": self.epsilon,
                           "dual_power": self.dual_power}}


@dataclass
class ScratchProblem:
    """What the learner's code starts from; built by :func:`scratch_problem`.

    ``x`` [n, 1, 8, 8] test digits, ``indices`` their dataset indices, ``autoencoder`` the quick
    dense autoencoder, ``P`` [K, m, d] the Gaussian projection (a_k = P[k] @ x.flatten(), before
    standardisation), ``lr``/``adam_eps`` the statistics networks' Adam settings and
    ``std_eps`` the variance offset of the standardisation.
    """

    settings: ScratchSettings
    x: Tensor
    indices: Tensor
    autoencoder: nn.Module
    P: Tensor
    lr: float
    adam_eps: float
    std_eps: float
    _reference: Any = field(default=None, repr=False)

    @property
    def K(self) -> int:
        return self.settings.K

    @property
    def steps(self) -> int:
        return self.settings.steps

    def mine_settings(self):
        from uaelab.mi.mine import MineSettings

        s = self.settings
        return MineSettings.from_profile("quick", K=s.K, m=s.m, steps=s.steps, projection="per_attack")

    def _mine(self, i: int):
        """uaelab's per-sample MINE for image i, freshly initialised (a new object every call)."""
        from uaelab.mi.mine import PerSampleMINE

        return PerSampleMINE(self.mine_settings(), self.x[i:i + 1], seed=self.settings.seed,
                             indices=self.indices[i:i + 1])

    def statnet(self, i: int) -> tuple[dict[str, Tensor], torch.Generator]:
        """Image i's statistics network, freshly initialised as uaelab initialises it, and its
        random stream in the state uaelab leaves it after the initialisation.

        The network is a dict of leaf tensors (requires_grad): branch a ``W1a`` [m, 512], ``b1a``,
        ``W2a`` [512, 10], ``b2a``; branch b the same with suffix ``b``; ``w`` [10] (no bias):
        T(a, b) = relu((a W1a + b1a) W2a + b2a + (b W1b + b1b) W2b + b2b) · w.
        Draw one shuffle ``torch.randperm(K, generator=gen)`` per DV evaluation, in order.
        Call it again for a fresh network and stream (e.g. after rerunning a cell).
        """
        mine = self._mine(i)
        nets = mine.nets
        W1, b1, W2, b2, w = (p.detach() for p in nets.params)
        if nets.w2_transposed:  # uaelab's fast layout stores W2 transposed
            W2 = W2.transpose(1, 2)
        net = {"W1a": W1[0], "b1a": b1[0], "W2a": W2[0], "b2a": b2[0],
               "W1b": W1[1], "b1b": b1[1], "W2b": W2[1], "b2b": b2[1], "w": w[0]}
        net = {k: v.clone().contiguous().requires_grad_(True) for k, v in net.items()}
        return net, mine.gens[0]

    def criterion(self, i: int):
        """f(x') for image i: ||x - Φ(x')||₂ - ||x - Φ(x)||₂ (the attack succeeds where f <= 0)."""
        from uaelab.attacks.criteria import Reconstruction

        return Reconstruction(self.autoencoder, self.x[i:i + 1], norm="l2")

    def attack(self, **changes):
        """uaelab's MinMax on the same images and seed (``changes``: other ScratchSettings)."""
        from uaelab.attacks import make_attack

        s = self.settings if not changes else ScratchSettings(**{**self.settings.__dict__, **changes})
        atk = make_attack("mine-uae", self.autoencoder, profile="quick", preset="paper",
                          seed=s.seed, **s.attack_kwargs())
        return atk(self.x, indices=self.indices)

    def reference(self):
        """uaelab's result for this problem (computed once)."""
        if self._reference is None:
            self._reference = self.attack()
        return self._reference


_PROBLEMS: dict[ScratchSettings, ScratchProblem] = {}


def scratch_problem(settings: ScratchSettings | None = None) -> ScratchProblem:
    """The notebook's problem: the first ``n_images`` test digits, the quick dense autoencoder
    (trained on first use, then cached), and uaelab's projection for the seed."""
    from uaelab.data import load_dataset
    from uaelab.mi.mine import MineSettings, PerSampleMINE
    from uaelab.models.zoo import get_model

    s = settings or ScratchSettings()
    if s in _PROBLEMS:
        return _PROBLEMS[s]
    data = load_dataset("digits")
    ae = get_model("dense", data, profile="quick", progress=False).eval()
    x = data.x_test[:s.n_images].float()
    idx = torch.arange(s.n_images)
    ms = MineSettings.from_profile("quick", K=s.K, m=s.m, steps=s.steps, projection="per_attack")
    mine = PerSampleMINE(ms, x[:1], seed=s.seed, indices=idx[:1])
    d = x[0].numel()
    P = mine.sampler.matrix().view(d, s.K, s.m).permute(1, 2, 0).contiguous()  # [K, m, d]
    prob = ScratchProblem(s, x, idx, ae, P, lr=ms.lr, adam_eps=ms.adam_eps, std_eps=ms.standardise_eps)
    _PROBLEMS[s] = prob
    return prob


# -- checkers --------------------------------------------------------------------------------
def _call(fn: Callable, *args) -> tuple[Any, str | None]:
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, "not written yet (it raises NotImplementedError)"
    except Exception as exc:  # a learner's bug is feedback, not a crash
        return None, f"your function raised {type(exc).__name__}: {exc}"


def check_features(fn: Callable[[Tensor], Tensor], problem: ScratchProblem | None = None) -> Feedback:
    """``fn(x [1, 1, 8, 8]) -> [K, m]``: the K projected vectors P_k x, each standardised by its
    own mean and (biased) std with ``std_eps`` added to the variance; within :data:`FEATURE_TOL`
    of uaelab's sampler."""
    prob = problem or scratch_problem()
    mine = prob._mine(0)
    x = prob.x[1:2]
    want = mine.sampler(x)[0]
    got, err = _call(fn, x)
    if err:
        return failed(err)
    got = torch.as_tensor(got).detach().float()
    if got.shape != want.shape:
        return failed(f"return the K = {prob.K} vectors of dimension m = {want.shape[1]} as a [K, m] "
                      f"tensor, got shape {tuple(got.shape)}")
    if torch.allclose(got, want, atol=FEATURE_TOL):
        return passed(f"right: {prob.K} vectors of dimension {want.shape[1]}, each with mean 0 and variance 1")
    raw = (prob.P @ x.flatten())
    if torch.allclose(got, raw, atol=FEATURE_TOL):
        return failed("these are the raw projections P_k x; standardise each vector (subtract its mean, divide "
                      "by its std)")
    m = want.shape[1]
    if torch.allclose(got * math.sqrt(m / (m - 1)), want, atol=FEATURE_TOL):
        return failed("close: torch.std divides by m - 1; uaelab divides by m (variance = mean of the squared "
                      "deviations, plus std_eps), i.e. torch.var(..., unbiased=False)")
    if torch.allclose(got, want.transpose(0, 1).reshape(want.shape), atol=FEATURE_TOL) or \
            torch.allclose(got.std(), want.std(), atol=1e-3):
        return failed("standardised, but not per vector over its m values: use mean/var over the last dim")
    return failed(f"your vectors differ from uaelab's by up to {(got - want).abs().max():.3g}; "
                  "compute P @ x.flatten() ([K, m]) and standardise each row")


def check_dv_bound(fn: Callable[[Tensor, Tensor], Tensor]) -> Feedback:
    """``fn(joint [K], marg [K]) -> scalar``: the Donsker–Varadhan bound of one sample,
    mean(joint) - log mean exp(marg), numerically stable for large scores."""
    from uaelab.mi.mine import dv_bound

    g = torch.Generator().manual_seed(1)
    joint, marg = torch.randn(40, generator=g) + 1, torch.randn(40, generator=g)
    want = dv_bound(joint, marg)
    got, err = _call(fn, joint, marg)
    if err:
        return failed(err)
    got = torch.as_tensor(got).float()
    if got.numel() != 1:
        return failed(f"return one number (a 0-d tensor) for the K scores of one sample, got shape {tuple(got.shape)}")
    got = got.reshape(())
    if not torch.isclose(got, want, atol=1e-5):
        K = marg.numel()
        if torch.isclose(got, joint.mean() - marg.exp().mean(), atol=1e-5):
            return failed("you forgot the log around the mean of exp(marg)")
        if torch.isclose(got, joint.mean() - marg.mean(), atol=1e-5):
            return failed("that is mean(joint) - mean(marg), a weaker bound (Jensen): the second term is "
                          "log mean exp(marg), not mean(marg)")
        if torch.isclose(got, joint.mean() - torch.logsumexp(marg, 0), atol=1e-5):
            return failed(f"log mean exp = logsumexp - log K: subtract log K (here log {K})")
        if torch.isclose(got, -want, atol=1e-5):
            return failed("the sign is flipped: the bound is mean(joint) minus log mean exp(marg)")
        return failed(f"your value {got.item():.5f} differs from mean(joint) - log mean exp(marg) = {want.item():.5f}")
    big, err = _call(fn, joint + 200, marg + 200)
    if err or not torch.isfinite(torch.as_tensor(big)).all():
        return failed("right on small scores, but exp overflows for scores near 200: use torch.logsumexp and "
                      "subtract log K")
    return passed("right, and stable: log mean exp = logsumexp - log K never overflows")


def _mine_reference(prob: ScratchProblem, i: int, x_prime: Tensor, steps: int) -> tuple[float, float]:
    """uaelab's DV estimate for image i against x_prime: (before training, after ``steps`` steps),
    each on a fresh shuffle, as the attack draws them (the untrained value from its own network)."""
    with torch.no_grad():
        m0 = prob._mine(i)
        b0 = m0.features(x_prime)
        before = float(m0.value(b0)[0][0])
        m1 = prob._mine(i)
        b1 = m1.features(x_prime)
        m1.train(x_prime, b1, steps=steps)
        after = float(m1.value(b1)[0][0])
    return before, after


def check_mine_estimate(mine_train: Callable, mine_bound: Callable, features: Callable | None = None,
                        problem: ScratchProblem | None = None) -> Feedback:
    """``mine_bound(net, a, b, gen) -> scalar``: the DV bound of the statistics network on the K
    pairs (a_k, b_k) against one fresh shuffle of the b's; ``mine_train(net, opt, a, b, gen,
    steps)``: ``steps`` Adam ascent steps on that bound (one shuffle per step).

    Checked against uaelab's :class:`~uaelab.mi.mine.PerSampleMINE` on the notebook's images and a
    noisy copy of each: untrained, and after ``steps`` steps, within :data:`MI_TOL` nats. The
    pairs come from uaelab's sampler unless ``features`` (your function) is given.
    """
    prob = problem or scratch_problem()
    g = torch.Generator().manual_seed(7)
    worst_before = worst_after = 0.0
    for i in (0, 1):
        x = prob.x[i:i + 1]
        xp = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1)
        ref = prob._mine(i)
        with torch.no_grad():
            a, b = (features(x), features(xp)) if features is not None else (ref.a[0], ref.sampler(xp)[0])
        a, b = torch.as_tensor(a).detach(), torch.as_tensor(b).detach()
        want_before, want_after = _mine_reference(prob, i, xp, prob.steps)
        net, gen = prob.statnet(i)
        got, err = _call(mine_bound, net, a, b, gen)
        if err:
            return failed(f"mine_bound: {err}")
        got = float(torch.as_tensor(got).detach().reshape(-1)[0])
        if not math.isfinite(got):
            return failed(f"mine_bound returned {got} for an untrained network")
        if abs(got - want_before) > MI_TOL:
            net, gen = prob.statnet(i)
            hint = _bound_hint(net, a, b, gen, got)
            return failed(f"untrained network, image {i}: your bound {got:.5f}, uaelab's {want_before:.5f}. {hint}")
        worst_before = max(worst_before, abs(got - want_before))
        net, gen = prob.statnet(i)
        opt = torch.optim.Adam(list(net.values()), lr=prob.lr, eps=prob.adam_eps)
        _, err = _call(mine_train, net, opt, a, b, gen, prob.steps)
        if err:
            return failed(f"mine_train: {err}")
        with torch.no_grad():
            got = float(torch.as_tensor(mine_bound(net, a, b, gen)).reshape(-1)[0])
        if abs(got - want_after) > MI_TOL:
            if got < want_before - 1e-6 < want_after:
                hint = "your steps lower the bound: MINE *maximises* it, so minimise its negative"
            elif abs(got - want_before) < MI_TOL / 10:
                hint = "your steps leave the bound unchanged: call loss.backward() and opt.step() at every step"
            else:
                hint = ("the untrained bound agrees, so check the training loop: one fresh shuffle per step "
                        "(randperm with gen), loss = -bound, opt.zero_grad() before backward, exactly `steps` steps")
            return failed(f"after {prob.steps} Adam steps, image {i}: your bound {got:.5f}, uaelab's "
                          f"{want_after:.5f}. {hint}")
        worst_after = max(worst_after, abs(got - want_after))
    return passed(f"your per-sample MINE matches uaelab's on 2 images, untrained and after {prob.steps} Adam steps "
                  f"(largest difference {max(worst_before, worst_after):.1e} nats, tolerance {MI_TOL:g})")


def _bound_hint(net: Mapping[str, Tensor], a: Tensor, b: Tensor, gen: torch.Generator, got: float) -> str:
    """Why an untrained bound differs: the usual mistakes, tried on the same draws as the learner's."""
    from uaelab.mi.mine import dv_bound

    perm = torch.randperm(a.shape[0], generator=gen)

    def T(aa: Tensor, bb: Tensor) -> Tensor:
        h = (aa @ net["W1a"] + net["b1a"]) @ net["W2a"] + net["b2a"] + (bb @ net["W1b"] + net["b1b"]) @ net["W2b"]
        return torch.relu(h + net["b2b"]) @ net["w"]

    with torch.no_grad():
        if abs(float(dv_bound(T(a, b), T(a[perm], b))) - got) < MI_TOL:
            return "Shuffle the b's (the perturbed sample's vectors), not the a's: marg = T(a, b[perm])."
        if abs(float(dv_bound(T(a, b), T(a, b))) - got) < MI_TOL:
            return "The marginal term needs shuffled pairs: marg = T(a, b[perm]) with perm = randperm(K, gen)."
    return ("Check T: each branch is two dense layers without a nonlinearity in between, the two branch outputs "
            "are added, then ReLU, then the dot product with w (no bias); and draw exactly one shuffle "
            "(torch.randperm(K, generator=gen)) per bound.")


def check_project(fn: Callable[[Tensor, Tensor, float], Tensor]) -> Feedback:
    """``fn(x_adv, x, eps) -> x_adv``: clip δ = x_adv - x to [-ε, ε], then x_adv to [0, 1]."""
    from uaelab.attacks import project

    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 1, 8, 8, generator=g)
    x_adv = x + 0.8 * torch.randn(x.shape, generator=g)
    eps = 0.3
    got, err = _call(fn, x_adv.clone(), x.clone(), eps)
    if err:
        return failed(err)
    got = torch.as_tensor(got).detach()
    want = project(x_adv, x, eps)
    if got.shape != want.shape:
        return failed(f"return x_adv's shape {tuple(want.shape)}, got {tuple(got.shape)}")
    if torch.allclose(got, want, atol=1e-7):
        return passed("right: |δ| <= ε and x + δ in [0, 1] (both boxes, so clipping to each in turn is exact)")
    if torch.allclose(got, torch.minimum(torch.maximum(x_adv, x - eps), x + eps), atol=1e-7):
        return failed("|δ| <= ε is met, but x + δ leaves [0, 1]: clamp it as well")
    if torch.allclose(got, x_adv.clamp(0, 1), atol=1e-7):
        return failed("x + δ is in [0, 1], but |δ| exceeds ε: clip δ to [-ε, ε] first")
    if torch.allclose(got, (x_adv - x).clamp(-eps, eps), atol=1e-7):
        return failed("return the projected x + δ, not δ")
    return failed("not yet: clip x_adv to [x - ε, x + ε], then to [0, 1]")


def check_dual_step(fn: Callable[[float, float, int, float], float]) -> Feedback:
    """``fn(c, f, t, beta) -> c``: c ← max(0, (1 - β/t^(1/4))·c + β·max(f, 0)), t = 1, 2, ..."""
    cases = [(0.0, 0.5, 1), (0.2, 0.3, 4), (0.01, -2.0, 3), (0.5, -0.4, 16), (1.0, 0.0, 81)]
    beta = 0.1
    for c, f, t in cases:
        want = max(0.0, (1 - beta / t ** 0.25) * c + beta * max(f, 0.0))
        got, err = _call(fn, c, f, t, beta)
        if err:
            return failed(err)
        try:
            got = float(got)
        except (TypeError, ValueError):
            return failed(f"return c as a number, got {got!r}")
        if math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
            continue
        args = f"c = {c}, f = {f}, t = {t}, β = {beta}"
        if math.isclose(got, max(0.0, (1 - beta / t ** 0.5) * c + beta * max(f, 0.0)), rel_tol=1e-6, abs_tol=1e-9):
            return failed(f"{args}: you divide by t^(1/2); Algorithm 1's dual step uses t^(1/4) (the released SimCLR "
                          "attack is the one with t^(1/2))")
        if got < 0:
            return failed(f"{args}: c came out negative ({got:.4g}); c is a Lagrange multiplier: use f⁺ = max(f, 0) "
                          "and floor c at 0")
        if math.isclose(got, (1 - beta / t ** 0.25) * c + beta * f, rel_tol=1e-6, abs_tol=1e-9) or \
                math.isclose(got, max(0.0, (1 - beta / t ** 0.25) * c + beta * f), rel_tol=1e-6, abs_tol=1e-9):
            return failed(f"{args}: use f⁺ = max(f, 0): a successful iterate (f <= 0) only lets c decay")
        if math.isclose(got, max(0.0, c + beta * max(f, 0.0)), rel_tol=1e-6, abs_tol=1e-9):
            return failed(f"{args}: the decay factor (1 - β/t^(1/4)) on c is missing")
        return failed(f"{args}: expected {want:.6g}, got {got:.6g}")
    return passed("right: c grows with the violation f⁺ and decays by (1 - β/t^(1/4)) otherwise, never below 0")


# -- the attack ------------------------------------------------------------------------------
def _stack(values: Sequence[Any], key: str) -> Tensor:
    if key == "success":
        return torch.tensor([bool(v) for v in values])
    if key == "mi":  # None (no successful iterate) -> NaN
        return torch.tensor([float("nan") if v is None else float(v) for v in values], dtype=torch.float64)
    if key == "x_adv":
        return torch.cat([torch.as_tensor(v).detach().float().reshape(1, -1) for v in values])
    return torch.stack([torch.as_tensor(v, dtype=torch.float64).detach().reshape(-1) for v in values])


def _as_result(result: Any) -> dict[str, Tensor]:
    """A learner's result (a list of per-image dicts, or an AttackResult) as a dict of tensors
    ([n] or [n, ...]); raises ValueError with the reason."""
    if hasattr(result, "x_adv") and hasattr(result, "success"):  # an AttackResult
        out = {"x_adv": result.x_adv.flatten(1), "success": result.success}
        if getattr(result, "history", None):
            out.update(c_hist=result.history["c"].T.double(), f_hist=result.history["f"].T.double(),
                       mi_hist=result.history["mi"].T.double())
        return out
    if not (isinstance(result, Sequence) and result and all(isinstance(r, Mapping) for r in result)):
        raise ValueError("pass the list with one dict per image that attack_one returns, "
                         "[{'x_adv': ..., 'success': ..., ...}, ...]")
    out = {}
    for key in ("x_adv", "success", "mi", "f_hist", "mi_hist", "c_hist"):
        if all(key in r for r in result):
            try:
                out[key] = _stack([r[key] for r in result], key)
            except (RuntimeError, TypeError, ValueError) as err:
                raise ValueError(f"cannot read '{key}' of every image ({err})") from None
    return out


def _c_recursion_hint(c_hist: Tensor, f_hist: Tensor, beta: float, power: float) -> str | None:
    """Replay the dual step on the learner's own f history; name the first deviation."""
    n, T = c_hist.shape
    for i in range(n):
        c = 0.0
        for t in range(1, T + 1):
            f = float(f_hist[i, t - 1])
            want = max(0.0, (1 - beta / t ** power) * c + beta * max(f, 0.0))
            got = float(c_hist[i, t - 1])
            if abs(got - want) > 1e-6 * max(1e-3, abs(want)):
                cands = {
                    "t^(1/2) instead of t^(1/4)": max(0.0, (1 - beta / t ** 0.5) * c + beta * max(f, 0.0)),
                    "f instead of f⁺ = max(f, 0), without the floor at 0": (1 - beta / t ** power) * c + beta * f,
                    "f instead of f⁺ = max(f, 0)": max(0.0, (1 - beta / t ** power) * c + beta * f),
                    "t counted from 0": max(0.0, (1 - beta / max(t - 1, 1e-12) ** power) * c + beta * max(f, 0.0)),
                    "the decay (1 - β/t^(1/4)) left out": max(0.0, c + beta * max(f, 0.0)),
                    "(1 - β·t^(1/4)) instead of (1 - β/t^(1/4))": max(0.0, (1 - beta * t ** power) * c
                                                                       + beta * max(f, 0.0)),
                }
                named = [k for k, v in cands.items() if abs(got - v) <= 1e-6 * max(1e-3, abs(v))]
                why = f"; it looks like {named[0]}" if named else ""
                return (f"the dual step: image {i}, t = {t}: your c = {got:.6g}, but from your own previous c and "
                        f"f, c ← max(0, (1 - β/t^(1/4))·c + β·max(f, 0)) gives {want:.6g}{why}")
            c = got
    return None


def _pick(f: Tensor, mi: Tensor) -> int | None:
    """The iterate (0-based t - 1) that uaelab's bookkeeping keeps from one image's histories:
    among f <= 0, the smallest I > 0, else the I <= 0 closest to 0; None if none succeeds."""
    best = None
    for t in range(len(f)):
        if f[t] > 0:
            continue
        I = float(mi[t])
        if best is None:
            best = t
            continue
        B = float(mi[best])
        if (I > 0 and (B <= 0 or I < B)) or (I <= 0 and B <= 0 and I > B):
            best = t
    return best


def _bookkeeping_hint(r: dict[str, Tensor]) -> str | None:
    """Replay the success bookkeeping on the learner's own f and MI histories."""
    f_hist, mi_hist, success = r["f_hist"], r["mi_hist"], r["success"]
    for i in range(f_hist.shape[0]):
        t = _pick(f_hist[i], mi_hist[i])
        if bool(success[i]) != (t is not None):
            return (f"image {i}: success = {bool(success[i])}, but your own f history "
                    f"{'has' if t is not None else 'has no'} iterate with f <= 0; an attack succeeds when some "
                    "iterate δ_1..δ_T has f(x + δ) <= 0")
        if t is not None and "mi" in r and not math.isclose(float(r["mi"][i]), float(mi_hist[i, t]), rel_tol=1e-9,
                                                             abs_tol=1e-12):
            succ = [(k + 1, round(float(mi_hist[i, k]), 5)) for k in range(f_hist.shape[1]) if f_hist[i, k] <= 0]
            return (f"image {i}: you kept the iterate with I = {float(r['mi'][i]):.5f}, but the rule keeps "
                    f"t = {t + 1} (I = {float(mi_hist[i, t]):.5f}) among the successful iterates (t, I) {succ}: the "
                    "smallest I > 0, and only when no successful iterate has I > 0 the one with I closest to 0")
    return None


def check_minmax(result: Any, problem: ScratchProblem | None = None) -> Feedback:
    """Your Algorithm 1 against uaelab's MinMax (``make_attack("mine-uae", ..., preset="paper")``)
    on the same images and seed.

    ``result``: ``attack_one`` itself (called as ``attack_one(i)`` for every image), or the list
    of what it returns: one dict per image with ``x_adv`` (the returned example: the kept successful
    iterate, or x itself when none succeeded) and ``success`` (bool); optionally ``mi`` (the kept
    iterate's I, None when none succeeded) and the histories ``f_hist``, ``mi_hist``, ``c_hist``
    (T values each: f, I and c after iteration t = 1..T), which the checker replays for specific
    feedback on the dual step and the bookkeeping.

    Passes when the success masks are equal and every |δ_yours - δ_uaelab| <= :data:`DELTA_TOL`.
    The two implementations round differently; a rounding difference can flip a ReLU of a
    statistics network and make the trajectories part after some iteration. On this problem
    they agree (to about 1e-7) up to every kept iterate; the histories after it are not compared.
    """
    prob = problem or scratch_problem()
    s = prob.settings
    n = prob.x.shape[0]
    if callable(result):  # attack_one itself: run it on every image
        runs = []
        for i in range(n):
            out, err = _call(result, i)
            if err:
                return failed(f"attack_one({i}): {err}")
            runs.append(out)
        result = runs
    try:
        r = _as_result(result)
    except ValueError as err:
        return failed(str(err))
    if "x_adv" not in r or "success" not in r:
        return failed("each image's dict needs 'x_adv' and 'success'")
    if r["x_adv"].shape != (n, prob.x[0].numel()) or r["success"].shape != (n,):
        return failed(f"give one dict per image ({n}), each with x_adv of shape {tuple(prob.x.shape[1:])} and one "
                      "success flag")
    hists = {k: r[k] for k in ("f_hist", "mi_hist", "c_hist") if k in r}
    for k, v in hists.items():
        if v.shape != (n, s.T):
            return failed(f"{k} needs T = {s.T} values per image (one after each iteration t = 1..T), got "
                          f"{v.shape[1]}")
    # 1. the dual step and the bookkeeping, replayed on your own histories
    if "c_hist" in r and "f_hist" in r:
        hint = _c_recursion_hint(r["c_hist"], r["f_hist"], s.beta, s.dual_power)
        if hint:
            return failed(hint)
    if "f_hist" in r and "mi_hist" in r:
        hint = _bookkeeping_hint(r)
        if hint:
            return failed(hint)
    # 2. the outcome against uaelab's
    ref = prob.reference()
    x = prob.x.flatten(1)
    want_s = ref.success.cpu()
    delta, want_delta = r["x_adv"] - x, ref.x_adv.cpu().flatten(1) - x
    err = (delta - want_delta).abs().amax(1)
    if torch.equal(r["success"], want_s) and bool((err <= DELTA_TOL).all()):
        return passed(f"your Algorithm 1 matches uaelab's MinMax: the same success mask ({int(want_s.sum())} of "
                      f"{n} images) and δ within {err.max():.1e} of uaelab's (tolerance {DELTA_TOL:g}; |δ| up to "
                      f"{want_delta.abs().max():.1e})")
    # 3. where it parts from uaelab's: the first iterate whose f or I differs
    where = ""
    if "f_hist" in r and "mi_hist" in r:
        want_f, want_mi = ref.history["f"].T.double().cpu(), ref.history["mi"].T.double().cpu()
        bad = ((r["f_hist"] - want_f).abs() > 1e-6 + 1e-3 * want_f.abs()) | ((r["mi_hist"] - want_mi).abs() > MI_TOL)
        if bad.any():
            t0 = int(bad.int().argmax(1)[bad.any(1)].min())
            i = int(bad[:, t0].int().argmax())
            where = (f" Your iterates part from uaelab's at t = {t0 + 1} (image {i}: f {r['f_hist'][i, t0]:.4g} vs "
                     f"{want_f[i, t0]:.4g}, I {r['mi_hist'][i, t0]:.5f} vs {want_mi[i, t0]:.5f}). ")
            where += ("Check the first step: δ_1 = clip(δ_0 - α·(c_0·∇f⁺ + ∇I)) with δ_0 = 0 and c_0 = 0, ∇I taken "
                      "after MINE's steps at δ_0." if t0 == 0 else
                      "Check the order within an iteration: δ step (with the ∇I and f of the previous iterate) and "
                      "projection; then f, MINE's steps and I with its gradient at the new iterate; then c.")
    if not torch.equal(r["success"], want_s):
        diff = [i for i in range(n) if bool(r["success"][i]) != bool(want_s[i])]
        where = where or " An iterate succeeds when f(x + δ) <= 0; judge each new iterate δ_1..δ_T."
        return failed(f"success differs on image(s) {diff}: yours {r['success'].int().tolist()}, uaelab's "
                      f"{want_s.int().tolist()}.{where}")
    i = int(err.argmax())
    if not bool(want_s[i]) and delta[i].abs().max() > 0:
        return failed(f"image {i} never succeeds: return x itself for it (δ = 0); the paper's augmentation "
                      "replicates a sample whose attack fails")
    where = where or (" Keep the successful iterate with the smallest I > 0 (the I <= 0 closest to 0 only when no "
                      "successful iterate has I > 0).")
    return failed(f"δ differs from uaelab's by up to {err.max():.2e} (image {i}; tolerance {DELTA_TOL:g}, |δ| up to "
                  f"{want_delta.abs().max():.2e}).{where}")
