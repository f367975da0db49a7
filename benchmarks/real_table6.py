"""Table 6 on real data (needs ../shared/data or --root): writes results/real/table6_<dataset>_*.

One dataset at a time (Isolet, COIL-20, MNIST, Fashion-MNIST by default), tables rewritten
after each; cached per row and resumable, so rerunning continues where it stopped.

    UAELAB_CACHE=/tmp/uaelab_real .venv/bin/python benchmarks/real_table6.py --train 1000

Issue 13's run (released preset, every control, 5 retraining seeds; the reduced MINE budget of
results/real/uae_released_mnist.md):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/real_table6.py --train 4000 --retrain-seeds 0,1,2,3,4 \
        --tag full --methods original,mine-uae,no-mi,closed-form,l2-uae,ga:0.01,ga:0.001,duplicate \
        --attack "mine.K=96,mine.m=32,mine.steps=5,mine.projection=per_attack,mi_eval_steps=0"

Mice Protein (the paper's M = 10; a CSV path, its text factors and MouseID left out, gaps filled
with the column mean), with the same protocol:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/real_table6.py \
        --datasets ../shared/data/MiceProtein/Data_Cortex_Nuclear.csv --label-column class \
        --drop-columns MouseID,Genotype,Treatment,Behavior --nan-policy impute-mean --retrain-seeds 0,1,2,3,4 \
        --tag full --methods original,mine-uae,no-mi,closed-form,l2-uae,ga:0.01,ga:0.001,duplicate \
        --attack "mine.K=96,mine.m=32,mine.steps=5,mine.projection=per_attack,mi_eval_steps=0"

MNIST / Fashion-MNIST follow the concrete-AE authors: their 10k test set split 40/60 (4000 /
6000, stratified), then --train of the 4000 (class-balanced). COIL-20 (20×20) and Isolet (its
test split, the only one here) are split 80/20 by the loader and used whole.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from _common import augmentation_table_args, augmentation_table_values, command_line, log_invocation


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    augmentation_table_args(p, REPO, attack="T=20,mine.K=96,mine.m=32,mine.steps=5",
                            methods="original,mine-uae,duplicate")
    p.add_argument("--datasets", default="isolet,coil20,mnist,fashion-mnist")
    p.add_argument("--train", type=int, default=1000, help="training samples for MNIST / Fashion-MNIST")
    p.add_argument("--epochs", type=int, default=None, help="concrete AE epochs (default: the recipe's 300)")
    p.add_argument("--budget", default="epochs", choices=["epochs", "steps"],
                   help="retraining budget: same epochs (paper) or same number of gradient steps")
    p.add_argument("--model-seed", type=int, default=0,
                   help="seed of the original model; every retrained model starts from the same initialisation")
    p.add_argument("--label-column", default=None, help="CSV datasets: the label column (default: the last)")
    p.add_argument("--drop-columns", default="", help="CSV datasets: comma-separated columns to leave out")
    p.add_argument("--non-numeric", default="error", choices=["error", "drop", "onehot"],
                   help="CSV datasets: what to do with text feature columns")
    p.add_argument("--nan-policy", default="error", choices=["error", "drop", "impute-mean"],
                   help="CSV datasets: what to do with missing values")
    a = p.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    import torch

    from uaelab.data import is_csv, known_as
    from uaelab.experiments import write_result
    from uaelab.experiments.table6_concrete import table6_concrete

    def csv_options(a, name):  # the CSV options apply to CSV paths only (Table6Settings refuses them otherwise)
        if not is_csv(name):
            return {}
        return {"label_column": a.label_column, "drop_columns": tuple(c for c in a.drop_columns.split(",") if c),
                "non_numeric": a.non_numeric, "nan_policy": a.nan_policy}

    torch.set_num_threads(a.threads)
    command = command_line("real_table6.py", argv)
    suffix = ("_steps" if a.budget == "steps" else "") + (f"_{a.tag}" if a.tag else "")
    runs = Path(a.out) / f"table6_runs{suffix}.json"
    log = json.loads(runs.read_text()) if runs.exists() else {}  # other datasets' runs stay
    for name in [d for d in a.datasets.split(",") if d]:
        t0 = time.time()
        limit = a.train if name in ("mnist", "fashion-mnist") else None
        res = table6_concrete("paper", datasets=(name,), root=a.root, train_limit=limit, epochs=a.epochs,
                              seeds=(0,), budget=a.budget, model_seed=a.model_seed,
                              **augmentation_table_values(a), **csv_options(a, name))
        name = known_as(name)  # a CSV path is logged and written under its dataset name (mice-protein)
        log[name] = {**log_invocation(log.get(name), time.time() - t0, command), "train_limit": limit,
                     "config": res.config, "notes": res.notes, "command": command}
        out = Path(a.out)
        res.name = f"table6_{name}{suffix}"
        write_result(res, "paper", figures_dir=out, results_dir=out)
        runs.write_text(json.dumps(log, indent=1, default=str))
        print(f"[{time.strftime('%H:%M:%S')}] {name} done in {time.time() - t0:.0f}s", flush=True)
        print(res.tables["vs_paper"].to_markdown(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
