"""Quick-profile numbers on the embedded 8×8 digits: each model's metric and its CPU time.

    .venv/bin/python benchmarks/quick_models_digits.py [classifier dense sparse conv adversarial concrete simclr]

Prints one JSON line per model (metric, baseline, CPU process seconds, 1 torch thread).
"""
from __future__ import annotations

import json
import sys
import time

import torch

from uaelab import models
from uaelab.data import load_dataset
from uaelab.evaluate import metrics
from uaelab.models import train


def run(kind: str, ds) -> dict:
    c0 = time.process_time()
    if kind == "classifier":
        m, _ = train.train_classifier(ds, profile="quick", progress=False)
        out = {"test_accuracy": metrics.accuracy(m, ds.x_test, ds.y_test)}
    elif kind == "concrete":
        M = 12
        m, _ = train.train_concrete(ds, M=M, profile="quick", progress=False)
        sel = m.selected_features()
        xtr, xte = ds.x_train.flatten(1), ds.x_test.flatten(1)
        rand = [metrics.extra_trees_accuracy(xtr[:, r], ds.y_train, xte[:, r], ds.y_test)
                for r in (models.random_features(xtr.shape[1], M, s) for s in range(5))]
        out = {"M": M, "distinct": len(set(sel.tolist())),
               "extra_trees_selected": metrics.extra_trees_accuracy(xtr[:, sel], ds.y_train, xte[:, sel], ds.y_test),
               "extra_trees_random_mean": sum(rand) / len(rand), "test_recon_mse": metrics.reconstruction_error(m, xte)}
    elif kind == "simclr":
        m, _ = train.train_simclr(ds, profile="quick", progress=False)
        torch.manual_seed(0)
        rnd = models.SimCLR(models.SmallEncoder(ds.sample_shape))
        out = {"probe_learned": metrics.linear_probe(m, ds.x_train, ds.y_train, ds.x_test, ds.y_test),
               "probe_random_init": metrics.linear_probe(rnd, ds.x_train, ds.y_train, ds.x_test, ds.y_test)}
    else:
        m, _ = train.train_autoencoder(kind, ds, profile="quick", progress=False)
        out = {"test_recon_mse": metrics.reconstruction_error(m, ds.x_test),
               "mean_image_mse": float((ds.x_test - ds.x_train.mean(0)).pow(2).mean())}
    return {"model": kind, **out, "cpu_s": round(time.process_time() - c0, 1)}


if __name__ == "__main__":
    torch.set_num_threads(1)
    data = load_dataset("digits")
    for kind in sys.argv[1:] or ["classifier", "dense", "sparse", "conv", "adversarial", "concrete", "simclr"]:
        print(json.dumps(run(kind, data)), flush=True)
