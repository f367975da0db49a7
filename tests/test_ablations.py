"""The MI ablations (no-MI, closed-form MinMax), the released-code preset's units and start, the
conv sampler's ReLU, and their registration in the pipeline and the CLI."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from uaelab.attacks import METHODS, PRESETS, MinMaxSettings, NoMI, make_attack
from uaelab.attacks import criteria as C
from uaelab.attacks.minmax import glorot_limit, start_limit
from uaelab.mi.mine import ConvSampler, MineSettings, closed_form_mi
from uaelab.models import DenseAE


@pytest.fixture(scope="module")
def digits_ae():
    from uaelab.data import load_dataset
    from uaelab.models.zoo import get_model

    data = load_dataset("digits")
    return get_model("dense", data, profile="quick", progress=False), data


# -- no-MI -------------------------------------------------------------------------------------
def test_no_mi_freezes_at_its_first_success_and_is_batch_independent(digits_ae):
    ae, data = digits_ae
    x = data.x_train[:8]
    seen: list[torch.Tensor] = []
    att = make_attack("no-mi", ae, profile="quick", preset="reference_code",
                      callback=lambda d: seen.append(d["x_adv"].clone()))
    assert isinstance(att, NoMI) and METHODS["no-mi"].cls is NoMI
    res = att(x)
    assert res.success.float().mean() >= 0.75
    assert torch.isnan(res.mi_best).all() and torch.isnan(res.history["mi"]).all()
    succ = res.history["success"]  # [T, B]; the released preset judges δ_{t-1} at iteration t
    start = att._init_x(x, torch.arange(len(x)), 1.0)
    iterates = [start] + seen  # δ_0, δ_1, ..., δ_T
    for i in torch.nonzero(res.success).flatten().tolist():
        first = int(torch.nonzero(succ[:, i])[0])
        # the returned iterate is the first successful one, and δ never moves afterwards
        assert torch.equal(res.x_adv[i], iterates[first][i])
        assert all(torch.equal(iterates[t][i], iterates[first][i]) for t in range(first, len(iterates)))
    alone = make_attack("no-mi", ae, profile="quick", preset="reference_code")(x[3:4], indices=torch.tensor([3]))
    torch.testing.assert_close(alone.x_adv[0], res.x_adv[3])


# -- closed-form MinMax ------------------------------------------------------------------------
def test_closed_form_attack_is_exact_deterministic_and_batch_independent(digits_ae):
    ae, data = digits_ae
    x = data.x_train[:6]
    over = ["mine.estimator=closed-form", "mine.m=1"]
    make = lambda: make_attack("mine-uae", ae, profile="quick", preset="reference_code", overrides=over)  # noqa: E731
    a, b = make()(x), make()(x)
    assert torch.equal(a.x_adv, b.x_adv)  # no statistics networks: nothing random after δ0
    ok = a.success
    assert ok.any()
    torch.testing.assert_close(a.mi_best[ok], closed_form_mi(x, a.x_adv, 1)[ok])
    alone = make()(x[2:3], indices=torch.tensor([2]))
    torch.testing.assert_close(alone.x_adv[0], a.x_adv[2])
    # the supervised attack takes it too (MI maximised)
    from uaelab.models.zoo import get_model

    clf = get_model("classifier", data, profile="quick", progress=False)
    sup = make_attack("mine-sup", clf, profile="quick", overrides=["mine.estimator=closed-form", "minmax.T=5"])
    r = sup(data.x_test[:4], data.y_test[:4])
    assert torch.isfinite(r.mi_final).all()


def test_closed_form_settings_errors():
    with pytest.raises(ValueError, match="random"):
        MineSettings(sampler="conv", estimator="closed-form").validate()
    with pytest.raises(ValueError, match="estimator"):
        make_attack("mine-uae", DenseAE((1, 8, 8), hidden=4), overrides=["mine.estimator=exact"])
    with pytest.raises(ValueError, match="closed_form_floor"):
        MineSettings(closed_form_floor=0.0).validate()


def test_closed_form_measures_baselines_mi(digits_ae):
    ae, data = digits_ae
    x = data.x_train[:4]
    res = make_attack("gaussian", ae, profile="quick", overrides=["mine.estimator=closed-form"])(x)
    torch.testing.assert_close(res.mi_best, closed_form_mi(x, res.x_adv, MineSettings.from_profile("quick").m,
                                                           floor=1e-6))


# -- the released preset -----------------------------------------------------------------------
def test_released_preset_on_digits_reaches_real_perturbations(digits_ae):
    """The quick profile's acceptance: ASR >= 0.8 with mean L∞ >= 0.01 (issue 12)."""
    ae, data = digits_ae
    x = data.x_train[:32]
    res = make_attack("mine-uae", ae, profile="quick", preset="reference_code")(x)
    linf = (res.x_adv - x).flatten(1).abs().amax(1)
    assert res.success.float().mean() >= 0.8
    assert linf[res.success].mean() >= 0.01


