"""Models on the real MNIST (skipped without ../shared/data): short runs of the released recipes.

The full released runs (all epochs, 60k images) live in ``benchmarks/train_real_mnist.py``;
here a 3000-image subset checks that the recipes train on real 28×28 data at all.
"""
from __future__ import annotations

import pytest
import torch

from uaelab import models
from uaelab.data import load_dataset
from uaelab.evaluate import metrics
from uaelab.models import train
from uaelab.models.train import recipe_settings

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def mnist():
    from conftest import shared_data_root

    root = shared_data_root()
    if root is None or not (root / "MNIST" / "raw").is_dir():
        pytest.skip("needs ../shared/data/MNIST (or UAELAB_SHARED_DATA); not present here")
    return load_dataset("mnist", root=root, limit=3000, test_limit=1000)


def test_released_dense_recipe_on_mnist_subset(mnist):
    torch.set_num_threads(1)
    baseline = float((mnist.x_test - mnist.x_train.mean(0)).pow(2).mean())
    model, hist = train.train_autoencoder("dense", mnist, recipe_settings("dense", "paper", epochs=10), progress=False)
    err = metrics.reconstruction_error(model, mnist.x_test)
    assert err < 0.5 * baseline, (err, baseline)
    assert hist.loss.is_monotonic_decreasing


def test_mnist_models_accept_real_batches(mnist):
    x = mnist.x_test[:16]
    torch.manual_seed(0)
    logits = models.make_classifier(mnist.sample_shape, mnist.n_classes)(x)
    assert logits.shape == (16, 10)
    for kind in ("dense", "sparse", "conv", "adversarial"):
        out = models.make_autoencoder(kind, mnist.sample_shape)(x)
        assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1
