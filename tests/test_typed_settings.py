"""Issue 26 items 1 and 3: typed values from the experiments to the solver (text is read only at
the command line), misspelt names raise with "did you mean", and one preset table that changes
only the fields a method declares."""
from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import uaelab.config as config
from uaelab.attacks import METHODS, PRESETS, Attack, AttackResult, Preset, make_attack, register_attack
from uaelab.config import COMPONENTS, Settings, register

ROOT = Path(__file__).resolve().parent.parent


def _classifier():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()


# -- typed values ------------------------------------------------------------------------------
def test_typed_values_reach_the_solver_and_typos_raise():
    att = make_attack("mine-sup", _classifier(), profile="quick", attack={"T": 7, "epsilon": 1}, mine={"K": 16})
    assert att.settings.T == 7 and type(att.settings.T) is int
    assert type(att.settings.epsilon) is float  # an int for a float field becomes that float (same cache key)
    assert att.mine_settings.K == 16
    with pytest.raises(ValueError, match=re.escape("has no setting 'Tt'. Did you mean 'T'")):
        make_attack("mine-sup", _classifier(), attack={"Tt": 7})
    with pytest.raises(ValueError, match=re.escape("has no setting 'KK'. Did you mean 'K'")):
        make_attack("mine-sup", _classifier(), mine={"KK": 16})
    with pytest.raises(ValueError, match="takes a int, got str '7'"):  # text is for --set only
        make_attack("mine-sup", _classifier(), attack={"T": "7"})
    with pytest.raises(ValueError, match=re.escape("Did you mean 'mine-sup'")):
        make_attack("mine-sp", _classifier())


def test_T_from_notebook_02_reaches_the_solver_without_text(monkeypatch):
    """Notebook 02's T (SupervisedSettings.T, the experiment's budget) goes to MinMaxSettings.T as
    an int: the text reader is never called on the way."""
    from uaelab.attacks import MinMaxSettings
    from uaelab.experiments.supervised import SupervisedSettings, supervised_attack_for

    def no_text(*args):
        raise AssertionError(f"text was parsed on the typed path: {args}")

    monkeypatch.setattr(config, "_coerce", no_text)
    s = SupervisedSettings.from_profile("quick", T=3, sampler="random", epsilon=0.5)
    att = supervised_attack_for("mine-sup", _classifier(), "quick", s)
    assert att.settings.T == 3 and att.settings.epsilon == 0.5 and att.mine_settings.sampler == "random"
    res = att(torch.rand(2, 1, 8, 8), torch.tensor([0, 1]))
    assert res.history["f"].shape[0] == 3  # T iterations ran
    # one default per knob: the solver's T is MinMaxSettings.T; the experiment states its own budget
    assert MinMaxSettings().T == 40 and SupervisedSettings().T == 1000
    assert SupervisedSettings().alpha == MinMaxSettings().alpha  # step sizes: the solver's defaults


# -- one preset table --------------------------------------------------------------------------
@dataclass(frozen=True)
class ToySettings(Settings):
    c0: float = 0.5  # this attack's own c0: a preset must leave it alone
    fallback: str = "mine"  # same name as MinMax's field, different meaning
    recon_norm: str = "l2"  # declared below: a preset may set it


class Toy(Attack):
    settings_cls = ToySettings

    def _run(self, x, y, idx, crit):
        f = self.evaluate(crit, x)
        nan = torch.full_like(f, float("nan"))
        return AttackResult(x_adv=x.clone(), success=f <= 0, mi_final=nan, mi_best=nan, c=nan, f=f)


@pytest.fixture
def toy():
    """The toy registered (component "toyc0", method "toy-c0"), unregistered afterwards."""
    try:
        register("toyc0")(ToySettings)
        register_attack("toy-c0", Toy, component="toyc0", preset_fields=("recon_norm",))
        yield
    finally:
        METHODS.pop("toy-c0", None)
        COMPONENTS.pop("toyc0", None)


def test_preset_changes_only_declared_fields(toy):
    ae = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 64), torch.nn.Unflatten(1, (1, 8, 8)))
    ref = make_attack("toy-c0", ae, preset="reference_code").settings
    assert ref.c0 == 0.5 and ref.fallback == "mine"  # undeclared: the attack's own values
    assert ref.recon_norm == "sq"  # declared: the preset's
    assert make_attack("toy-c0", ae, preset="paper").settings.recon_norm == "l2"
    # the built-in methods: penalty keeps its c0, MinMax takes the preset's
    assert make_attack("penalty", _classifier(), preset="reference_code").settings.c0 == 1e-3
    assert make_attack("mine-sup", _classifier(), preset="reference_code").settings.c0 == 1e-3
    assert make_attack("mine-sup", _classifier(), preset="paper").settings.c0 == 0.0
    with pytest.raises(ValueError, match="not settings of Toy"):
        register_attack("toy-bad", Toy, component="toyc0", preset_fields=("delta_init",))


def test_preset_names_have_one_definition():
    """The Literal of preset names is written once (attacks/presets.py); experiments use it."""
    from uaelab.experiments.table4_reconstruction import Table4Settings
    from uaelab.experiments.table5_simclr import Table5Settings
    from uaelab.experiments.table6_concrete import Table6Settings

    assert set(typing.get_args(Preset)) == set(PRESETS)
    for cls in (Table4Settings, Table5Settings, Table6Settings):
        assert typing.get_type_hints(cls)["preset"] is Preset, cls
    copies = [str(p.relative_to(ROOT)) for folder in ("uaelab", "benchmarks") for p in (ROOT / folder).rglob("*.py")
              if re.search(r"Literal\[\"(paper|reference_code)\"", p.read_text())]
    assert copies == ["uaelab/attacks/presets.py"]



def test_parse_method_doc_names_every_named_method():
    from uaelab.augment import NAMED_METHODS, parse_method

    missing = [k for k in NAMED_METHODS if f'"{k}"' not in parse_method.__doc__]
    assert not missing, f"parse_method's docstring omits {missing}"