def test_preset_units_and_start():
    ref = PRESETS["reference_code"]
    assert ref["attack"]["units"] == "mnist" and ref["attack"]["recon_norm"] == "sq"
    assert ref["attack"]["judge"] == "before_step" and MinMaxSettings().judge == "after_step"
    assert ref["mine"]["projection"] == "per_evaluation"
    for method in ("mine-uae", "no-mi", "l2-uae"):
        att = make_attack(method, DenseAE((1, 8, 8), hidden=4), preset="reference_code")
        assert (att.settings.units, att.settings.recon_norm, att.settings.delta_init) == ("mnist", "sq", "glorot")
    # MNIST units change nothing at MNIST's size or larger, and cap smaller inputs at MNIST's values
    assert start_limit((1, 28, 28), "mnist") == glorot_limit((1, 28, 28))
    assert start_limit((3, 32, 32), "mnist") == glorot_limit((3, 32, 32))
    assert start_limit((1, 8, 8), "native") == pytest.approx(0.2887, abs=1e-4)
    assert start_limit((1, 8, 8), "mnist") == glorot_limit((1, 28, 28))
    assert C.units_scale("mnist", 64) == pytest.approx(784 / 64) and C.units_scale("mnist", 3072) == 1.0
    assert C.units_scale("native", 64) == 1.0
    with pytest.raises(ValueError, match="units"):
        C.units_scale("pixels", 64)
    with pytest.raises(ValueError, match="preset"):
        make_attack("mine-uae", DenseAE((1, 8, 8), hidden=4), preset="released")


def test_units_scale_the_criterion_not_its_sign():
    ae = DenseAE((1, 8, 8), hidden=4)
    x = torch.rand(5, 1, 8, 8)
    xa = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    native = C.Reconstruction(ae, x, norm="sq")(xa)
    mnist = C.Reconstruction(ae, x, norm="sq", units="mnist")(xa)
    torch.testing.assert_close(mnist, native * 784 / 64)


def test_l2_uae_objective_follows_the_criterion_units(digits_ae):
    ae, data = digits_ae
    x = data.x_train[:3]
    for preset, expect in (("paper", lambda sq: sq.sqrt()), ("reference_code", lambda sq: sq * 784 / 64)):
        seen = []
        att = make_attack("l2-uae", ae, profile="quick", preset=preset,
                          overrides=["l2uae.T=1", "l2uae.mi_eval_steps=0"],
                          callback=lambda d: seen.append(d["x_adv"]))
        res = att(x)
        # the first judged iterate: δ_1 (paper) or the start δ_0 (released, judged before its step)
        judged = seen[0] if preset == "paper" else att._init_x(x, torch.arange(len(x)), 1.0)
        with torch.no_grad():
            sq = (x - ae(judged)).flatten(1).pow(2).sum(1)
        torch.testing.assert_close(res.history["mi"][0], expect(sq), rtol=1e-4, atol=1e-6)


# -- conv sampler after the ReLU -----------------------------------------------------------------
def test_conv_sampler_takes_the_maps_after_relu():
    conv = nn.Conv2d(1, 6, 3)
    x = torch.rand(2, 1, 8, 8)
    after = ConvSampler(conv)(x)
    assert (after >= 0).all() and torch.equal(after, torch.relu(conv(x)).flatten(2))
    assert torch.equal(ConvSampler(conv, relu=False)(x), conv(x).flatten(2))
    assert MineSettings().conv_relu


