"""Interrupted training resumes to the same weights and history as an uninterrupted run."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from uaelab import models
from uaelab.data import load_dataset
from uaelab.models import zoo
from uaelab.models.train import TrainSettings, TrainStateError, _rng_states, _set_rng_states, fit, recipe_settings


class Interrupt(Exception):
    """Stands in for Ctrl-C / a dead kernel in the middle of an epoch."""


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _interrupt_after(model, calls: int):
    """Make ``model(...)`` raise on its ``calls``-th forward pass; returns the hook handle."""
    seen = {"n": 0}

    def hook(module, args):
        seen["n"] += 1
        if seen["n"] == calls:
            raise Interrupt

    return model.register_forward_pre_hook(hook)


def _build(kind: str, d: int):
    torch.manual_seed(3)
    if kind == "dense":
        model = models.DenseAE((1, 8, 8), hidden=16)
        return model, None, TrainSettings(epochs=5, batch_size=200, lr=3e-3, optimizer="rmsprop", seed=1)
    if kind == "adversarial":  # three optimizers of its own and prior samples from the global RNG
        model = models.AdversarialAE((1, 8, 8), hidden=32, latent_activation="linear")
        return model, model.make_step(1e-3), TrainSettings(epochs=5, batch_size=200, seed=1)
    if kind == "concrete":  # temperature schedule and Gumbel noise
        model = models.ConcreteAutoencoder(d, 6, hidden=16)
        return model, None, TrainSettings(epochs=5, batch_size=200, lr=1e-2, seed=1)
    if kind == "classifier":  # SGD momentum, a validation split and early stopping
        model = models.make_classifier((1, 8, 8), 10)
        return model, None, TrainSettings(epochs=5, batch_size=200, lr=0.05, optimizer="sgd", momentum=0.9,
                                          loss="ce", val_fraction=0.2, patience=3, seed=1)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["dense", "adversarial", "concrete", "classifier"])
def test_interrupted_fit_resumes_to_identical_result(digits, kind, tmp_path):
    x = digits.x_train
    if kind == "concrete":
        x = x.reshape(len(x), -1)
    y = digits.y_train if kind == "classifier" else None
    d = x.shape[1] if x.dim() == 2 else None

    model, step_fn, s = _build(kind, d)
    full = fit(model, x, y, settings=s, step_fn=step_fn, progress=False)
    want = {k: v.clone() for k, v in model.state_dict().items()}

    state = tmp_path / "train.state"
    model, step_fn, s = _build(kind, d)
    steps_per_epoch = -(-len(x) // s.batch_size) if s.val_fraction == 0 else -(-int(len(x) * 0.8) // s.batch_size)
    handle = _interrupt_after(model, 2 * steps_per_epoch + 2)  # in the middle of epoch 3
    with pytest.raises(Interrupt):
        fit(model, x, y, settings=s, step_fn=step_fn, progress=False, state_path=state)
    handle.remove()
    assert state.exists()

    model, step_fn, s = _build(kind, d)  # a fresh process would start from a fresh model
    resumed = fit(model, x, y, settings=s, step_fn=step_fn, progress=False, state_path=state)
    assert resumed.epoch.tolist() == full.epoch.tolist()
    assert resumed.loss.tolist() == full.loss.tolist()
    assert resumed.val_loss.fillna(-1).tolist() == full.val_loss.fillna(-1).tolist()
    got = model.state_dict()
    assert all(torch.equal(want[k], got[k]) for k in want)


def test_finished_state_is_not_trained_again(digits, tmp_path):
    model, _, s = _build("dense", None)
    state = tmp_path / "train.state"
    first = fit(model, digits.x_train, settings=s, progress=False, state_path=state)
    want = {k: v.clone() for k, v in model.state_dict().items()}
    model, _, s = _build("dense", None)
    handle = _interrupt_after(model, 1)  # any training step would raise
    again = fit(model, digits.x_train, settings=s, progress=False, state_path=state)
    handle.remove()
    assert again.loss.tolist() == first.loss.tolist()
    assert all(torch.equal(want[k], v) for k, v in model.state_dict().items())


def test_state_from_another_run_or_corrupt_is_refused(digits, tmp_path):
    state = tmp_path / "train.state"
    model, _, s = _build("dense", None)
    fit(model, digits.x_train, settings=s.replace(epochs=1), progress=False, state_path=state)
    model, _, s = _build("dense", None)
    with pytest.raises(TrainStateError, match="another run.*delete it"):
        fit(model, digits.x_train, settings=s.replace(lr=1e-2), progress=False, state_path=state)
    with pytest.raises(ValueError, match="another run"):  # other data
        fit(model, digits.x_test, settings=s, progress=False, state_path=state)
    state.write_bytes(b"not a torch file")
    with pytest.raises(TrainStateError, match="cannot read.*delete it"):
        fit(model, digits.x_train, settings=s, progress=False, state_path=state)


def test_zoo_resumes_an_interrupted_training(digits, tmp_cache, monkeypatch, tmp_path):
    calls = {"n": 0}
    forward = models.DenseAE.forward
    s = recipe_settings("dense", "quick")
    stop = -(-len(digits.x_train) // s.batch_size) + 3  # a few steps into epoch 2
    assert s.epochs >= 2

    def flaky(self, x):
        calls["n"] += 1
        if calls["n"] == stop:
            raise Interrupt
        return forward(self, x)

    monkeypatch.setattr(models.DenseAE, "forward", flaky)
    with pytest.raises(Interrupt):
        zoo.get_trained("dense", digits, profile="quick", progress=False)
    monkeypatch.setattr(models.DenseAE, "forward", forward)
    path = zoo.model_path("dense", digits, profile="quick")
    partial = zoo.partial_path(path)
    assert partial.exists() and not path.exists()

    model, hist = zoo.get_trained("dense", digits, profile="quick", progress=False)
    assert path.exists() and not partial.exists()  # the resume file is gone once the checkpoint is saved

    monkeypatch.setenv("UAELAB_CACHE", str(tmp_path / "other"))  # the same model, never interrupted
    ref, ref_hist = zoo.get_trained("dense", digits, profile="quick", progress=False)
    assert hist.loss.tolist() == ref_hist.loss.tolist()
    assert all(torch.equal(v, ref.state_dict()[k]) for k, v in model.state_dict().items())


def test_zoo_discards_an_unusable_resume_file(digits, tmp_cache):
    path = zoo.model_path("dense", digits, profile="quick")
    zoo.partial_path(path).write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unfinished training state"):
        zoo.get_trained("dense", digits, profile="quick", progress=False)
    assert path.exists() and not zoo.partial_path(path).exists()


def test_state_loads_weights_only_and_format_1_is_refused(digits, tmp_path):
    """The state holds tensors and plain lists only (no pickled numpy or Python objects), so every
    torch.load in uaelab is weights_only=True; a format-1 file (pickled RNG states) is refused."""
    state = tmp_path / "train.state"
    model, _, s = _build("dense", None)
    fit(model, digits.x_train, settings=s.replace(epochs=1), progress=False, state_path=state)
    saved = torch.load(state, weights_only=True)
    assert saved["format"] == 2 and torch.is_tensor(saved["numpy_rng"][1])
    saved["format"] = 1
    torch.save(saved, state)
    with pytest.raises(TrainStateError, match="another run"):
        fit(model, digits.x_train, settings=s.replace(epochs=1), progress=False, state_path=state)
    package = Path(__file__).parent.parent / "uaelab"
    assert not [p for p in package.rglob("*.py") if "weights_only=False" in p.read_text()]


def test_resumed_global_rngs_continue_their_streams():
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    saved = _rng_states()
    want = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    torch.manual_seed(2), np.random.seed(2), random.seed(2)
    _set_rng_states(saved)
    got = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    assert torch.equal(want[0], got[0]) and np.array_equal(want[1], got[1]) and want[2] == got[2]
