"""The attack and dataset registries, driven from outside the package by the code of
docs/extending.md (so the documented snippets are the tested ones)."""
from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
import torch

from uaelab import cli
from uaelab.attacks import METHODS, make_attack, register_attack
from uaelab.augment import AugmentSettings, parse_method, run_augmentation
from uaelab.config import COMPONENTS
from uaelab.data import DATASETS, load_dataset, register_dataset
from uaelab.experiments.table4_reconstruction import ReconstructionTask
from uaelab.verdicts import VERDICTS

DOC = Path(__file__).resolve().parent.parent / "docs" / "extending.md"


def doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def doc_cache(tmp_path_factory) -> Path:
    """One cache for every run of the doc in this module: the model family section's rows are
    computed once, later runs read them."""
    return tmp_path_factory.mktemp("doc-cache")


@pytest.fixture
def extended(doc_cache, monkeypatch):
    """Run the doc's code blocks; afterwards remove what they registered, so other tests never
    see the toy attack and dataset. The blocks run in a module of their own, as a notebook's
    cells run in ``__main__``, so the classes they define pickle into the cache."""
    monkeypatch.setenv("UAELAB_CACHE", str(doc_cache))
    module = types.ModuleType("extending_doc")
    sys.modules[module.__name__] = module
    try:
        for block in doc_blocks():
            exec(compile(block, str(DOC), "exec"), module.__dict__)
        yield module.__dict__
    finally:
        METHODS.pop("shift", None)
        DATASETS.pop("squares", None)
        COMPONENTS.pop("shift", None)
        sys.modules.pop(module.__name__, None)


def test_doc_has_the_recipes():
    text = DOC.read_text()
    for heading in ("## Add an attack", "## Add a dataset", "## Add a model family", "## Add a notebook"):
        assert heading in text
    assert len(doc_blocks()) >= 6


def test_registered_dataset_everywhere(extended):
    d = load_dataset("Squares", limit=20, seed=1)  # case forgiven like the built-in names
    assert d.name == "squares" and d.kind == "image" and d.sample_shape == (1, 4, 4)
    assert d.class_names == ["dark", "bright"] and len(d.x_train) == 20
    assert extended["squares"].fingerprint() == load_dataset("squares", limit=40).fingerprint()
    with pytest.raises(ValueError, match="apply to CSV files only"):
        load_dataset("squares", nan_policy="drop")  # never silently ignored
    with pytest.raises(ValueError, match="registered already"):
        register_dataset("squares", extended["load_squares"], kind="image")
    pets = extended["pets"]
    assert pets.kind == "tabular" and pets.class_names == ["cat", "dog"] and pets.sample_shape == (3,)
    assert extended["digits_like"].kind == "image" and extended["digits_like"].class_names == ["even", "odd"]


def test_registered_attack_everywhere(extended, capsys, tmp_cache):
    data = extended["squares"]
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 16), torch.nn.Unflatten(1, (1, 4, 4)))
    attack = make_attack("shift", model, overrides=["shift.step=0.2"])
    assert isinstance(attack, extended["Shift"]) and attack.settings.step == 0.2
    res = attack(data.x_train[:5])
    assert torch.allclose(res.x_adv, (data.x_train[:5] + 0.2).clamp(0, 1))
    with pytest.raises(ValueError, match="registered already"):
        register_attack("shift", extended["Shift"], component="shift")

    with pytest.raises(SystemExit):
        cli.main(["generate", "--help"])
    text = capsys.readouterr().out
    assert "shift: toy: add a constant" in text and "squares" in text

    method = parse_method("shift")
    assert method.attack == "shift" and method.label == "shift"
    task = ReconstructionTask("dense", "quick", epochs=1)
    rows = run_augmentation(task, data, methods=("original", "shift"),
                            settings=AugmentSettings(seeds=(0,), batch_size=40), progress=False)
    assert [r["key"] for r in rows] == ["original", "shift"] and rows[1]["n_train"] == 2 * len(data.x_train)
    assert 0 <= rows[1]["asr"] <= 1


def test_model_family_through_the_pipeline_and_verdicts(extended):
    """The section "Add a model family": the user's own autoencoder on their own data, with the
    controls, over three retraining seeds, judged by the verdicts."""
    ns = extended
    rows, task = ns["rows"], ns["task"]
    assert task.config()["model"] == "extending_doc.TinyAE"  # the user's class, not one of uaelab.models
    methods = ["Original", "MINE-UAE", "Duplicate", "GA (σ=0.01)", "no-MI"]
    assert [r["method"] for r in rows] == [m for m in methods for _ in range(3)]
    assert {r["model"] for r in rows} == {"tiny"} and [r["retrain_seed"] for r in rows[:3]] == [0, 1, 2]
    n = len(ns["my_data"].x_train)
    assert n == 100 and all(r["n_train"] == (n if r["key"] == "original" else 2 * n) for r in rows)
    attacked = [r for r in rows if r["key"] in ("mine-uae", "no-mi", "ga:0.01")]
    assert all(0 <= r["asr"] <= 1 for r in attacked) and all(r["asr"] == 0 for r in rows if r["key"] == "duplicate")
    # the doc's family, compared by hand, is the one claim_tests builds: same Holm-adjusted p, same verdicts
    family, tests = ns["family"], ns["tests"]
    assert len(family) == 4 and all(c.verdict in VERDICTS and c.design == "paired" for c in family)
    assert [c.verdict for c in family] == list(tests["verdict"])
    assert [c.p_diff_adj for c in family] == pytest.approx(list(tests["p_diff_adj"]))
    # what the doc's text says of this run (both far from the α boundary: TOST p < 1e-3)
    verdicts = dict(zip(ns["others"], family))
    assert verdicts["Duplicate"].verdict == verdicts["no-MI"].verdict == "equivalent"
    assert verdicts["Duplicate"].p_equiv_adj < 1e-3 and verdicts["no-MI"].p_equiv_adj < 1e-3
    assert all(r["asr"] < 1 / 3 for r in rows if r["key"] == "mine-uae")
    assert len({r["error"] for r in rows[:3]}) == 3  # the retraining seed reaches the initialisation
    worst = ns["worst"]
    assert worst["worst_error"] > worst["error"] > 0 and worst["error"] == rows[0]["error"]


def test_registration_is_undone():
    assert "shift" not in METHODS and "squares" not in DATASETS and "shift" not in COMPONENTS
    with pytest.raises(ValueError, match="unknown augmentation method 'pgd'"):
        parse_method("pgd")  # supervised attacks are no augmentation methods
