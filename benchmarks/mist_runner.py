"""torch-mist's estimators on the pairs that benchmarks/bench_mi.py saved (run by it, in the
torch-mist venv made by ``make mi-bench-venv``; it imports nothing from uaelab).

    .venv-mist/bin/python benchmarks/mist_runner.py JOBS.pt OUT.json --estimators mine smile infonce

JOBS.pt: a list of dicts {key, seed, a_train, b_train, a_eval, b_eval}. Each estimator trains on
the train pairs (torch-mist keeps 10% of them to early-stop on) and is evaluated on the eval
pairs, the same split ours uses. Writes [{key, estimator, estimate, seconds}] as JSON, rewritten
after every job (a run stopped early leaves the jobs it finished).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import time
import warnings

import torch


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("jobs")
    p.add_argument("out")
    p.add_argument("--estimators", nargs="+", default=["mine", "smile", "infonce"])
    p.add_argument("--hidden", type=int, nargs="+", default=[128, 128])
    p.add_argument("--max-iterations", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import torch_mist
    from torch_mist import estimate_mi

    rows = []
    for job in torch.load(args.jobs):
        for name in args.estimators:
            torch.manual_seed(job["seed"])  # torch-mist draws from the global RNG only
            t = time.perf_counter()
            est = estimate_mi(data=(job["a_train"], job["b_train"]),
                              test_data=(job["a_eval"], job["b_eval"]), estimator=name,
                              hidden_dims=list(args.hidden), max_iterations=args.max_iterations,
                              batch_size=args.batch_size, verbose=False, logger=False)
            est = float(est)
            rows.append({"key": job["key"], "estimator": f"torch-mist {name}",
                         "estimate": est if math.isfinite(est) else None,
                         "seconds": time.perf_counter() - t})
            print(f"{job['key']:40s} {name:8s} {est:8.3f} {rows[-1]['seconds']:6.1f}s", flush=True)
        # after every job, so that a run stopped early still leaves the rows it made
        with open(args.out, "w") as fh:
            json.dump({"torch_mist": torch_mist.__version__, "rows": rows}, fh)


if __name__ == "__main__":
    main()
