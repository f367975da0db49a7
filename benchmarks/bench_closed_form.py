"""Closed-form MinMax against MINE MinMax at the released settings, in one run.

The same 64 MNIST test images, the same dense autoencoder (released recipe, all 60k training
images, from the model zoo), the same preset (``reference_code``: Glorot δ0, summed squares,
c0 = 1e-3, T = 40) and seed; only the MI term differs:

* ``mine``: per-sample MINE at the released K = 500, m = 128, 20 Adam steps per iteration
  (projection drawn once per attack, as in ``uae_released_mnist.py``);
* ``closed_form``: the exact MI of that sampler, -(m/2)·log(1 - cos²(x, x')), m = 128;
* ``closed_form_m1``: the same for one coordinate pair (m = 1);
* ``no_mi``: no MI term at all.

Writes ``benchmarks/results/closed_form.json`` with samples/s, the ``speedup`` of the closed
form over MINE (same process, one after the other), ASR and perturbation sizes, the machine's load.

    .venv/bin/python benchmarks/bench_closed_form.py --threads 1
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

from _common import command_line, loadavg, mnist_missing, write_json
from uae_released_mnist import METHODS, RELEASED_MINE
from uaelab.attacks import make_attack
from uaelab.data import load_dataset
from uaelab.evaluate.metrics import perturbation_sizes
from uaelab.models import zoo

CASES = {"mine": "mine-uae", "closed_form": "closed-form", "closed_form_m1": "closed-form-m1", "no_mi": "no-mi"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(REPO.parent / "shared" / "data"), help="folder holding MNIST/raw/*.gz")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "results" / "closed_form.json"))
    args = ap.parse_args(argv)
    if mnist_missing(args.root):
        return 0
    torch.set_num_threads(args.threads)
    data = load_dataset("mnist", root=args.root)
    ae = zoo.get_model("dense", data, profile="paper", progress=False).eval()
    x = data.x_test[:args.n]
    load_before = loadavg()
    cases, adv = {}, {}
    for case, name in CASES.items():
        method, preset, extra = METHODS[name]
        attack = make_attack(method, ae, profile="paper", preset=preset, overrides=RELEASED_MINE + extra, seed=0)
        t = time.perf_counter()
        res = attack(x, indices=torch.arange(len(x)))
        secs = time.perf_counter() - t
        adv[case] = res.x_adv
        sizes = perturbation_sizes(x, {case: (res.x_adv, res.success)}).loc[case].to_dict()
        cases[case] = {"seconds": secs, "samples_per_s": len(x) / secs, **sizes}
        print(case, json.dumps(cases[case]), flush=True)
    result = {
        "settings": {"n": args.n, "preset": "reference_code", "mine": RELEASED_MINE, "T": 40,
                     "model": "dense 784-128-784, released recipe, 60k MNIST", "threads": args.threads},
        "cases": cases,
        "speedup": cases["closed_form"]["samples_per_s"] / cases["mine"]["samples_per_s"],
        "speedup_m1": cases["closed_form_m1"]["samples_per_s"] / cases["mine"]["samples_per_s"],
        "max_abs_diff_mine_vs_no_mi": float((adv["mine"] - adv["no_mi"]).abs().max()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                    "loadavg_before": load_before, "loadavg_after": loadavg()},
        "command": command_line("bench_closed_form.py", argv),
    }
    write_json(args.out, result, hide=("cases",))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
