"""The shared training loop, the recipes and the quick-profile acceptance numbers on digits."""
from __future__ import annotations

import time

import pandas as pd
import pytest
import torch
from torch import nn

from uaelab import models
from uaelab.data import load_dataset
from uaelab.evaluate import metrics
from uaelab.models import train
from uaelab.models.train import TrainSettings, fit, recipe_settings


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_fit_history_and_determinism(digits):
    s = TrainSettings(epochs=3, batch_size=64, lr=3e-3, val_fraction=0.2, seed=5)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = models.DenseAE((1, 8, 8), hidden=16)
        hist = fit(model, digits.x_train, settings=s, progress=False)
        runs.append(_state(model))
    assert isinstance(hist, pd.DataFrame)
    assert list(hist.columns) == ["epoch", "loss", "val_loss", "time", "cpu_time"]
    assert hist.epoch.tolist() == [1, 2, 3]
    assert hist.loss.iloc[-1] < hist.loss.iloc[0] and hist.val_loss.notna().all()
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])  # same seed, same weights
    torch.manual_seed(0)
    other = models.DenseAE((1, 8, 8), hidden=16)
    fit(other, digits.x_train, settings=s.replace(seed=6), progress=False)
    assert not all(torch.equal(runs[0][k], v) for k, v in other.state_dict().items())
    assert not other.training  # left in eval mode


class _Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.calls = 0
        self.progress: list[float] = []

    def schedule(self, progress):
        self.progress.append(progress)


def test_early_stopping_restores_best_and_schedule_hook():
    model = _Counter()
    x = torch.zeros(10, 2)

    def step(m, xb, yb):  # loss grows every step: epoch 1 is the best epoch
        m.calls += 1
        return m.w + m.calls

    s = TrainSettings(epochs=20, batch_size=10, lr=0.1, optimizer="sgd", loss="none", patience=2)
    hist = fit(model, x, settings=s, step_fn=step, progress=False)
    assert len(hist) == 3  # best at epoch 1, two epochs without improvement, stop
    assert model.w.item() == pytest.approx(-0.1)  # weights after epoch 1 (one SGD step of size lr)
    assert model.progress[0] == 0.0 and model.progress == sorted(model.progress)
    assert model.progress[-1] == pytest.approx(2 / 19)  # 3 of 20 planned steps


def test_step_fn_returning_float_owns_the_update():
    model = _Counter()
    s = TrainSettings(epochs=2, batch_size=5, loss="none")
    hist = fit(model, torch.zeros(10, 1), settings=s, step_fn=lambda m, xb, yb: 0.5, progress=False)
    assert model.w.item() == 0.0 and hist.loss.tolist() == [0.5, 0.5]


def test_fit_rejects_bad_input():
    model = models.DenseAE((1, 8, 8), hidden=4)
    x = torch.rand(10, 1, 8, 8)
    with pytest.raises(ValueError, match="step_fn"):
        fit(model, x, settings=TrainSettings(loss="none"), progress=False)
    with pytest.raises(ValueError, match="different lengths"):
        fit(model, x, torch.zeros(3, dtype=torch.long), settings=TrainSettings(), progress=False)
    with pytest.raises(ValueError, match="TrainSettings"):
        fit(model, x, settings={"epochs": 1}, progress=False)
    for bad in ({"epochs": 0}, {"lr": -1.0}, {"optimizer": "lbfgs"}, {"val_fraction": 1.0}, {"patience": 0}):
        with pytest.raises(ValueError):
            TrainSettings.from_dict(bad)


def test_recipes_hold_released_settings():
    dense = recipe_settings("dense", "paper")
    got = (dense.optimizer, dense.lr, dense.loss, dense.epochs, dense.batch_size)
    assert got == ("rmsprop", 0.0025, "mse", 20, 100)
    sparse = recipe_settings("sparse", "paper")
    assert (sparse.optimizer, sparse.epochs) == ("adam", 50)
    conv = recipe_settings("conv", "paper")
    assert (conv.optimizer, conv.lr, conv.loss, conv.epochs, conv.batch_size) == ("adadelta", 1.0, "bce", 20, 100)
    assert recipe_settings("dense", "quick").epochs != dense.epochs
    assert recipe_settings("dense", "paper", epochs=3).epochs == 3
    with pytest.raises(ValueError, match="no training recipe"):
        recipe_settings("gan")


