"""Table 5's analogue on real Fashion-MNIST (needs ../shared/data or --root): SimCLR with UAEs.

CIFAR-10 (the paper's data) is not to be had here, so this runs the same pipeline on
Fashion-MNIST with the small encoder, labelled as not the paper's dataset: pretrain SimCLR,
make one UAE per training image against its contrastive loss, retrain from scratch on data +
UAEs (every control), then report the test NT-Xent loss, the linear-probe accuracy and its PGD
accuracy per retraining seed, with Welch's tests (uaelab.verdicts). Cached per row and
resumable; the tables are rewritten at the end.

Issue 13's run (the released SimCLR attack: preset reference_code = the tiled-copies criterion
and the t^(1/2) dual step; random-projection MINE at the reduced budget of Table 4 instead of
the released conv-feature MINE, which is too heavy for a CPU):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/real_table5.py --train 2000 --test 2000 --epochs 20 \
        --retrain-seeds 0,1,2 --tag full \
        --methods original,mine-uae,no-mi,start-only,ga:0.01,duplicate \
        --attack "T=20,mine.K=96,mine.m=32,mine.steps=5,mine.projection=per_attack,mi_eval_steps=0"
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
    augmentation_table_args(p, REPO, attack="T=20,mine.K=96,mine.m=32,mine.steps=5,mine.projection=per_attack,"
                                            "mi_eval_steps=0",
                            methods="original,mine-uae,no-mi,start-only,ga:0.01,duplicate", retrain_seeds="0,1,2")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--train", type=int, default=2000, help="training images (class-balanced subset; 0 = all)")
    p.add_argument("--test", type=int, default=2000, help="test images (class-balanced subset; 0 = all)")
    p.add_argument("--encoder", default="small", choices=["small", "resnet18"])
    p.add_argument("--epochs", type=int, default=20, help="SimCLR pretraining epochs (the paper: 1000)")
    a = p.parse_args(argv)
    from uaelab.data.registry import DATASETS, canonical_name

    folder = DATASETS[canonical_name(a.dataset)].folder  # the dataset's folder in ../shared/data
    if folder and not Path(a.root, folder).is_dir():
        print(f"skipped: no {a.dataset} under {a.root}")
        return 0

    import matplotlib
    matplotlib.use("Agg")
    import torch

    from uaelab.experiments import write_result
    from uaelab.experiments.table5_simclr import table5_simclr

    torch.set_num_threads(a.threads)
    command = command_line("real_table5.py", argv)
    name = f"table5_{a.dataset}" + (f"_{a.tag}" if a.tag else "")
    runs = Path(a.out) / f"{name}_runs_log.json"
    log = json.loads(runs.read_text()) if runs.exists() else {}
    t0 = time.time()
    res = table5_simclr("paper", dataset=a.dataset, root=a.root, train_limit=a.train or None,
                        test_limit=a.test or None, encoder=a.encoder, epochs=a.epochs, seeds=(0,),
                        **augmentation_table_values(a))
    log = {**log_invocation(log, time.time() - t0, command), "config": res.config, "notes": res.notes,
           "command": command}
    out = Path(a.out)
    res.name = name
    write_result(res, "paper", figures_dir=out, results_dir=out)
    runs.write_text(json.dumps(log, indent=1, default=str))
    print(f"[{time.strftime('%H:%M:%S')}] done in {time.time() - t0:.0f}s", flush=True)
    for key in ("summary", "tests"):
        if key in res.tables:
            print(res.tables[key].to_markdown(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
