"""Train the Table 4 autoencoders and the Carlini–Wagner classifier on the real MNIST.

Uses the released settings (``uaelab.models.train.RECIPES[...]["paper"]``) unless ``--epochs`` caps
them, trains through the model zoo (so later experiments reuse the checkpoints), and writes
``results/real/models_mnist.json`` and ``.md`` after every model, so a run cut short still
reports what finished. Reconstruction error is per-pixel MSE on the 10k test images
(``uaelab.evaluate.metrics.reconstruction_error``), compared with Table 4's 'Original' column.

    .venv/bin/python benchmarks/train_real_mnist.py --root ../shared/data --threads 1 \
        --models dense sparse conv adversarial classifier --epochs classifier=4 \
        --set classifier.optimizer=adam classifier.lr=0.001
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent

from _common import mnist_missing
from uaelab.data import load_dataset
from uaelab.evaluate import metrics
from uaelab.models import zoo
from uaelab.models.train import recipe_settings

NOTES = """
Unit: per-pixel mean squared error on the 10k MNIST test images (mean over samples and pixels),
which is how we read Table 4's "average L2 reconstruction loss". CPU time is process time with
one torch thread on a 2-core machine shared with other jobs (load 12-25; load 2 for the adversarial AE).

History of this file (2026-11-24 run):
- dense: released settings in full (20 epochs): 0.00253 vs 0.00258, matches Table 4.
- sparse: released settings in full (50 epochs): 0.00442 vs 0.00561 (0.79x). A first run that
  summed the KL sparsity term over the 128 units (instead of the released K.mean) got 0.01889
  (3.4x the paper): the penalty was 128x too strong. The code now averages.
- conv: released settings in full (20 Adadelta epochs, lr 1.0): 0.00355 vs 0.00294 (1.21x),
  426 CPU s. Earlier partial runs: 2 epochs 0.00854, 6 epochs 0.00557 (1.9x): Adadelta
  converges slowly, so the remaining gap is likely still training budget, not the model.
- classifier: C&W MNIST net, 3 epochs of Adam lr 1e-3 instead of the released 50 epochs of SGD
  (lr 0.01, Nesterov momentum 0.9), for the same reason: 0.9903 test accuracy (1 epoch: 0.9802).
- adversarial: released settings in full (2-d sigmoid code, 1000 units, Adam 1e-4, 50 epochs,
  batch 100): 0.04090 vs 0.04785 (0.85x), 3450 CPU s (1 thread, second core busy with other
  runs; 46 s for the first epoch, ~75 s later). The 2-d code is why its error is ~10x the others.
  On digits the same sigmoid code collapses to the mean image, so the quick profile uses a
  linear code and 256 units. Rerun: `--models adversarial`.
"""

PAPER = {"dense": 0.00258, "sparse": 0.00561, "conv": 0.00294, "adversarial": 0.04785, "classifier": 0.99}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(REPO.parent / "shared" / "data"), help="folder holding MNIST/raw/*.gz")
    ap.add_argument("--models", nargs="+", default=["dense", "sparse", "conv", "adversarial", "classifier"])
    ap.add_argument("--epochs", nargs="*", default=[], help="caps like conv=10 (default: released epochs)")
    ap.add_argument("--set", nargs="*", default=[], dest="overrides",
                    help="setting overrides like classifier.optimizer=adam classifier.lr=0.001")
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the .json")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--out", default=str(REPO / "results" / "real" / "models_mnist"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.render:
        write([], Path(args.out))
        return 0
    caps = {k: int(v) for k, v in (item.split("=") for item in args.epochs)}
    if mnist_missing(args.root):
        return 0
    data = load_dataset("mnist", root=args.root)
    rows = []
    for kind in args.models:
        released = recipe_settings(kind, "paper")
        settings = released.replace(epochs=caps.get(kind, released.epochs)).with_overrides(
            [o.split(".", 1)[1] for o in args.overrides if o.startswith(kind + ".")])
        t0, c0 = time.perf_counter(), time.process_time()
        model, history = zoo.get_trained(kind, data, settings=settings, profile="paper", seed=0,
                                         progress=False)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        if kind == "classifier":
            value, unit = metrics.accuracy(model, data.x_test, data.y_test), "test accuracy (fraction)"
        else:
            value, unit = metrics.reconstruction_error(model, data.x_test), "test per-pixel MSE"
        rows.append({"model": kind, "metric": unit, "value": value, "paper": PAPER[kind],
                     "ratio_to_paper": value / PAPER[kind], "epochs_run": int(len(history)),
                     "released_epochs": released.epochs, "settings": settings.to_dict(),
                     "train_cpu_s_this_run": cpu, "wall_s_this_run": wall,
                     "train_cpu_s_recorded": float(history["cpu_time"].sum()) if len(history) else None,
                     "threads": args.threads})
        write(rows, Path(args.out))
        print(f"{kind}: {unit} = {value:.5f} (paper {PAPER[kind]}), cpu {cpu:.0f}s, wall {wall:.0f}s", flush=True)
    return 0


def write(rows, out: Path) -> None:
    """Merge ``rows`` into the existing results (by model name), so parallel runs can share a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else []
    mine = {r["model"] for r in rows}
    order = list(PAPER)
    rows = sorted([r for r in old if r["model"] not in mine] + rows, key=lambda r: order.index(r["model"]))
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    lines = ["| model | metric | ours | paper (Table 4 'Original' / CW) | ratio | epochs run / released | "
             "train CPU s (process time) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        cpu = r["train_cpu_s_recorded"]
        lines.append(f"| {r['model']} | {r['metric']} | {r['value']:.5f} | {r['paper']} | {r['ratio_to_paper']:.2f} | "
                     f"{r['epochs_run']} / {r['released_epochs']} | {cpu:.0f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n" + NOTES)


if __name__ == "__main__":
    raise SystemExit(main())