def test_metrics_closed_form():
    class Half(nn.Module):
        def forward(self, x):
            return torch.full_like(x, 0.5)

    x = torch.tensor([[0.0, 1.0], [0.5, 0.5]])
    per = metrics.per_sample_reconstruction_error(Half(), x)
    assert per.tolist() == pytest.approx([0.25, 0.0])
    assert metrics.reconstruction_error(Half(), x) == pytest.approx(0.125)
    with pytest.raises(ValueError):
        metrics.reconstruction_error(Half(), x * 3)

    class Fixed(nn.Module):
        def forward(self, x):
            return torch.nn.functional.one_hot(x[:, 0].long(), 3).float()

    xs = torch.tensor([[0.0], [1.0], [2.0], [1.0]])
    assert metrics.accuracy(Fixed(), xs, torch.tensor([0, 1, 0, 0])) == pytest.approx(0.5)


def _mean_image_error(data) -> float:
    """Error of always predicting the training mean image: the baseline any AE must beat."""
    return float((data.x_test - data.x_train.mean(0)).pow(2).mean())


def test_quick_digits_classifier_accuracy_and_time(digits):
    c0 = time.process_time()
    model, hist = train.train_classifier(digits, profile="quick", progress=False)
    cpu = time.process_time() - c0
    acc = metrics.accuracy(model, digits.x_test, digits.y_test)
    assert acc >= 0.95, acc
    assert cpu < 120, cpu


# (kind, epochs used here to keep the test short, required fraction of the mean-image error)
AE_CASES = [("dense", None, 0.1), ("sparse", 40, 0.8), ("conv", 15, 0.5), ("adversarial", 8, 0.8)]


@pytest.mark.parametrize("kind,epochs,fraction", AE_CASES)
def test_quick_autoencoders_beat_mean_image(digits, kind, epochs, fraction):
    s = recipe_settings(kind, "quick")
    s = s if epochs is None else s.replace(epochs=epochs)
    model, hist = train.train_autoencoder(kind, digits, s, progress=False)
    err = metrics.reconstruction_error(model, digits.x_test)
    assert err < fraction * _mean_image_error(digits), (err, _mean_image_error(digits))
    assert hist.loss.iloc[-1] < hist.loss.iloc[0]


def test_quick_concrete_beats_random_features(digits):
    M = 12
    model, _ = train.train_concrete(digits, M=M, settings=recipe_settings("concrete", "quick", epochs=80),
                                    progress=False)
    sel = model.selected_features()
    assert len(set(sel.tolist())) == M
    xtr, xte = digits.x_train.flatten(1), digits.x_test.flatten(1)
    chosen = metrics.extra_trees_accuracy(xtr[:, sel], digits.y_train, xte[:, sel], digits.y_test)
    rand = [metrics.extra_trees_accuracy(xtr[:, r], digits.y_train, xte[:, r], digits.y_test)
            for r in (models.random_features(64, M, s) for s in range(3))]
    assert chosen > sum(rand) / len(rand), (chosen, rand)


@pytest.mark.slow
def test_quick_simclr_probe_beats_random_encoder(digits):
    model, hist = train.train_simclr(digits, profile="quick", progress=False)
    assert hist.loss.iloc[-1] < hist.loss.iloc[0]
    learned = metrics.linear_probe(model, digits.x_train, digits.y_train, digits.x_test, digits.y_test)
    torch.manual_seed(0)
    random_init = models.SimCLR(models.SmallEncoder(digits.sample_shape))
    baseline = metrics.linear_probe(random_init, digits.x_train, digits.y_train, digits.x_test, digits.y_test)
    assert learned > baseline, (learned, baseline)
