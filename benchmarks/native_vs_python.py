"""The compiled StatNets loop against the Python one at the released attack length (T = 40).

bench_attack.py compares the package with c61717a at T = 4; this script runs the current package
twice at the released settings (K = 500, m = 128, 512 -> 10, 20 MINE steps, T = 40) on the same
MNIST test images and autoencoder, once with the compiled block loop and once with the Python loop
(``UAELAB_NATIVE=0``), each in its own process, alternating ``--reps`` times, and writes how far
the two attacks' results drift apart over 40 iterations (800 MINE Adam steps: float32 rounding
differences in the networks grow) and their same-run speed ratio::

    .venv/bin/python benchmarks/native_vs_python.py                 # 32 images, 1 thread, ~1 minute

Writes ``benchmarks/results/native_vs_python.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import command_line, loadavg, write_json
from bench_attack import _median, _quantiles, prepare

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def one(workdir: Path, args) -> dict:
    """One attack in this process, with the loop $UAELAB_NATIVE picks."""
    import torch

    from uaelab.attacks import MinMax, MinMaxSettings
    from uaelab.attacks.criteria import reconstruction
    from uaelab.mi import native
    from uaelab.mi.mine import MineSettings
    from uaelab.models import DenseAE

    torch.set_num_threads(args.threads)
    setup = torch.load(workdir / "setup.pt")
    ae = DenseAE((1, 28, 28), hidden=128)
    ae.load_state_dict(setup["ae"])
    ae.eval()
    x = setup["x"][:args.n]
    loop = "compiled" if native.block_kernel() is not None else "python"
    att = MinMax(ae, reconstruction(ae), MinMaxSettings(T=args.T), mine=MineSettings(), seed=args.seed)
    t = time.perf_counter()
    res = att(x, indices=torch.arange(len(x)))
    secs = time.perf_counter() - t
    torch.save({"x_adv": res.x_adv, "success": res.success, "mi_best": res.mi_best, "mi": res.history["mi"]},
               workdir / f"{loop}.pt")
    return {"loop": loop, "seconds": secs, "samples_per_s": len(x) / secs, "loadavg": loadavg()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=32, help="MNIST test images")
    p.add_argument("--T", type=int, default=40, help="attack iterations (released: 40)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=2, help="alternations of the two loops")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(HERE / "results" / "native_vs_python.json"))
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(Path(args.one), args)))
        return 0

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare(work, max(args.n, 64), args.seed)
        runs: dict[str, list] = {"compiled": [], "python": []}
        for _ in range(args.reps):
            for flag in ("1", "0"):  # 1: compiled, or fail; 0: the Python loop
                cmd = [sys.executable, __file__, "--one", tmp, "--n", str(args.n), "--T", str(args.T),
                       "--threads", str(args.threads), "--seed", str(args.seed)]
                done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                                      env={**os.environ, "UAELAB_NATIVE": flag})
                if done.returncode:
                    sys.stderr.write(done.stderr)
                    raise SystemExit(f"the {'compiled' if flag == '1' else 'Python'} run failed")
                out = json.loads(done.stdout.strip().splitlines()[-1])
                runs[out["loop"]].append(out)
                print(json.dumps(out), flush=True)
        a, b = torch.load(work / "compiled.pt"), torch.load(work / "python.pt")
    both = a["success"] & b["success"]
    qa, qb = _quantiles(a["mi_best"][a["success"]]), _quantiles(b["mi_best"][b["success"]])
    ratios = [c["samples_per_s"] / py["samples_per_s"] for c, py in zip(runs["compiled"], runs["python"])]
    result = {
        "command": command_line("native_vs_python.py", argv),
        "settings": {"n": args.n, "T": args.T, "threads": args.threads, "K": 500, "m": 128, "hidden": [512, 10],
                     "mine_steps": 20, "data": "MNIST test images", "seed": args.seed},
        "successes": {"compiled": int(a["success"].sum()), "python": int(b["success"].sum())},
        "same_success_mask": bool((a["success"] == b["success"]).all()),
        "max_abs_diff_x_adv": float((a["x_adv"] - b["x_adv"]).abs().max()),
        "mi_best_quantiles": {"compiled": qa, "python": qb},
        "mi_quantile_rel_diff": {q: abs(qa[q] - qb[q]) / abs(qb[q]) for q in qb},
        "mi_best_max_rel_diff_per_sample": float(((a["mi_best"][both] - b["mi_best"][both]).abs()
                                                  / b["mi_best"][both].abs()).max()) if both.any() else None,
        "mi_history_max_abs_diff": float((a["mi"].nan_to_num() - b["mi"].nan_to_num()).abs().max()),
        "speedup_compiled_over_python": _median(ratios), "speedup_per_pair": ratios,
        "runs": runs,
    }
    write_json(args.out, result, hide=("runs",))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