# -- registration ------------------------------------------------------------------------------
def test_ablations_are_augmentation_methods_and_cli_choices():
    from uaelab.augment import parse_method
    from uaelab.augment.generation import build_parser
    from uaelab.experiments.table4_reconstruction import attack_overrides

    m = parse_method("closed-form")
    assert m.attack == "mine-uae" and attack_overrides(m, ("T=5",)) == {"attack": {"T": 5},
                                                                        "mine": {"estimator": "closed-form"}}
    assert parse_method("no-mi").attack == "no-mi" and parse_method("No-MI").label == "no-MI"
    with pytest.raises(ValueError, match="closed-form"):
        parse_method("exact-mi")
    args = build_parser().parse_args(["--data", "digits", "--checkpoint", "c.pt", "--method", "no-mi", "--out", "o"])
    assert args.method == "no-mi"
    assert "minmax.T=20" in build_parser().format_help() and "attack.T" not in build_parser().format_help()


def test_tables_default_to_the_released_preset():
    from uaelab.experiments.table4_reconstruction import ReconstructionTask, Table4Settings
    from uaelab.experiments.table6_concrete import Table6Settings

    assert Table4Settings().preset == "reference_code" and Table6Settings().preset == "reference_code"
    assert ReconstructionTask("dense", "quick").config()["preset"] == "reference_code"
    with pytest.raises(ValueError, match="preset"):
        Table4Settings.from_dict({"preset": "released"})
    assert MinMaxSettings().units == "native"  # the paper text's default is untouched


def test_released_judging_counts_a_successful_start():
    """judge="before_step": δ_0..δ_{T-1} compete (the released loop fetches x+δ with its update);
    a criterion that only the start meets makes the attack succeed with the start itself."""
    ae = DenseAE((1, 8, 8), hidden=4)
    x = torch.rand(3, 1, 8, 8)
    calls = []

    def only_first(xa):  # success (f <= 0) for the first evaluation only: the start δ_0
        calls.append(1)
        return torch.full((xa.shape[0],), -1.0 if len(calls) == 1 else 1.0)

    crit = C.FromCallable(only_first, "min")
    over = ["minmax.T=3", "minmax.delta_init=glorot"]
    before = make_attack("no-mi", ae, criterion=crit, overrides=over + ["minmax.judge=before_step"])(x)
    start = make_attack("no-mi", ae, overrides=over)._init_x(x, torch.arange(3), 1.0)
    assert before.success.all() and torch.equal(before.x_adv, start)
    calls.clear()
    after = make_attack("no-mi", ae, criterion=crit, overrides=over)(x)
    assert not after.success.any()


# -- bad inputs that used to escape as unclear errors -----------------------------------------------
def test_attack_input_errors_name_the_fix():
    ae = DenseAE((1, 8, 8), hidden=4)
    att = make_attack("no-mi", ae, overrides=["minmax.T=1"])
    with pytest.raises(ValueError, match="built for samples of shape \\(1, 8, 8\\)"):
        att(torch.rand(2, 1, 28, 28))  # another image size than the model takes
    with pytest.raises(ValueError, match="empty batch"):
        att(torch.rand(0, 1, 8, 8))
    with pytest.raises(ValueError, match=r"x\[None\]"):
        att(torch.rand(1, 8, 8))  # one image without its batch axis

    class Forgetful(C.Criterion):  # a criterion that does not say which way MI goes
        def __call__(self, xa):
            return xa.flatten(1).sum(1)

    with pytest.raises(ValueError, match="mi_direction"):
        make_attack("mine-uae", ae, criterion=Forgetful(), overrides=["minmax.T=1"])(torch.rand(2, 1, 8, 8))


def test_start_only_is_the_minmax_start_kept_where_it_succeeds(digits_ae):
    """The "start-only" augmentation control: the MinMax loop stopped before its first step, with
    the same δ0 draw as MINE-UAE; a success is exactly x + δ0, and the row is a control label."""
    from uaelab.augment import CONTROL_LABELS, parse_method
    from uaelab.experiments.table4_reconstruction import ReconstructionTask

    ae, data = digits_ae
    x, idx = data.x_train[:64], torch.arange(64)
    method = parse_method("start-only")
    assert method.label in CONTROL_LABELS and method.stream == parse_method("mine-uae").stream
    task = ReconstructionTask("dense", "quick", preset="reference_code")
    att = task.make_attack(method, ae, 0)
    ref = task.make_attack(parse_method("mine-uae"), ae, 0)
    assert att.settings.T == 1 and att.seed == ref.seed
    res = att(x, indices=idx)
    x0 = ref._init_x(x, idx, ref.settings.epsilon)
    crit = C.reconstruction(ae, norm="sq")(x, None)
    with torch.no_grad():
        assert torch.equal(res.success, crit(x0) <= 0)
    assert torch.equal(res.x_adv[res.success], x0[res.success])
