"""FID/KID wrapper: offline extractor registration, KID subset adaptation, extractor naming."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from uaelab.evaluate.fidelity import (
    ClassifierFeatures,
    FidelitySettings,
    _Uint8Images,
    classifier_features,
    fid_kid,
    kid_paired_test,
    kid_subset_size_for,
    register_classifier_extractor,
    resolve_extractor,
)
from uaelab.models.classifiers import DigitsClassifier


@pytest.fixture
def model():
    torch.manual_seed(0)
    return DigitsClassifier()


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("UAELAB_OFFLINE", "1")
    return FidelitySettings.from_profile("quick", kid_subsets=5)


def _features(model, x):
    with torch.no_grad():
        return ClassifierFeatures(model)(_Uint8Images(x).x)[0].numpy()


def test_fid_matches_closed_form_on_the_extractor_features(model, offline):
    g = torch.Generator().manual_seed(1)
    x1, x2 = torch.rand(40, 1, 8, 8, generator=g), torch.rand(60, 1, 8, 8, generator=g) * 0.6
    res = fid_kid(x1, x2, offline, classifier=model)
    f1, f2 = _features(model, x1), _features(model, x2)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = ((f1.mean(0) - f2.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert res["fid"] == pytest.approx(expected, rel=1e-3, abs=1e-6)
    assert res["n1"] == 40 and res["n2"] == 60


def test_same_set_scores_lower_than_a_shifted_set(model, offline):
    g = torch.Generator().manual_seed(2)
    x = torch.rand(64, 1, 8, 8, generator=g)
    same = fid_kid(x[:32], x[32:], offline, classifier=model)
    shifted = fid_kid(x[:32], (x[32:] * 0.2), offline, classifier=model)
    assert shifted["fid"] > same["fid"]
    assert shifted["kid_mean"] > same["kid_mean"]


def test_kid_subset_size_adapts_with_a_message(model, offline):
    assert kid_subset_size_for(5000, 2000) == (1000, "")
    size, msg = kid_subset_size_for(30, 500, 1000)
    assert size == 30 and "reduced from 1000 to 30" in msg
    with pytest.raises(ValueError, match="at least 2"):
        kid_subset_size_for(1, 100)
    x = torch.rand(20, 1, 8, 8)
    with pytest.warns(UserWarning, match="KID subset size reduced"):
        res = fid_kid(x, torch.rand(50, 1, 8, 8), offline, classifier=model)
    assert res["kid_subset_size"] == 20 and "reduced" in res["message"]


def test_output_names_the_offline_extractor(model, offline):
    name, extra, desc = resolve_extractor(offline, model)
    assert name.startswith("uaelab-classifier-DigitsClassifier-") and extra == {}
    assert "NOT Inception" in desc
    assert register_classifier_extractor(model) == name  # registering twice is a no-op
    other = DigitsClassifier()
    assert register_classifier_extractor(other) != name


def test_extractor_choices_and_errors(model, offline, monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="weights"):
        resolve_extractor(offline.replace(extractor="inception-v3-compat"))
    with pytest.raises(ValueError, match="classifier"):
        resolve_extractor(offline)  # auto, offline, no classifier given
    with pytest.raises(ValueError, match="extractor"):
        FidelitySettings.from_dict({"extractor": "vgg"})
    with pytest.raises(ValueError, match="not a file"):
        FidelitySettings(weights_path=str(tmp_path / "missing.pth")).validate()
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    monkeypatch.delenv("UAELAB_OFFLINE")
    name, extra, desc = resolve_extractor(FidelitySettings(weights_path=str(weights), allow_download=False))
    assert name == "inception-v3-compat" and extra == {"feature_extractor_weights_path": str(weights)}
    assert "Inception FID/KID" in desc


def test_bad_inputs_raise(model, offline):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fid_kid(torch.rand(8, 1, 8, 8) * 2, torch.rand(8, 1, 8, 8), offline, classifier=model)
    with pytest.raises(ValueError, match="share"):
        fid_kid(torch.rand(8, 1, 8, 8), torch.rand(8, 1, 6, 6), offline, classifier=model)


def test_classifier_left_untouched(model, offline):
    model.train()
    fid_kid(torch.rand(10, 1, 8, 8), torch.rand(10, 1, 8, 8), offline, classifier=model)
    assert model.training and all(p.requires_grad for p in model.parameters())


def test_paired_kid_equals_torch_fidelity_kid_on_whole_sets(model, offline):
    # with subsets as large as the sets, every torch-fidelity subset is a permutation of the sets
    g = torch.Generator().manual_seed(3)
    x1, x2, xr = torch.rand(24, 1, 8, 8, generator=g), torch.rand(24, 1, 8, 8, generator=g) * 0.5, \
        torch.rand(24, 1, 8, 8, generator=g)
    s = offline.replace(kid_subset_size=24, kid_subsets=2)
    fa, fb, fr = (classifier_features(x, model) for x in (x1, x2, xr))
    r = kid_paired_test(fa, fb, fr, permutations=50)
    assert r["kid_a"] == pytest.approx(fid_kid(x1, xr, s, classifier=model)["kid_mean"], rel=1e-6, abs=1e-9)
    assert r["kid_b"] == pytest.approx(fid_kid(x2, xr, s, classifier=model)["kid_mean"], rel=1e-6, abs=1e-9)


def test_paired_kid_test_detects_a_shift_and_not_noise():
    g = torch.Generator().manual_seed(0)
    fr = torch.randn(300, 8, generator=g, dtype=torch.float64)
    fa = torch.randn(50, 8, generator=g, dtype=torch.float64)
    shifted = kid_paired_test(fa, fa + 1.0, fr, permutations=500)
    assert shifted["difference"] < 0 and shifted["p"] == pytest.approx(1 / 501)
    same = kid_paired_test(fa, fa + 0.01 * torch.randn(50, 8, generator=g, dtype=torch.float64), fr, permutations=500)
    assert same["p"] > 0.05
    # the p-value is symmetric in A and B, the difference flips sign
    back = kid_paired_test(fa + 1.0, fa, fr, permutations=500)
    assert back["difference"] == pytest.approx(-shifted["difference"]) and back["p"] == shifted["p"]
    with pytest.raises(ValueError, match="paired features"):
        kid_paired_test(fa, fa[:10], fr)
