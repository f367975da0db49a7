"""The attack and dataset registries, driven from outside the package by the code of
docs/extending.md (so the documented snippets are the tested ones)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from uaelab import cli
from uaelab.attacks import METHODS, make_attack, register_attack
from uaelab.augment import AugmentSettings, parse_method, run_augmentation
from uaelab.config import COMPONENTS
from uaelab.data import DATASETS, load_dataset, register_dataset
from uaelab.experiments.table4_reconstruction import ReconstructionTask

DOC = Path(__file__).resolve().parent.parent / "docs" / "extending.md"


def doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture
def extended():
    """Run the doc's code blocks; afterwards remove what they registered, so other tests never
    see the toy attack and dataset."""
    ns: dict = {}
    try:
        for block in doc_blocks():
            exec(compile(block, str(DOC), "exec"), ns)
        yield ns
    finally:
        METHODS.pop("shift", None)
        DATASETS.pop("squares", None)
        COMPONENTS.pop("shift", None)


def test_doc_has_the_three_recipes():
    text = DOC.read_text()
    for heading in ("## Add an attack", "## Add a dataset", "## Add a notebook"):
        assert heading in text
    assert len(doc_blocks()) >= 3


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


def test_registration_is_undone():
    assert "shift" not in METHODS and "squares" not in DATASETS and "shift" not in COMPONENTS
    with pytest.raises(ValueError, match="unknown augmentation method 'pgd'"):
        parse_method("pgd")  # supervised attacks are no augmentation methods
