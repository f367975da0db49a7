"""Table 4 on real MNIST (needs ../shared/data or --root): writes results/real/table4_reconstruction_*.

Runs one autoencoder at a time (dense, sparse, conv by default) and rewrites the accumulated
tables after each, so a partial run still leaves results. Everything is cached per row (and UAE
generation is resumable), so rerunning the same command continues where it stopped.

    UAELAB_CACHE=/tmp/uaelab_real .venv/bin/python benchmarks/real_table4.py --train 5000 --test 2000

Issue 13's full-scale run (all 60,000 / 10,000 images, 3 retraining seeds, every control, the
released preset at a reduced MINE budget measured against the released one in
results/real/uae_released_mnist.md):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/real_table4.py --train 0 --test 0 --kinds dense \
        --epochs "" --retrain-seeds 0,1,2 --tag full \
        --methods original,mine-uae,l2-uae,ga:0.01,ga:0.001,duplicate,no-mi,closed-form,start-only \
        --attack "mine.K=96,mine.m=32,mine.steps=5,mine.projection=per_attack,mi_eval_steps=0"

The settings actually used are written to results/real/table4_reconstruction_config.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from _common import augmentation_table_args, augmentation_table_values, command_line, log_invocation, split


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    augmentation_table_args(p, REPO, attack="T=20,mine.K=96,mine.m=32,mine.steps=5,mi_eval_steps=0", methods="")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--train", type=int, default=5000, help="training images (class-balanced subset; 0 = all)")
    p.add_argument("--test", type=int, default=2000, help="test images (class-balanced subset; 0 = all)")
    p.add_argument("--kinds", default="dense,sparse,conv")
    p.add_argument("--epochs", default="dense=20,sparse=20,conv=5",
                   help="per-kind training epochs (the recipe's when a kind is not named)")
    p.add_argument("--seeds", default="0,1", help="seeds of the GA runs")
    p.add_argument("--budget", default="epochs", choices=["epochs", "steps"])
    a = p.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    from uaelab.experiments import write_result
    from uaelab.experiments.table4_reconstruction import table4_reconstruction

    epochs = dict(kv.split("=") for kv in a.epochs.split(",") if kv)
    import torch

    torch.set_num_threads(a.threads)
    common = dict(dataset=a.dataset, root=a.root, train_limit=a.train or None, test_limit=a.test or None,
                  seeds=tuple(int(s) for s in split(a.seeds)), budget=a.budget, **augmentation_table_values(a))
    kinds = [k for k in a.kinds.split(",") if k]
    command = command_line("real_table4.py", argv)
    suffix = ("_steps" if a.budget == "steps" else "") + (f"_{a.tag}" if a.tag else "")
    log_path = Path(a.out) / f"table4_{a.dataset}_runs_{'_'.join(kinds)}{suffix}.json"
    # every invocation is kept: a rerun served from the cache must not replace the real run's time
    log = json.loads(log_path.read_text()) if log_path.exists() else {}
    for kind in kinds:
        t0 = time.time()
        ep = int(epochs[kind]) if kind in epochs else None
        res = table4_reconstruction("paper", kinds=(kind,), epochs=ep, **common)
        log[kind] = {**log_invocation(log.get(kind), time.time() - t0, command), "epochs": ep, "config": res.config}
        out = Path(a.out)
        res.name = f"table4_{a.dataset}_{kind}{suffix}"
        write_result(res, "paper", figures_dir=out, results_dir=out)
        log["command"] = command
        log_path.write_text(json.dumps(log, indent=1, default=str))
        print(f"[{time.strftime('%H:%M:%S')}] {kind} done in {time.time() - t0:.0f}s", flush=True)
        print(res.tables["paper_style"].to_markdown(), flush=True)
        print(res.tables["direction"].to_markdown(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
