"""Per-sample MINE: known answers on correlated Gaussians, the batched networks' exactness, the
samplers and their numerics."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from uaelab.mi.mine import (
    ConvSampler,
    MineSettings,
    PerSampleMINE,
    RandomSampler,
    StatNets,
    dv_bound,
    estimate_mi,
    standardise,
)


def correlated(n: int, d: int, mi: float, seed: int):
    """n pairs of d-dim Gaussians with per-coordinate correlation ρ and I = -d/2·log(1-ρ²) = mi."""
    rho = math.sqrt(1 - math.exp(-2 * mi / d))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, rho * x + math.sqrt(1 - rho ** 2) * torch.randn(n, d, generator=g)


@pytest.fixture(scope="module")
def gaussian_estimates():
    out = {}
    for d, mis in ((1, (0.5, 2.0)), (5, (0.0, 0.5, 1.0, 2.0))):
        for mi in mis:
            a, b = correlated(10_000, d, mi, seed=d)
            out[d, mi] = estimate_mi(a, b, steps=800, batch_size=500, seed=0)
    return out


@pytest.mark.parametrize("d,mi", [(1, 0.5), (1, 2.0), (5, 0.5), (5, 1.0), (5, 2.0)])
def test_estimate_within_15_percent_of_closed_form(gaussian_estimates, d, mi):
    est = gaussian_estimates[d, mi]
    assert est == pytest.approx(mi, rel=0.15), f"d={d}: estimate {est:.3f} vs true {mi:.3f}"


def test_independent_near_zero_and_increasing_with_rho(gaussian_estimates):
    assert abs(gaussian_estimates[5, 0.0]) < 0.1
    series = [gaussian_estimates[5, mi] for mi in (0.0, 0.5, 1.0, 2.0)]
    assert all(b > a for a, b in zip(series, series[1:])), series


def test_estimate_mi_bad_input():
    a = torch.randn(10, 2)
    with pytest.raises(ValueError, match="same n"):
        estimate_mi(a, torch.randn(9, 2))
    bad = a.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        estimate_mi(bad, a)
    with pytest.raises(ValueError, match="holdout"):
        estimate_mi(a, a, holdout=1.0)


def test_dv_bound_matches_naive_formula():
    joint, marg = torch.randn(3, 7), torch.randn(3, 7) * 5
    naive = joint.mean(1) - torch.log(torch.exp(marg).mean(1))
    torch.testing.assert_close(dv_bound(joint, marg), naive)
    # and it stays finite where the naive exp overflows
    assert torch.isfinite(dv_bound(joint, marg + 1000)).all()


# -- the batched statistics networks ---------------------------------------------------------
@pytest.mark.parametrize("bias_correction", [False, True])
def test_hand_written_gradients_equal_autograd(bias_correction):
    B, K, n = 3, 40, 6
    nets = StatNets(n, [torch.Generator().manual_seed(i) for i in range(B)], hidden=(16, 4),
                    bias_correction=bias_correction)
    ab = torch.randn(2 * B, K, n)
    perm = torch.stack([torch.randperm(K) for _ in range(B)])
    dv1, g1 = nets._grads(ab, perm, nets.params)
    nets.log_ema.fill_(float("nan"))
    dv2, g2 = nets._autograd(ab, perm, nets.params)
    torch.testing.assert_close(dv1, dv2)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    _, gb1 = nets._grads(ab, perm, nets.params, "b")
    _, gb2 = nets._autograd(ab, perm, nets.params, "b")
    torch.testing.assert_close(gb1, gb2, rtol=1e-4, atol=1e-7)


def test_folded_network_equals_unfolded_layers():
    """The fold W1@W2 (and the conv via its transpose) computes the released architecture."""
    B, K, H, W = 2, 5, 6, 7
    nets = StatNets(H * W, [torch.Generator().manual_seed(i) for i in range(B)], hidden=(12, 3),
                    map_shape=(H, W), conv_filters=4, conv_kernel=2)
    a, b = torch.randn(B, K, H * W), torch.randn(B, K, H * W)
    perm = torch.stack([torch.randperm(K) for _ in range(B)])
    joint, marg = nets.scores(torch.cat([a, b]), perm)
    wc, bc, W1, b1, W2, b2, w = [p.detach() for p in nets.params]

    def branch(i, v):  # network i (0..2B-1) on maps v [K, H·W]: conv -> flatten -> dense -> dense
        z = F.conv2d(v.view(K, 1, H, W), wc[i], bc[i]).flatten(1)
        return (z @ W1[i] + b1[i]) @ W2[i] + b2[i]

    for i in range(B):
        ha, hb = branch(i, a[i]), branch(B + i, b[i])
        torch.testing.assert_close(joint[i], F.relu(ha + hb) @ w[i], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(marg[i], F.relu(ha + hb[perm[i]]) @ w[i], rtol=1e-4, atol=1e-5)


def test_batched_training_equals_separate_networks():
    """Network i trained inside a batch of 3 = network i trained alone (own Adam, own stream)."""
    K, n = 30, 8
    ab = torch.randn(6, K, n)
    gens = lambda ids: [torch.Generator().manual_seed(100 + i) for i in ids]
    batch = StatNets(n, gens([0, 1, 2]), hidden=(32, 5), lr=1e-2)
    alone = StatNets(n, gens([1]), hidden=(32, 5), lr=1e-2)
    for _ in range(5):
        batch.step(ab)
        alone.step(ab[[1, 4]])
    for p, q in zip(batch.params[:-1], alone.params[:-1]):
        torch.testing.assert_close(p[1], q[0], rtol=0, atol=1e-6)  # a-branch of network 1
        torch.testing.assert_close(p[4], q[1], rtol=0, atol=1e-6)  # b-branch of network 1
    torch.testing.assert_close(batch.params[-1][1], alone.params[-1][0], rtol=0, atol=1e-6)


def test_piecewise_w1_adam_equals_one_update():
    """step() forms dW1 a few networks at a time inside the Adam update: the same update as the
    whole dW1 from _grads followed by one fused Adam."""
    B, K, n = 3, 20, 8
    gens = lambda: [torch.Generator().manual_seed(7 + i) for i in range(B)]
    piecewise, whole = StatNets(n, gens(), hidden=(16, 4), lr=1e-2), StatNets(n, gens(), hidden=(16, 4), lr=1e-2)
    piecewise.adam_chunk_bytes = 1  # one network per piece
    ab = torch.randn(2 * B, K, n)
    for _ in range(3):
        piecewise.step(ab)
        _, grads = whole._grads(ab, whole.permutations(K), whole.params)
        whole._adam(grads)
    for p, q in zip(piecewise.params, whole.params):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-7)


@pytest.mark.parametrize("numpy_blas", [False, True])
def test_blocked_training_equals_step_by_step(numpy_blas):
    """train() takes a few samples at a time through all its steps (on copies of their state, with
    numpy's BLAS for the products): the same networks, Adam states and bounds as step() ``steps``
    times on the whole batch."""
    B, K, n = 5, 30, 8
    gens = lambda: [torch.Generator().manual_seed(11 + i) for i in range(B)]
    blocked = StatNets(n, gens(), hidden=(16, 4), lr=1e-2, bias_correction=True)
    whole = StatNets(n, gens(), hidden=(16, 4), lr=1e-2, bias_correction=True)
    blocked.block_samples, blocked.use_numpy_blas = 2, numpy_blas
    blocked.use_native = False  # the Python block loop (the compiled one: tests/test_native.py)
    # its own generator: the global RNG's state depends on which tests ran before
    ab = torch.randn(2 * B, K, n, generator=torch.Generator().manual_seed(0))
    for _ in range(2):
        dv1 = blocked.train(ab, 4)
        for _ in range(4):
            dv2 = whole.step(ab)
        torch.testing.assert_close(dv1, dv2, rtol=1e-5, atol=1e-6)
    # float32 products in another order (numpy's BLAS, per block): entries near 0 differ by a few
    # ulps of the larger terms, hence an absolute floor (a full-suite run once saw 1.6e-7)
    for p, q in zip(blocked.params + blocked.m1 + blocked.m2, whole.params + whole.m1 + whole.m2):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(blocked.log_ema, whole.log_ema)
    assert [int(s) for s in blocked.adam_steps] == [int(s) for s in whole.adam_steps] == [8] * 5


def test_training_increases_the_bound():
    a, b = correlated(512, 4, 1.0, seed=3)
    nets = StatNets(4, [torch.Generator().manual_seed(0)], hidden=(64, 16), lr=1e-3)
    ab = torch.stack([a, b])
    first = nets.step(ab)
    for _ in range(200):
        last = nets.step(ab)
    assert last.item() > first.item() + 0.3


# -- samplers ---------------------------------------------------------------------------------
def test_standardise_survives_constant_vectors():
    v = torch.full((2, 3, 5), 0.7)
    out = standardise(v)
    assert torch.isfinite(out).all() and out.abs().max() == 0
    v = torch.randn(4, 9) * 3 + 2
    out = standardise(v)
    torch.testing.assert_close(out.mean(-1), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(-1, unbiased=False), torch.ones(4), atol=1e-4, rtol=0)


def test_random_sampler_shapes_seeds_and_black_image():
    x = torch.rand(3, 1, 8, 8)
    s = RandomSampler(64, K=10, m=4, seed=0)
    out = s(x)
    assert out.shape == (3, 10, 4)
    torch.testing.assert_close(out[1:2], s(x[1:2]))  # per-sample, whatever the batch
    s2 = RandomSampler(64, K=10, m=4, seed=0, max_cache_bytes=0)  # chunked regeneration
    torch.testing.assert_close(out, s2(x))
    s.redraw(("other",))
    assert not torch.allclose(out, s(x))
    zeros = torch.zeros(2, 1, 8, 8, requires_grad=True)
    z = RandomSampler(64, K=10, m=4)(zeros)
    z.sum().backward()
    assert torch.isfinite(z).all() and torch.isfinite(zeros.grad).all()


def test_projection_policies():
    x = torch.rand(2, 1, 8, 8)
    keys = {}
    for policy in ("per_attack", "per_iteration", "per_evaluation"):
        mine = PerSampleMINE(MineSettings(K=8, m=4, steps=2, projection=policy), x)
        b = mine.features(x, it=3)
        mine.train(x, b, it=3)
        keys[policy] = mine.sampler.key
        mine.value(b, it=3)
        assert mine.sampler.key == mine._key(3, "grad")
    assert keys["per_attack"] == ("attack",)
    assert keys["per_iteration"] == ("it", 3)
    assert keys["per_evaluation"] == ("eval", 3, 1)  # redrawn at every MINE step


def test_conv_sampler_and_conv_mode():
    conv = torch.nn.Conv2d(1, 6, 3)
    x = torch.rand(2, 1, 8, 8)
    assert ConvSampler(conv)(x).shape == (2, 6, 36)
    mine = PerSampleMINE(MineSettings(sampler="conv", hidden=(16, 4), steps=2), x, feature=conv)
    xa = (x + 0.1).clamp(0, 1).requires_grad_(True)
    b = mine.features(xa)
    mine.train(xa, b.detach())
    val, g = mine.value(b, grad=True)
    assert val.shape == (2,) and g.shape == b.shape
    (gx,) = torch.autograd.grad(b, xa, g)
    assert torch.isfinite(gx).all() and gx.abs().sum() > 0
    with pytest.raises(ValueError, match="feature"):
        PerSampleMINE(MineSettings(sampler="conv"), x)


def test_settings_validation_and_profiles():
    with pytest.raises(ValueError, match="K"):
        MineSettings(K=1).validate()
    with pytest.raises(ValueError, match="K"):
        MineSettings.from_dict({"K": 1})
    quick = MineSettings.from_profile("quick")
    assert quick.K < 500 and quick.m < 128
    assert MineSettings.reference_code().projection == "per_evaluation"
    assert MineSettings().projection == "per_attack"
