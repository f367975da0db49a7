"""Checkpoint round trips, corrupt and mismatched files, and the trained-model cache (zoo)."""
from __future__ import annotations

import warnings

import pytest
import torch

from uaelab import models
from uaelab.data import load_dataset
from uaelab.models import checkpoint, train, zoo
from uaelab.models.train import recipe_settings

SETTINGS = {"epochs": 1, "lr": 0.1}


def _save(tmp_path, model, kind, in_shape, name="m.pt"):
    return checkpoint.save(tmp_path / name, model, kind=kind, settings=SETTINGS, in_shape=in_shape,
                           data_fingerprint="abc123", extra={"history": {"loss": [1.0, 0.5]}})


@pytest.mark.parametrize("kind,make,in_shape", [
    ("digits", lambda: models.DigitsClassifier(), (1, 8, 8)),
    ("conv", lambda: models.ConvAE((1, 8, 8)), (1, 8, 8)),
    ("sparse", lambda: models.SparseAE((3, 32, 32), hidden=8, l1=1e-6), (3, 32, 32)),
    ("adversarial", lambda: models.AdversarialAE((1, 8, 8), latent=2, hidden=16), (1, 8, 8)),
    ("concrete", lambda: models.ConcreteAutoencoder(64, 5, hidden=8), (64,)),
    ("simclr", lambda: models.SimCLR(models.SmallEncoder((1, 8, 8), width=4), proj_dim=8), (1, 8, 8)),
])
def test_round_trip_gives_identical_outputs(tmp_path, kind, make, in_shape):
    torch.manual_seed(0)
    model = make().eval()
    path = _save(tmp_path, model, kind, in_shape)
    loaded, meta = checkpoint.load(path, expected_kind=kind, expected_in_shape=in_shape,
                                   expected_fingerprint="abc123", expected_settings=SETTINGS)
    assert type(loaded) is type(model) and not loaded.training
    x = torch.rand(3, *in_shape)
    assert torch.equal(loaded(x), model(x))
    assert meta["settings"] == SETTINGS and meta["extra"]["history"]["loss"] == [1.0, 0.5]
    assert meta["config"] == checkpoint._plain(model.config)
    assert "state_dict" not in meta


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    return _save(tmp_path, models.DenseAE((1, 8, 8), hidden=8), "dense", (1, 8, 8))


def test_truncated_file_raises(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        checkpoint.load(saved)


def test_garbage_and_foreign_files_raise(tmp_path, saved):
    saved.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="corrupt"):
        checkpoint.load(saved)
    other = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not a uaelab checkpoint"):
        checkpoint.load(other)
    with pytest.raises(ValueError, match="no checkpoint"):
        checkpoint.load(tmp_path / "missing.pt")


def test_tampered_weights_fail_the_hash(saved):
    payload = torch.load(saved, weights_only=True)
    key = next(iter(payload["state_dict"]))
    payload["state_dict"][key] = payload["state_dict"][key] + 1
    torch.save(payload, saved)
    with pytest.raises(ValueError, match="integrity hash"):
        checkpoint.load(saved)


def test_state_that_does_not_fit_the_config_raises(saved):
    payload = torch.load(saved, weights_only=True)
    payload["config"]["hidden"] = 9  # the stored weights are for 8 hidden units
    torch.save(payload, saved)
    with pytest.raises(ValueError, match="does not fit"):
        checkpoint.load(saved)


@pytest.mark.parametrize("expectation,match", [
    ({"expected_kind": "conv"}, "kind"),
    ({"expected_in_shape": (1, 28, 28)}, "input shape"),
    ({"expected_fingerprint": "other"}, "data fingerprint"),
    ({"expected_settings": {"epochs": 2, "lr": 0.1}}, "settings"),
])
def test_mismatch_raises(saved, expectation, match):
    with pytest.raises(ValueError, match=match):
        checkpoint.load(saved, **expectation)


def test_save_needs_config(tmp_path):
    with pytest.raises(ValueError, match="config"):
        checkpoint.save(tmp_path / "x.pt", torch.nn.Linear(2, 2), kind="dense", settings={}, in_shape=(2,),
                        data_fingerprint="f")


def test_zoo_trains_once_then_loads(tmp_cache, monkeypatch):
    data = load_dataset("digits", limit=200, test_limit=50)
    settings = recipe_settings("dense", "quick", epochs=2)
    calls = []
    real = train.train_autoencoder

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(zoo, "train_autoencoder", counting)
    first, hist = zoo.get_trained("dense", data, settings=settings, progress=False)
    second, hist2 = zoo.get_trained("dense", data, settings=settings, progress=False)
    assert calls == ["dense"]
    assert len(hist) == len(hist2) == 2
    x = data.x_test[:5]
    assert torch.equal(first(x), second(x))
    path = zoo.model_path("dense", data, settings=settings)
    assert path.parent == tmp_cache / "models" and path.exists()
    # another seed or other settings is another model
    assert zoo.model_path("dense", data, settings=settings, seed=1) != path
    assert zoo.model_path("dense", data, settings=settings.replace(epochs=3)) != path

    path.write_bytes(b"broken")  # a corrupt cache entry is reported and retrained, never loaded
    with pytest.warns(UserWarning, match="corrupt"):
        zoo.get_model("dense", data, settings=settings, progress=False)
    assert calls == ["dense", "dense"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoo.get_model("dense", data, settings=settings, progress=False)  # healthy again
    with pytest.raises(ValueError, match="unknown model kind"):
        zoo.get_model("gan", data)
