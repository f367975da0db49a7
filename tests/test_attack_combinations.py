"""Every registered attack method × {MINE, closed-form} × every preset on two digits images, with
tiny budgets: each runs and returns a valid AttackResult, or refuses with a ValueError that names
the fix (issue 26: "penalty" with the closed-form estimator used to crash with an AttributeError)."""
from __future__ import annotations

import pytest
import torch

from uaelab.attacks import METHODS, PRESETS, AttackResult, make_attack

ESTIMATORS = ("mine", "closed-form")
# tiny budgets, written for whichever of these fields a method's settings have
TINY = {"T": 2, "steps": 2, "binary_steps": 2, "mi_eval_steps": 2}
TINY_MINE = {"steps": 2, "K": 8, "m": 4}


@pytest.fixture(scope="module")
def models():
    from uaelab.data import load_dataset
    from uaelab.models.zoo import get_model

    data = load_dataset("digits")
    return {"autoencoder": get_model("dense", data, profile="quick", progress=False),
            "classifier": get_model("classifier", data, profile="quick", progress=False)}, data


def attack_values(method: str) -> dict:
    names = METHODS[method].cls.settings_cls.field_names()
    return {k: v for k, v in TINY.items() if k in names}


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("method", list(METHODS))
def test_method_estimator_preset_runs_or_names_the_fix(method, estimator, preset, models):
    nets, data = models
    spec = METHODS[method]
    model = nets["classifier" if spec.supervised else "autoencoder"]
    x, y = data.x_test[:2], data.y_test[:2]
    try:
        att = make_attack(method, model, profile="quick", preset=preset, attack=attack_values(method),
                          mine={**TINY_MINE, "estimator": estimator})
        res = att(x, y if spec.supervised else None)
    except ValueError as err:  # a refusal must say what to change
        assert any(w in str(err) for w in ("use", "set", "pass", "choose")), f"{method}: {err}"
        return
    assert isinstance(res, AttackResult)
    assert res.x_adv.shape == x.shape and res.x_adv.dtype == torch.float32
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1
    assert res.success.shape == (2,) and res.success.dtype == torch.bool
    for name in ("mi_final", "mi_best", "c", "f"):
        assert getattr(res, name).shape == (2,), name
    if estimator == "closed-form" and spec.cls.__name__ in ("MinMax", "Penalty"):
        assert torch.isfinite(res.mi_final).all()  # the exact MI, not a NaN placeholder

