"""Attack criteria: hand-computed values, directions, the logits check and batch factories."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from uaelab.attacks import attack_config, make_attack
from uaelab.attacks import criteria as C
from uaelab.models.simclr import SimCLR, SmallEncoder, nt_xent


class FixedLogits(nn.Module):
    """Returns given logits whatever the input (plus 0·x so gradients exist)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits, dtype=torch.float32)

    def forward(self, x):
        return self.logits + 0 * x.flatten(1).sum(1, keepdim=True)


def test_cw_untargeted_and_targeted_margins():
    model = FixedLogits([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    x = torch.zeros(2, 1, 2, 2)
    y = torch.tensor([0, 2])
    crit = C.CWMargin(model, y)
    # logit_y - max_{j≠y} logit_j: 3 - 2 = 1; -1 - 5 = -6
    torch.testing.assert_close(crit(x), torch.tensor([1.0, -6.0]))
    torch.testing.assert_close(C.CWMargin(model, y, kappa=0.5)(x), torch.tensor([1.5, -5.5]))
    tgt = C.CWMargin(model, y, target=torch.tensor([1, 1]))
    # max_{j≠t} logit_j - logit_t: 3 - 1 = 2; 0 - 5 = -5
    torch.testing.assert_close(tgt(x), torch.tensor([2.0, -5.0]))
    assert crit.mi_direction == "max"


def test_probabilities_are_rejected():
    probs = FixedLogits([[0.7, 0.2, 0.1]])
    with pytest.raises(ValueError, match="probabilities"):
        C.CWMargin(probs, torch.tensor([0]))(torch.zeros(1, 1, 2, 2))
    C.check_logits(torch.tensor([[0.7, 0.2, 0.3]]))  # in [0,1] but not summing to 1: fine


def test_reconstruction_l2_and_sq():
    ae = nn.Identity()
    x = torch.full((2, 1, 2, 2), 0.5)
    xa = x.clone()
    xa[0] += 0.1  # Φ(x') = x' so the loss is ||x - x'||
    l2 = C.Reconstruction(ae, x, norm="l2")
    sq = C.Reconstruction(ae, x, norm="sq", kappa=0.01)
    torch.testing.assert_close(l2(xa), torch.tensor([0.2, 0.0]), atol=1e-5, rtol=0)  # sqrt(4·0.01)
    torch.testing.assert_close(sq(xa), torch.tensor([0.04 + 0.01, 0.01]), atol=1e-6, rtol=0)
    assert l2.mi_direction == "min"
    with pytest.raises(ValueError, match="norm"):
        C.Reconstruction(ae, x, norm="l1")


def test_reconstruction_success_at_original_is_kappa():
    torch.manual_seed(0)
    ae = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.Sigmoid(), nn.Unflatten(1, (1, 2, 2)))
    x = torch.rand(3, 1, 2, 2)
    torch.testing.assert_close(C.Reconstruction(ae, x, kappa=0.2)(x), torch.full((3,), 0.2))


def test_contrastive_criterion():
    torch.manual_seed(0)
    enc = nn.Sequential(nn.Flatten(), nn.Linear(16, 8))
    x = torch.rand(4, 1, 4, 4)
    views = torch.stack([(x + 0.05 * torch.randn_like(x)).clamp(0, 1) for _ in range(2)])
    crit = C.Contrastive(enc, x, views=views, temperature=0.5)
    f = crit(x)
    torch.testing.assert_close(f, torch.zeros(4), atol=1e-6, rtol=0)  # x against itself: f = κ = 0
    # a view itself is closer to the views than a random image is
    assert (crit(views[0]) < crit(torch.rand_like(x))).all()
    assert crit.mi_direction == "min"
    # fixed negatives make f independent of the batch
    neg = torch.randn(10, 8)
    full = C.Contrastive(enc, x, views=views, negatives=neg)(views[1])
    one = C.Contrastive(enc, x[:1], views=views[:, :1], negatives=neg)(views[1][:1])
    torch.testing.assert_close(full[:1], one)
    # augment= with a seed is reproducible
    aug = lambda v: (v + 0.1 * torch.randn_like(v)).clamp(0, 1)
    a1 = C.Contrastive(enc, x, augment=aug, seed=3)(x)
    a2 = C.Contrastive(enc, x, augment=aug, seed=3)(x)
    torch.testing.assert_close(a1, a2)
    with pytest.raises(ValueError, match="views"):
        C.Contrastive(enc, x)


def test_from_callable_needs_direction_and_factories():
    f = C.FromCallable(lambda xa: xa.flatten(1).sum(1) - 1, "min")
    assert f.mi_direction == "min"
    torch.testing.assert_close(f(torch.ones(2, 3)), torch.tensor([2.0, 2.0]))
    with pytest.raises(ValueError, match="mi_direction"):
        C.FromCallable(lambda xa: xa, "maximise")
    model = FixedLogits([[1.0, 0.0]])
    make = C.cw(model, kappa=0.1)
    crit = make(torch.zeros(1, 2), torch.tensor([0]))
    assert isinstance(crit, C.CWMargin) and crit.kappa == 0.1
    with pytest.raises(ValueError, match="labels"):
        make(torch.zeros(1, 2), None)
    assert isinstance(C.reconstruction(nn.Identity())(torch.zeros(1, 2), None), C.Reconstruction)
    assert C.as_factory(f)(None, None) is f


def test_infer_criterion_from_model():
    x = torch.rand(2, 1, 2, 2)
    assert isinstance(C.infer(nn.Identity(), x, None), C.Reconstruction)
    clf = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    assert isinstance(C.infer(clf, x, torch.tensor([0, 1])), C.CWMargin)
    with pytest.raises(ValueError, match="criterion"):
        C.infer(clf, x, None)


def test_tiled_contrastive_is_constant_with_identity_views():
    """The released SimCLR criterion: identical views make every similarity equal, so the loss is
    2·log(2·copies − 1) for any encoder and input (closed form), and f is 0 up to rounding."""
    torch.manual_seed(0)
    enc = SimCLR(SmallEncoder((1, 12, 12), width=4)).eval()
    x = torch.rand(3, 1, 12, 12)
    for copies in (2, 50):
        crit = C.TiledContrastive(enc, x, copies=copies)
        assert crit.constant() == pytest.approx(2 * math.log(2 * copies - 1))
        assert torch.allclose(crit.base, torch.full((3,), crit.constant()), atol=1e-5)
        xa = torch.rand_like(x).requires_grad_(True)  # any other input: the same loss
        f = crit(xa)
        assert f.abs().max() < 1e-5
        grad = torch.autograd.grad(f.sum(), xa)[0]
        assert grad.abs().max() < 1e-6  # nothing for c·f⁺ to push against


def test_tiled_contrastive_with_views_matches_nt_xent_and_is_batch_independent():
    torch.manual_seed(1)
    enc = SimCLR(SmallEncoder((1, 12, 12), width=4)).eval()
    x = torch.rand(2, 1, 12, 12)
    shift = torch.linspace(-0.1, 0.1, 6).view(6, 1, 1, 1)  # a fixed, differentiable "augmentation"

    def augment(v):  # v: [B·2·copies, ...] sample-major; copies = 3
        return (v + shift.repeat(v.shape[0] // 6, 1, 1, 1)).clamp(0, 1)

    crit = C.TiledContrastive(enc, x, copies=3, augment=augment)
    assert crit.constant() is None
    with torch.no_grad():
        for i in range(2):
            views = enc(augment(x[i:i + 1].repeat(6, 1, 1, 1)))
            want = 2 * nt_xent(views[:3], views[3:], 0.5)
            assert float(crit.base[i]) == pytest.approx(float(want), rel=1e-5)
        alone = C.TiledContrastive(enc, x[1:], copies=3, augment=augment).base
    assert torch.allclose(alone, crit.base[1:], atol=1e-6)


def test_simclr_reference_preset_uses_the_released_criterion_and_dual_step():
    enc = SimCLR(SmallEncoder((1, 12, 12), width=4)).eval()
    ref = make_attack("mine-uae", enc, kind="simclr", preset="reference_code")
    assert (ref.settings.contrastive, ref.settings.dual_power) == ("tiled", 0.5)
    paper = make_attack("mine-uae", enc, kind="simclr", preset="paper")
    assert (paper.settings.contrastive, paper.settings.dual_power) == ("views", 0.25)
    # the autoencoder attack keeps t^(1/4) under the same preset
    ae = make_attack("mine-uae", torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(144, 144),
                                                     torch.nn.Unflatten(1, (1, 12, 12))), preset="reference_code")
    assert ae.settings.dual_power == 0.25
    # fields added later stay out of the cache key at their defaults (old UAE folders stay valid)
    assert "dual_power" not in attack_config(paper)["settings"]
    assert attack_config(ref)["settings"]["dual_power"] == 0.5
    with pytest.raises(ValueError, match="dual_power"):
        ref.settings.replace(dual_power=0.0)
