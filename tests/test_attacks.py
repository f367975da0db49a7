"""Attack solvers: projection invariants, the c-update, the f⁺ gradient rule, seeds, batch
independence, input checks, and the acceptance numbers on trained digits models."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from uaelab.attacks import (
    L2UAE,
    PGD,
    Gaussian,
    MinMax,
    MinMaxSettings,
    Penalty,
    PenaltySettings,
    bracket_update,
    make_attack,
)
from uaelab.attacks import criteria as C
from uaelab.attacks.gaussian import GaussianSettings
from uaelab.attacks.l2uae import L2UAESettings
from uaelab.attacks.pgd import PGDSettings
from uaelab.mi.mine import MineSettings
from uaelab.models import DenseAE, DigitsClassifier

SMALL_MINE = MineSettings(K=32, m=16, steps=3)


# -- trained digits models (a few seconds; the released shapes scaled to 8×8) -----------------
@pytest.fixture(scope="session")
def digits():
    from sklearn.datasets import load_digits

    X, Y = load_digits(return_X_y=True)
    x = torch.tensor(X, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    y = torch.tensor(Y, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(x), generator=g)
    return x[perm[:1400]], y[perm[:1400]], x[perm[1400:]], y[perm[1400:]]


@pytest.fixture(scope="session")
def classifier(digits):
    xtr, ytr, xte, yte = digits
    torch.manual_seed(0)
    model = DigitsClassifier(dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(6):
        for idx in torch.randperm(len(xtr), generator=g).split(128):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    assert acc > 0.9, f"digits classifier trained badly (test accuracy {acc:.3f})"
    return model


@pytest.fixture(scope="session")
def autoencoder(digits):
    xtr = digits[0]
    torch.manual_seed(0)
    model = DenseAE((1, 8, 8), hidden=16)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(400):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(xtr), xtr)
        loss.backward()
        opt.step()
    model.eval()
    assert loss.item() < 0.03, f"digits autoencoder trained badly (mse {loss.item():.4f})"
    return model


def correct(model, x, y):
    with torch.no_grad():
        keep = model(x).argmax(1) == y
    return x[keep], y[keep]


# -- acceptance on trained models --------------------------------------------------------------
def test_supervised_minmax_reaches_95_percent(classifier, digits):
    x, y = correct(classifier, digits[2][:200], digits[3][:200])
    attack = make_attack("mine-sup", classifier, profile="quick", seed=0)
    assert attack.settings.epsilon == 1.0 and attack.mine_settings.steps == 1
    res = attack(x, y)
    print(f"\nsupervised MinMax success rate on {len(x)} digits: {res.success_rate:.3f}")
    assert res.success_rate >= 0.95
    with torch.no_grad():  # the reported success is real misclassification
        pred = classifier(res.x_adv[res.success]).argmax(1)
    assert (pred != y[res.success]).all()
    assert torch.isfinite(res.mi_best[res.success]).all()


def test_unsupervised_minmax_success_fraction(autoencoder, digits, record_property):
    x = digits[2][:64]
    attack = make_attack("mine-uae", autoencoder, profile="quick", seed=0,
                         overrides=["minmax.T=20", "mine.steps=10"])
    res = attack(x)
    record_property("unsupervised_success_rate", res.success_rate)
    print(f"\nunsupervised MinMax success rate on {len(x)} digits: {res.success_rate:.3f}")
    assert res.success_rate >= 0.5
    crit = C.Reconstruction(autoencoder, x)
    with torch.no_grad():
        f = crit(res.x_adv)
    assert (f[res.success] <= 1e-6).all()
    # failures return the original sample, never zeros
    assert torch.equal(res.x_adv[~res.success], x[~res.success])


# -- invariants --------------------------------------------------------------------------------
def _solvers(classifier, autoencoder):
    cw, rec = C.cw(classifier), C.reconstruction(autoencoder)
    return [
        ("minmax-sup", MinMax(classifier, cw, MinMaxSettings(T=6, epsilon=0.3, c0=1.0), mine=SMALL_MINE), True),
        ("minmax-unsup", MinMax(autoencoder, rec, MinMaxSettings(T=6, epsilon=0.2, delta_init="uniform"),
                                mine=SMALL_MINE), False),
        ("penalty", Penalty(classifier, cw, PenaltySettings(T=3, binary_steps=2, epsilon=0.25), mine=SMALL_MINE), True),
        ("pgd", PGD(classifier, cw, PGDSettings(steps=5, epsilon=0.1, mi_eval_steps=2), mine=SMALL_MINE), True),
        ("l2uae", L2UAE(autoencoder, rec, L2UAESettings(T=5, epsilon=0.15, mi_eval_steps=2), mine=SMALL_MINE), False),
    ]


def test_projection_invariants_every_iteration(classifier, autoencoder, digits):
    x, y = digits[2][:8], digits[3][:8]
    for name, attack, sup in _solvers(classifier, autoencoder):
        seen = []

        def check(state, eps=attack.settings.epsilon, name=name):
            d = state["x_adv"] - state["x"]
            assert d.abs().max() <= eps + 1e-6, name
            assert state["x_adv"].min() >= 0 and state["x_adv"].max() <= 1, name
            if state["c"] is not None:
                assert (state["c"] >= 0).all(), name
            seen.append(state["t"])

        attack.callback = check
        res = attack(x, y if sup else None)
        assert seen, name
        assert (res.x_adv - x).abs().max() <= attack.settings.epsilon + 1e-6
        assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1
        assert res.x_adv.shape == x.shape and res.success.dtype == torch.bool
        for k in ("mi", "f", "c", "success"):
            assert res.history[k].shape[1] == len(x), (name, k)


def test_c_update_matches_formula():
    model = nn.Identity()
    crit = C.FromCallable(lambda xa: torch.full((xa.shape[0],), 2.0) + 0 * xa.sum((1, 2, 3)), "min")
    s = MinMaxSettings(T=3, c0=1.0, beta=0.1)
    res = MinMax(model, crit, s, mine=SMALL_MINE)(torch.full((2, 1, 4, 4), 0.5))
    c, expect = 1.0, []
    for t in (1, 2, 3):
        c = max(0.0, (1 - 0.1 / t ** 0.25) * c + 0.1 * 2.0)
        expect.append(c)
    # hand-computed: 1.1, then (1 - 0.1/2^¼)·1.1 + 0.2 = 1.2075014, ...
    assert expect[0] == pytest.approx(1.1) and expect[1] == pytest.approx(1.2075014, rel=1e-6)
    torch.testing.assert_close(res.history["c"][:, 0], torch.tensor(expect), rtol=1e-6, atol=0)
    assert not res.success.any() and torch.equal(res.x_adv, torch.full((2, 1, 4, 4), 0.5))


def test_c_floored_at_zero_and_f_negative_decays_c():
    crit = C.FromCallable(lambda xa: -1.0 - 0 * xa.sum((1, 2, 3)), "max")
    res = MinMax(nn.Identity(), crit, MinMaxSettings(T=3, c0=1.0, beta=0.5), mine=SMALL_MINE)(
        torch.full((1, 1, 4, 4), 0.5))
    c = 1.0
    for t in (1, 2, 3):
        c = max(0.0, (1 - 0.5 / t ** 0.25) * c)
    assert res.history["c"][-1, 0].item() == pytest.approx(c, rel=1e-6)
    assert (res.history["c"] >= 0).all()


def test_f_plus_has_no_gradient_when_satisfied(autoencoder, digits):
    """With f <= 0 everywhere, c·f⁺ must not move δ: any c gives the same trajectory."""
    x = digits[2][:4]

    def f(xa):  # always satisfied, but with a large gradient
        return -1000.0 + 10.0 * xa.flatten(1).sum(1)  # sum <= 64

    crit = C.FromCallable(f, "min")
    runs = [MinMax(autoencoder, crit, MinMaxSettings(T=4, c0=c0), mine=SMALL_MINE)(x) for c0 in (0.0, 1e3)]
    torch.testing.assert_close(runs[0].x_adv, runs[1].x_adv, rtol=0, atol=0)
    assert not torch.equal(runs[0].x_adv, x)  # δ did move, through the MI term


def test_bracket_update_rules():
    c = torch.tensor([1.0, 1.0, 4.0, 4.0])
    lower = torch.tensor([0.0, 0.0, 1.0, 1.0])
    upper = torch.tensor([1e10, 1e10, 8.0, 8.0])
    success = torch.tensor([True, False, True, False])
    c2, lo2, up2 = bracket_update(c, lower, upper, success)
    # success, no upper yet -> upper = c = 1, c = (0 + 1)/2; failure, no upper -> lower = 1, c ×10
    # success with bracket -> upper = 4, c = (1+4)/2; failure with bracket -> lower = 4, c = 6
    torch.testing.assert_close(c2, torch.tensor([0.5, 10.0, 2.5, 6.0]))
    torch.testing.assert_close(lo2, torch.tensor([0.0, 1.0, 1.0, 4.0]))
    torch.testing.assert_close(up2, torch.tensor([1.0, 1e10, 4.0, 8.0]))


def test_never_successful_returns_original_not_zeros(classifier, digits):
    x, y = digits[2][:3], digits[3][:3]
    crit = C.FromCallable(lambda xa: 1.0 + 0 * xa.flatten(1).sum(1), "max")
    for attack in (MinMax(classifier, crit, MinMaxSettings(T=3), mine=SMALL_MINE),
                   Penalty(classifier, crit, PenaltySettings(T=2, binary_steps=2), mine=SMALL_MINE),
                   PGD(classifier, crit, PGDSettings(steps=2, mi_eval_steps=0))):
        res = attack(x, y)
        assert not res.success.any()
        assert torch.equal(res.x_adv, x)
        assert torch.isnan(res.mi_best).all()


# -- seeds and batch independence -------------------------------------------------------------
def test_same_seed_same_result_and_seed_matters(autoencoder, digits):
    x = digits[2][:6]
    mk = lambda seed: MinMax(autoencoder, C.reconstruction(autoencoder), MinMaxSettings(T=4), mine=SMALL_MINE,  # noqa: E731
                             seed=seed)
    r1, r2, r3 = mk(3)(x), mk(3)(x), mk(4)(x)
    assert torch.equal(r1.x_adv, r2.x_adv) and torch.equal(r1.history["mi"], r2.history["mi"])
    assert not torch.equal(r1.history["mi"], r3.history["mi"])


@pytest.mark.parametrize("method", ["mine-uae", "mine-sup", "penalty", "pgd", "gaussian", "l2-uae"])
def test_batch_independence(method, classifier, autoencoder, digits):
    """Sample i attacked alone and inside a batch of 64 gives the same result."""
    x, y = digits[2][:64], digits[3][:64]
    model = classifier if method in ("mine-sup", "penalty", "pgd") else autoencoder
    over = {"mine-uae": ["minmax.T=5"], "mine-sup": ["minmax.T=5"], "l2-uae": ["l2uae.T=5", "l2uae.mi_eval_steps=3"],
            "penalty": ["penalty.T=3", "penalty.binary_steps=2"], "pgd": ["pgd.steps=5", "pgd.mi_eval_steps=3"],
            "gaussian": ["gaussian.mi_eval_steps=3"]}[method]
    attack = make_attack(method, model, profile="quick", seed=7,
                         overrides=over + ["mine.K=32", "mine.m=16", "mine.steps=3"])
    idx = torch.arange(100, 164)
    full = attack(x, y, indices=idx)
    for i in (0, 37):
        one = attack(x[i:i + 1], y[i:i + 1], indices=idx[i:i + 1])
        torch.testing.assert_close(one.x_adv[0], full.x_adv[i], rtol=0, atol=1e-5)
        assert one.success[0] == full.success[i]
        torch.testing.assert_close(one.mi_best[0], full.mi_best[i], rtol=0, atol=1e-5, equal_nan=True)
        torch.testing.assert_close(one.history["mi"][:, 0], full.history["mi"][:, i], rtol=0, atol=1e-5,
                                   equal_nan=True)


def test_max_batch_chunks_do_not_change_results(autoencoder, digits):
    x = digits[2][:6]
    a = MinMax(autoencoder, None, MinMaxSettings(T=3), mine=SMALL_MINE)
    b = MinMax(autoencoder, None, MinMaxSettings(T=3), mine=SMALL_MINE, max_batch=4)
    torch.testing.assert_close(a(x).x_adv, b(x).x_adv, rtol=0, atol=1e-5)


# -- calling conventions -----------------------------------------------------------------------
def test_model_state_restored_and_result_frame(autoencoder, digits):
    x = digits[2][:3]
    autoencoder.train()
    try:
        res = MinMax(autoencoder, None, MinMaxSettings(T=2), mine=SMALL_MINE)(x)
        assert autoencoder.training
        assert all(p.requires_grad for p in autoencoder.parameters())
    finally:
        autoencoder.eval()
    df = res.to_frame()
    assert list(df.columns) == ["iteration", "sample", "mi", "f", "c", "success"]
    assert len(df) == 2 * 3 and df["iteration"].max() == 2


def test_reference_code_preset():
    s = MinMaxSettings.reference_code()
    assert (s.c0, s.recon_norm, s.fallback, s.delta_init) == (1e-3, "sq", "lowest_f", "glorot")
    att = make_attack("mine-uae", DenseAE((1, 8, 8), hidden=4), preset="reference_code")
    assert att.mine_settings.projection == "per_evaluation" and att.settings.c0 == 1e-3
    assert att.settings.delta_init == "glorot"
    assert make_attack("mine-uae", DenseAE((1, 8, 8), hidden=4)).settings.c0 == 0.0


def test_glorot_start_matches_tf1_default_initialiser():
    from uaelab.attacks import glorot_limit

    # TF1 get_variable((1, H, W, C)) with no initializer: U(−a, a), a = sqrt(6 / (H·W + H·C))
    assert glorot_limit((1, 28, 28)) == pytest.approx((6 / (784 + 28)) ** 0.5)  # 0.0860
    assert glorot_limit((3, 32, 32)) == pytest.approx((6 / (1024 + 96)) ** 0.5)
    assert glorot_limit((617,)) == pytest.approx((6 / 618) ** 0.5)
    with pytest.raises(ValueError, match="C×H×W"):
        glorot_limit((4, 4))
    x = torch.full((64, 1, 28, 28), 0.5)  # mid-grey: nothing clipped by the [0, 1] box
    att = make_attack("mine-uae", DenseAE((1, 28, 28), hidden=4), overrides=["minmax.delta_init=glorot"])
    d = att._init_x(x, torch.arange(64), 1.0) - x
    a = glorot_limit((1, 28, 28))
    assert d.abs().max() <= a and d.abs().max() > 0.99 * a
    assert d.mean().abs() < 0.01 * a and d.std() == pytest.approx(a / 3 ** 0.5, rel=0.01)  # uniform
    alone = att._init_x(x[:1], torch.tensor([5]), 1.0)
    assert torch.equal(alone[0], (d + x)[5])  # a sample's start does not depend on its batch
    small = att._init_x(x, torch.arange(64), 0.01) - x
    assert small.abs().max() <= 0.01 + 1e-7  # never outside the ε-ball


def test_paper_defaults():
    s = MinMaxSettings()
    assert (s.alpha, s.beta, s.T, s.epsilon, s.kappa, s.c0, s.delta_init) == (0.01, 0.1, 40, 1.0, 0.0, 0.0, "zero")
    m = MineSettings()
    assert (m.K, m.m, m.hidden, m.lr, m.steps) == (500, 128, (512, 10), 1.5e-5, 20)


def test_gaussian_noise_sigma(autoencoder, digits):
    x = digits[2][:32] * 0.5 + 0.25  # away from the box, so no clipping
    res = Gaussian(autoencoder, None, GaussianSettings(sigma=0.05, mi_eval_steps=0))(x)
    assert (res.x_adv - x).std().item() == pytest.approx(0.05, rel=0.1)


# -- bad input ---------------------------------------------------------------------------------
def test_bad_input_raises(classifier, autoencoder, digits):
    x, y = digits[2][:4], digits[3][:4]
    att = MinMax(classifier, C.cw(classifier), MinMaxSettings(T=1), mine=SMALL_MINE)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        att(x * 2, y)
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        att(bad, y)
    for eps in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="epsilon"):
            MinMaxSettings.from_dict({"epsilon": eps})
    with pytest.raises(ValueError, match="epsilon"):
        make_attack("pgd", classifier, overrides=["pgd.epsilon=0"])
    with pytest.raises(ValueError, match="K"):
        MineSettings.from_dict({"K": 1})
    with pytest.raises(ValueError, match="K"):
        make_attack("mine-sup", classifier, overrides=["mine.K=1"])
    with pytest.raises(ValueError, match="one label per sample"):
        att(x, y[:3])
    with pytest.raises(ValueError, match="labels"):
        att(x)
    probs = nn.Sequential(classifier, nn.Softmax(dim=1))
    with pytest.raises(ValueError, match="probabilities"):
        MinMax(probs, C.cw(probs), MinMaxSettings(T=1), mine=SMALL_MINE)(x, y)
    with pytest.raises(ValueError, match="unknown attack method"):
        make_attack("fgsm", classifier)
    with pytest.raises(ValueError, match="mi_direction"):
        C.FromCallable(lambda xa: xa.sum(), "up")


def test_fixed_criterion_instance_and_gradient_free_criterion(autoencoder, digits):
    x = digits[2][:4]
    crit = C.Reconstruction(autoencoder, x)
    att = MinMax(autoencoder, crit, MinMaxSettings(T=2), mine=SMALL_MINE)
    assert att(x).x_adv.shape == x.shape
    with pytest.raises(ValueError, match="factory"):
        att(x[:3])
    # a criterion with no gradient (e.g. a black-box check) still runs: only the MI term moves δ
    flat = C.FromCallable(lambda xa: torch.full((xa.shape[0],), -1.0), "min")
    res = MinMax(autoencoder, flat, MinMaxSettings(T=2), mine=SMALL_MINE)(x)
    assert res.success.all()


def test_attack_config_is_the_one_cache_key():
    """attack_config: the class (no-MI and MINE-UAE share MinMaxSettings), the seed, every
    settings component, and with weights=True the attacked model's weights."""
    from uaelab.attacks import attack_config, make_attack
    from uaelab.utils import fingerprint

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 4), torch.nn.Sigmoid(),
                                torch.nn.Unflatten(1, (1, 2, 2)))
    mine = make_attack("mine-uae", model, profile="quick", seed=0)
    nomi = make_attack("no-mi", model, profile="quick", seed=0)
    assert mine.settings.to_dict() == nomi.settings.to_dict()
    assert fingerprint(attack_config(mine)) != fingerprint(attack_config(nomi))
    assert attack_config(mine)["mine"] == mine.mine_settings.to_dict()
    assert attack_config(make_attack("mine-uae", model, profile="quick", seed=1))["seed"] != attack_config(mine)["seed"]
    before = attack_config(mine, weights=True)["model"]
    with torch.no_grad():
        model[1].bias.add_(1.0)
    assert attack_config(mine, weights=True)["model"] != before and "model" not in attack_config(mine)
