"""Tables 4, 5 and 6 end to end on tiny digits subsets (the pipeline itself is tested in test_augment)."""
from __future__ import annotations

import math
import re

import pytest

from uaelab.augment import parse_method
from uaelab.experiments import load_all
from uaelab.experiments.table4_reconstruction import Table4Settings, attack_overrides, table4_reconstruction
from uaelab.experiments.table5_simclr import table5_simclr
from uaelab.experiments.table6_concrete import table6_concrete

TINY_ATTACK = ("T=2", "mine.K=8", "mine.m=8", "mine.steps=1", "mi_eval_steps=0")


def test_registered():
    names = load_all()
    assert {"table4_reconstruction", "table5_simclr", "table6_concrete"} <= set(names)


def test_attack_overrides_translate_per_method():
    # an unprefixed field reaches every attack that has it, so MINE-UAE and L2-UAE share T
    mine, l2 = parse_method("mine-uae"), parse_method("l2-uae")
    assert attack_overrides(mine, ("T=7", "mine.K=8", "mi_eval_steps=0")) == {"attack": {"T": 7}, "mine": {"K": 8}}
    assert attack_overrides(l2, ("T=7", "mi_eval_steps=0")) == {"attack": {"T": 7, "mi_eval_steps": 0}, "mine": {}}
    assert attack_overrides(parse_method("ga:0.01"), ("T=7",)) == {"attack": {"sigma": 0.01}, "mine": {}}
    # the values are typed: read from text once, here
    assert type(attack_overrides(mine, ("T=7",))["attack"]["T"]) is int


@pytest.mark.parametrize("entry, match", [
    ("Tt=7", "no attack has a setting 'Tt'. Did you mean 'T'"),  # misspelt field: raised, not skipped
    ("mnie.K=8", "unknown settings component 'mnie'. Did you mean 'mine'"),  # misspelt prefix
    ("mine.KK=8", "MineSettings has no setting 'KK'. Did you mean 'K'"),
    ("minmax.alpah=0.1", "MinMaxSettings has no setting 'alpah'. Did you mean 'alpha'"),
    ("T", "must look like field=value"),
])
def test_attack_set_typos_raise_with_did_you_mean(entry, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        attack_overrides(parse_method("mine-uae"), (entry,))
    # and the settings refuse them before any training starts
    with pytest.raises(ValueError, match=re.escape(match)):
        Table4Settings.from_profile("quick", attack_set=(entry,))


def test_a_methods_own_values_win_over_the_runs_budget():
    # "start-only" is MinMax with T = 1: a run-wide T = 20 must not turn it into a full no-MI run
    # (it did before 2026-12-06: the committed Table 5 start-only rows equalled the no-MI rows)
    from uaelab.attacks import make_attack
    from uaelab.models import DenseAE

    start = parse_method("start-only")
    ov = attack_overrides(start, ("T=20", "mine.K=8"))
    assert ov == {"attack": {"T": 1}, "mine": {"K": 8}}
    attack = make_attack(start.attack, DenseAE((1, 8, 8)), profile="quick", **ov)
    assert attack.settings.T == 1
    closed = attack_overrides(parse_method("closed-form"), ("mine.estimator=mine",))
    assert closed["mine"] == {"estimator": "closed-form"}


def test_table4_settings_errors():
    with pytest.raises(ValueError, match="unknown autoencoder"):
        Table4Settings.from_profile("quick", kinds=("dens",))


def test_table4_tiny(tmp_cache):
    res = table4_reconstruction("quick", progress=False, kinds=("dense",), train_limit=30, test_limit=20, epochs=2,
                                attack_set=TINY_ATTACK, methods=("original", "mine-uae", "ga:0.01", "duplicate"),
                                seeds=(0, 1), pgd_eps=0.05, pgd_steps=2)
    s = res.tables["summary"]
    assert list(s.index.get_level_values("method")) == ["Original", "MINE-UAE", "GA (σ=0.01)", "Duplicate"]
    assert s.loc[("dense", "GA (σ=0.01)"), "runs"] == 2
    assert s.loc[("dense", "Duplicate"), "asr"] == 0
    assert 0 <= s.loc[("dense", "MINE-UAE"), "asr"] <= 1
    orig, mine = s.loc[("dense", "Original"), "error"], s.loc[("dense", "MINE-UAE"), "error"]
    assert s.loc[("dense", "MINE-UAE"), "error_improvement"] == pytest.approx((orig - mine) / orig)
    assert all(math.isfinite(v) for v in s["pgd_error"]) and (s["pgd_error"] >= s["error"] - 1e-6).all()
    style = res.tables["paper_style"]
    assert "ASR MINE-UAE" in style.columns and "ASR Duplicate" not in style.columns
    assert style.loc["dense", "Original"].startswith(f"{orig:.5f}"[:6])
    assert "beats Duplicate" in res.tables["direction"].columns
    assert res.tables["vs_paper"].loc[("dense", "MINE-UAE"), "paper_error"] == 0.00228
    assert res.figures["uaes"].axes


def test_table6_tiny(tmp_cache):
    res = table6_concrete("quick", progress=False, train_limit=40, test_limit=30, epochs=2, attack_set=TINY_ATTACK)
    s = res.tables["summary"]
    assert list(s.index.get_level_values("method")) == ["Original", "MINE-UAE", "Duplicate", "no-MI",
                                                        "closed-form MI"]
    assert "preset reference_code" in res.notes  # the table says which attack configuration it used
    assert ((0 <= s["accuracy"]) & (s["accuracy"] <= 1)).all()
    assert "M=10" in res.notes and "d=64" in res.notes  # the paper's rule: M=10 for small d
    assert res.figures["selected"].axes


def test_table5_tiny(tmp_cache):
    res = table5_simclr("quick", progress=False, train_limit=30, test_limit=20, epochs=1,
                        methods=("original", "duplicate"), pgd_steps=1)
    s = res.tables["summary"]
    assert set(s.columns) >= {"loss", "accuracy", "pgd_accuracy", "asr"}
    assert (s["pgd_accuracy"] <= s["accuracy"] + 1e-9).all()  # PGD cannot make the probe more accurate here
