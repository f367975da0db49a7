"""Shapes, ranges and closed-form checks for every model at every supported image size."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from uaelab import models

SIZES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
ODD = (3, 7, 10)  # not divisible by 4: the conv AE pads and crops


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("arch", [None, "digits", "cw_mnist", "cw_cifar"])
def test_classifier_shapes(shape, arch):
    torch.manual_seed(0)
    if arch in ("cw_mnist", "cw_cifar") and shape[1] < 16:
        with pytest.raises(ValueError, match="at least 16"):
            models.make_classifier(shape, 10, arch)
        return
    model = models.make_classifier(shape, 7, arch)
    out = model(torch.rand(3, *shape))
    assert out.shape == (3, 7)
    assert isinstance(model.first_conv, nn.Conv2d) and model.first_conv.in_channels == shape[0]
    # logits, not probabilities: rows do not sum to one
    assert not torch.allclose(out.softmax(1).sum(1), out.sum(1))


def test_make_classifier_picks_by_size():
    assert type(models.make_classifier((1, 8, 8), 10)) is models.DigitsClassifier
    assert type(models.make_classifier((1, 28, 28), 10)) is models.CWMnistClassifier
    assert type(models.make_classifier((3, 32, 32), 10)) is models.CWCifarClassifier
    with pytest.raises(ValueError, match="unknown classifier"):
        models.make_classifier((1, 8, 8), 10, "vgg")


@pytest.mark.parametrize("shape", SIZES + [ODD])
@pytest.mark.parametrize("kind", ["dense", "sparse", "conv", "adversarial"])
def test_autoencoder_shapes(kind, shape):
    torch.manual_seed(0)
    model = models.make_autoencoder(kind, shape)
    x = torch.rand(4, *shape)
    out = model(x)
    assert out.shape == x.shape
    assert 0 <= out.min() and out.max() <= 1
    assert model.encode(x).shape[0] == 4
    if kind == "conv":
        assert isinstance(model.first_conv, nn.Conv2d)


def test_unknown_autoencoder_kind():
    with pytest.raises(ValueError, match="choose one of"):
        models.make_autoencoder("variational", (1, 8, 8))


def test_conv_autoencoder_matches_released_layers():
    model = models.ConvAE((1, 28, 28))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 8, 8, 16, 1]
    assert all(c.kernel_size == (5, 5) for c in convs)
    assert model.encode(torch.rand(2, 1, 28, 28)).shape == (2, 8, 7, 7)


def test_sparse_penalty_closed_form():
    model = models.SparseAE((1, 8, 8), hidden=4, l1=0.5, kl_target=0.25, kl_weight=3.0)
    code = torch.full((2, 4), 0.25)  # batch mean equals the target: the KL term is zero
    recon = torch.full((2, 1, 8, 8), 0.5)
    expected_l1 = 0.5 * (2 * 4 * 0.25 + 2 * 64 * 0.5) / 2
    assert model.penalty_terms(code, recon).item() == pytest.approx(expected_l1)
    code = torch.full((2, 4), 0.5)  # KL(0.25 || 0.5) per unit
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    expected = 0.5 * (2 * 4 * 0.5 + 2 * 64 * 0.5) / 2 + 3.0 * kl  # KL averaged over the 4 units
    assert model.penalty_terms(code, recon).item() == pytest.approx(expected, rel=1e-5)
    assert torch.isfinite(model.penalty_terms(torch.zeros(2, 4), recon))  # survives dead units
    assert torch.isfinite(model.penalty(torch.rand(3, 1, 8, 8)))


def test_adversarial_step_updates_all_parts():
    torch.manual_seed(0)
    model = models.AdversarialAE((1, 8, 8), latent=2, hidden=16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss = model.make_step(1e-2)(model, torch.rand(8, 1, 8, 8))
    assert isinstance(loss, float) and loss > 0
    for part in ("encoder", "decoder", "discriminator"):
        assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items() if k.startswith(part)), part


def test_concrete_selects_distinct_features_and_anneals():
    torch.manual_seed(0)
    model = models.ConcreteAutoencoder(d=20, M=5, hidden=8)
    with torch.no_grad():  # force a collision: rows 0 and 1 both prefer feature 3
        model.select.logits.zero_()
        model.select.logits[0, 3] = 5.0
        model.select.logits[1, 3] = 4.0
        model.select.logits[1, 7] = 3.0
    assert model.has_duplicates()
    sel = model.selected_features()
    assert sel.dtype == torch.long and sel.shape == (5,) and len(set(sel.tolist())) == 5
    assert sel[0] == 3 and sel[1] == 7  # the more confident row keeps it, the other takes its runner-up
    model.eval()
    x = torch.rand(4, 20)
    assert torch.equal(model.encode(x), x[:, sel])  # eval output is exactly the selected inputs
    assert model(x).shape == x.shape
    model.schedule(0.0)
    assert model.select.temperature.item() == pytest.approx(10.0)
    model.schedule(1.0)
    assert model.select.temperature.item() == pytest.approx(0.1)
    model.schedule(0.5)
    assert model.select.temperature.item() == pytest.approx(1.0)  # geometric midpoint
    model.train()
    mix = model.select.selection()
    assert torch.allclose(mix.sum(1), torch.ones(5)) and torch.isfinite(mix).all()
    with pytest.raises(ValueError, match="M must"):
        models.ConcreteAutoencoder(d=4, M=5)


def test_random_features_distinct():
    idx = models.random_features(64, 10, seed=3)
    assert len(set(idx.tolist())) == 10 and idx.max() < 64
    assert torch.equal(idx, models.random_features(64, 10, seed=3))


@pytest.mark.parametrize("shape", SIZES)
def test_simclr_shapes(shape):
    torch.manual_seed(0)
    for encoder in (models.SmallEncoder(shape), models.resnet18_small(shape[0])):
        model = models.SimCLR(encoder, proj_dim=16).eval()
        x = torch.rand(2, *shape)
        assert model(x).shape == (2, 16)
        assert model.encode(x).shape == (2, encoder.out_dim)
        assert isinstance(model.first_conv, nn.Conv2d)
    resnet = models.resnet18_small(shape[0])
    assert resnet.first_conv.kernel_size == (3, 3) and resnet.first_conv.stride == (1, 1)
    assert isinstance(resnet.net.maxpool, nn.Identity)


def test_nt_xent_closed_form():
    n, t = 4, 0.5
    z = torch.eye(n, 8)  # orthonormal: positive similarity 1, every negative 0
    expected = math.log(math.exp(1 / t) + (2 * n - 2)) - 1 / t
    assert models.nt_xent(z, z.clone(), t).item() == pytest.approx(expected, rel=1e-5)
    far = models.nt_xent(z, -z, t).item()  # anti-aligned positives are worse
    assert far > expected
    with pytest.raises(ValueError):
        models.nt_xent(z, z[:2], t)


@pytest.mark.parametrize("shape", SIZES)
def test_simclr_augment_keeps_shape_and_range(shape):
    torch.manual_seed(0)
    aug = models.simclr_augment(shape, strength=0.5)
    x = torch.rand(3, *shape)
    out = aug(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, x)
    torch.manual_seed(1)
    a = aug(x)
    torch.manual_seed(1)
    assert torch.equal(a, aug(x))  # reproducible under torch's global seed


@pytest.mark.parametrize("kind", ["digits", "cw_mnist", "dense", "sparse", "conv", "adversarial", "concrete",
                                  "simclr"])
def test_build_model_from_config(kind):
    shape = [1, 28, 28]
    cfg = {"concrete": {"d": 64, "M": 5}, "simclr": {"encoder": {"in_shape": [1, 8, 8]}, "proj_dim": 8}}
    model = models.build_model(kind, cfg.get(kind, {"in_shape": shape}))
    again = models.build_model(kind, model.config)
    assert type(again) is type(model)
    assert [p.shape for p in again.parameters()] == [p.shape for p in model.parameters()]
    with pytest.raises(ValueError, match="cannot build"):
        models.build_model(kind, {"nonsense": 1})
