"""Plugins through entry points (uaelab.plugins): the distribution of docs/extending.md, installed
into a temporary folder, shows up in ``uaelab generate --help``; a group loads lazily and once;
a broken plugin raises a clear error; ``generate`` never imports the plotting stack."""
from __future__ import annotations

import importlib.metadata as md
import re
import sys
from pathlib import Path

import pytest
import torch

from conftest import REPO
from install_helpers import pip_install, run_python
from uaelab import cli, plugins
from uaelab.attacks import METHODS, make_attack
from uaelab.data import DATASETS, load_dataset

DOC = REPO / "docs" / "extending.md"
SECTION = "## Ship an attack or a dataset as a package (entry points)"


def doc_plugin() -> tuple[str, str]:
    """The pyproject.toml and the module of the section's example distribution."""
    text = DOC.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    (toml,) = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    (module,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return toml, module


def test_plugin_distribution_shows_in_generate_help(tmp_path):
    toml, module = doc_plugin()
    src = tmp_path / "uaelab-extras"
    (src / "uaelab_extras").mkdir(parents=True)
    (src / "pyproject.toml").write_text(toml)
    (src / "uaelab_extras" / "__init__.py").write_text(module)
    target = pip_install(src, tmp_path / "plugins")
    assert (target / "uaelab_extras" / "__init__.py").is_file()
    # a fresh process, as from a shell: nothing but the installed distribution tells uaelab about it
    done = run_python(["-m", "uaelab", "generate", "--help"], cwd=tmp_path, pythonpath=[target, REPO])
    assert done.returncode == 0, done.stderr
    help_text = " ".join(done.stdout.split())
    assert "mine-uae-k96: MINE-UAE with 96 noisy copies per sample (uaelab-extras)" in help_text
    assert "stripes" in help_text.split("--data DATA", 2)[2].split("--data-root")[0]  # in --data's help
    # and from Python, loaded on the first name that is not built in
    code = ("import torch; from uaelab.attacks import make_attack, METHODS; from uaelab.data import load_dataset; "
            "assert 'mine-uae-k96' not in METHODS; d = load_dataset('stripes'); "
            "a = make_attack('mine-uae-k96', torch.nn.Identity()); "
            "print(d.sample_shape, d.class_names, a.mine_settings.K, type(a).__name__)")
    done = run_python(["-c", code], cwd=tmp_path, pythonpath=[target, REPO])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(1,", "6,", "6)", "['horizontal',", "'vertical']", "96", "MinMax"]


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """Entry points under our control: ``fake_plugins({"group": [(name, "module:attr"), ...]})``
    with modules written to ``tmp_path``; the plugin state and the registries are restored after."""
    monkeypatch.setattr(plugins, "_LOADED", {})
    monkeypatch.syspath_prepend(str(tmp_path))
    methods, datasets = dict(METHODS), dict(DATASETS)

    def install(eps: dict[str, list[tuple[str, str]]], modules: dict[str, str]) -> None:
        for name, code in modules.items():
            (tmp_path / f"{name}.py").write_text(code)
        table = {g: [md.EntryPoint(n, v, g) for n, v in items] for g, items in eps.items()}
        monkeypatch.setattr(plugins, "_entry_points", lambda group: table.get(group, []))

    yield install
    for name in [m for m in sys.modules if m.startswith("toyplug")]:
        del sys.modules[name]
    METHODS.clear(), METHODS.update(methods)
    DATASETS.clear(), DATASETS.update(datasets)


TOY = """
CALLS = []

def register():
    from uaelab.attacks import Gaussian, register_attack
    CALLS.append(1)
    register_attack("toy-noise", Gaussian, component="gaussian", help="toy plugin")
"""


def test_group_loads_lazily_and_once(fake_plugins):
    fake_plugins({plugins.ATTACKS: [("toy", "toyplug_a:register")]}, {"toyplug_a": TOY})
    make_attack("mine-uae", torch.nn.Identity())  # a built-in name loads no plugin
    assert "toyplug_a" not in sys.modules and "toy-noise" not in METHODS
    make_attack("toy-noise", torch.nn.Identity())
    make_attack("toy-noise", torch.nn.Identity())
    with pytest.raises(ValueError, match="unknown attack method 'nope'"):
        make_attack("nope", torch.nn.Identity())
    assert sys.modules["toyplug_a"].CALLS == [1]  # once, however often names are looked up


def test_broken_plugin_is_a_clear_error(fake_plugins, capsys):
    fake_plugins({plugins.DATASETS: [("bad", "toyplug_missing_module:register")],
                  plugins.ATTACKS: [("bad", "toyplug_b:register")]},
                 {"toyplug_b": "def register():\n    raise RuntimeError('needs a GPU driver')\n"})
    assert load_dataset("digits", limit=10).name == "digits"  # built-ins keep working
    with pytest.raises(plugins.PluginError, match=r"plugin 'bad' \(entry point 'toyplug_missing_module:register' "
                       r"in group 'uaelab.datasets'.*ModuleNotFoundError.*pip uninstall"):
        load_dataset("stripes")
    with pytest.raises(plugins.PluginError, match="toyplug_missing_module"):  # again on every later use
        load_dataset("stripes")
    assert cli.main(["generate", "--help"]) == 2  # the CLI: one line, no traceback
    err = capsys.readouterr().err.strip()
    assert err.startswith("uaelab generate: error: the uaelab plugin 'bad'") and "\n" not in err
    with pytest.raises(plugins.PluginError, match="RuntimeError: needs a GPU driver"):
        make_attack("toy-noise", torch.nn.Identity())


def test_generate_help_imports_no_plotting():
    code = ("import sys; from uaelab.cli import main\n"
            "try:\n    main(['generate', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'seaborn') "
            "or m.startswith(('uaelab.experiments', 'uaelab.plotting', 'uaelab.widgets', 'uaelab.claims'))))")
    done = run_python(["-c", code], cwd=Path(REPO), pythonpath=[REPO])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
