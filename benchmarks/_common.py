"""Helpers shared by the benchmark scripts. Run as ``python benchmarks/<script>.py``, a script
has its own folder on ``sys.path`` (Python puts it there), so ``from _common import ...`` works;
``uaelab`` is the installed package (``pip install -e .``), never a path edit."""
from __future__ import annotations

from pathlib import Path


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages ([] where /proc is missing): every benchmark records
    them beside its timings, because the CPUs it runs on are shared."""
    try:
        return [float(v) for v in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []


def mnist_missing(root: str | Path) -> bool:
    """True (and says so) when ``root`` holds no MNIST/raw: the real-data scripts then skip."""
    if Path(root, "MNIST", "raw").is_dir():
        return False
    print(f"skipped: no MNIST under {root}")
    return True


def command_line(script: str, argv: list[str] | None) -> str:
    """The command that ran ``script`` (empty arguments quoted), for the run logs beside results."""
    import sys

    args = argv if argv is not None else sys.argv[1:]
    return f"python benchmarks/{script} " + " ".join(f"'{x}'" if (not x or " " in x) else x for x in args)


def write_json(path: str | Path, result: dict, *, hide: tuple[str, ...] = ()) -> None:
    """Write a benchmark's ``result`` to ``path`` (folders made) and print it without the bulky
    keys in ``hide`` (per-run records), the summary a reader of the terminal wants."""
    import json

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in hide}, indent=2))


def log_invocation(entry: dict | None, seconds: float, command: str) -> dict:
    """``entry`` (a run log's record of one table, or None) with this invocation appended to its
    "invocations" and "seconds" their total: a rerun served from the cache must not replace the
    real run's time."""
    import time

    entry = entry or {}
    # a log written before invocations were kept holds one run's "seconds" (and maybe "command")
    earlier = entry.get("invocations") or ([{"seconds": entry["seconds"], "command": entry.get("command")}]
                                           if "seconds" in entry else [])
    runs = [*earlier,
            {"seconds": round(seconds), "command": command, "finished": time.strftime("%Y-%m-%d %H:%M")}]
    return {**entry, "seconds": sum(r["seconds"] for r in runs), "invocations": runs}


def split(text: str) -> tuple[str, ...]:
    """``"a,b,,c"`` -> ``("a", "b", "c")``: a comma-separated command-line list."""
    return tuple(x for x in text.split(",") if x)


def augmentation_table_args(ap, repo: Path, *, attack: str, methods: str, retrain_seeds: str = "",
                            preset: str = "reference_code") -> None:
    """The arguments real_table4/5/6.py share (defaults per script): --root, --attack, --methods,
    --retrain-seeds, --preset, --tag, --threads, --out. :func:`augmentation_table_values` turns
    them into the experiment's keyword values."""
    from uaelab.attacks import PRESETS

    ap.add_argument("--root", default=str(repo.parent / "shared" / "data"), help="data folder (holding MNIST/raw, ...)")
    ap.add_argument("--attack", default=attack,
                    help="attack overrides field=value, comma-separated (no prefix: every attack with that field; "
                         "mine.<field>: the per-sample MINE); a misspelt name stops the run")
    ap.add_argument("--methods", default=methods, help="augmentation methods, comma-separated (e.g. original,mine-uae)")
    ap.add_argument("--retrain-seeds", default=retrain_seeds,
                    help="e.g. 0,1,2: retrain every row (the original too) per seed")
    ap.add_argument("--preset", default=preset, choices=list(PRESETS), help="attack preset (uaelab.attacks.PRESETS)")
    ap.add_argument("--tag", default="", help="suffix of the result names (e.g. full)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--out", default=str(repo / "results" / "real"))


def augmentation_table_values(a) -> dict:
    """The experiment keyword values of :func:`augmentation_table_args`' arguments (``methods``
    only when given: an empty --methods means the table's own)."""
    out = {"attack_set": split(a.attack), "preset": a.preset,
           "retrain_seeds": tuple(int(x) for x in split(a.retrain_seeds))}
    if a.methods:
        out["methods"] = split(a.methods)
    return out


def real_data_args(ap, repo: Path) -> None:
    """The arguments every real-MNIST figure script shares: --root, --threads, --out, --figures."""
    ap.add_argument("--root", default=str(repo.parent / "shared" / "data"), help="folder holding MNIST/raw")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(repo / "results" / "real"))
    ap.add_argument("--figures", default=str(repo / "figures" / "real"))


# make_mine_attack's preset for the supervised attacks of Figure 3 / Table 2: the paper's text
# (c0 = 0, δ0 = 0), written beside their results because the tables elsewhere use the released code's
SUPERVISED_PRESET = "paper"


def mnist_classifier(data, seed: int = 0):
    """The C&W MNIST classifier of the real-data Figure 3 / Table 2 runs, in eval mode, with its
    training settings: 3 epochs of Adam (lr 1e-3) instead of the released 50 epochs of SGD, a
    stated deviation (results/real/models_mnist.md: 0.990 test accuracy). Cached by the zoo."""
    from uaelab.models import zoo
    from uaelab.models.train import recipe_settings

    settings = recipe_settings("classifier", "paper").replace(epochs=3, optimizer="adam", lr=1e-3)
    model = zoo.get_model("classifier", data, settings=settings, profile="paper", seed=seed, progress=True)
    return model.eval(), settings


def run_log(config_path: Path, seconds: float, command: str) -> dict:
    """``{"command", "wall_s", "log"}`` for a results config that a rerun rewrites: the invocations
    of earlier runs (kept in the file's "log", or its old "wall_s"/"command") plus this one, so
    that a rerun served from the cache does not replace the real run's wall time."""
    import json

    old = json.loads(Path(config_path).read_text()) if Path(config_path).exists() else {}
    entry = old.get("log") or ({"seconds": round(old["wall_s"]), "command": old.get("command")}
                               if "wall_s" in old else None)
    log = log_invocation(entry, seconds, command)
    return {"command": command, "wall_s": log["seconds"], "log": log}
