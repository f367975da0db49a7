"""Micro-benchmark of the statistics networks' training alone: ``StatNets.train`` of B networks
(released sizes: K = 500 pairs of m = 128, 512 -> 10 branches) for 20 Adam steps, at each torch
thread count, alternating the current code with a baseline commit's (``git archive``), each run in
its own process; medians of ``--reps`` pairs. Writes ``benchmarks/results/bench_statnets_train.json``.

    .venv/bin/python benchmarks/bench_statnets_train.py --baseline 322970f    # about 1 minute

Baselines must have ``StatNets.train(ab, steps)`` (any commit since the blocked training, e34ebe3);
the counted work is 2 branches x 5 products of 2·H·(the other two sizes) FLOPs per network and step.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import loadavg

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def flops_per_step(B: int, K: int, m: int, N1: int, H: int) -> int:
    """Matmul FLOPs of one Adam step of B networks (fold, forward, dM, dW2, dW1 per branch)."""
    return B * 2 * 2 * (H * N1 * m + H * m * K + H * K * m + H * m * N1 + m * H * N1)


def one_run(args) -> dict:
    """Time ``train`` in this process (after a 2-step warm-up), ``--repeat`` times, best CPU time."""
    if args.code_root:
        sys.path.insert(0, args.code_root)
    import torch

    try:
        from uaelab.mi.mine import StatNets
    except ImportError:  # before the package's reorganisation
        from uaelab.mine import StatNets
    torch.set_num_threads(args.threads)
    gens = [torch.Generator().manual_seed(i) for i in range(args.B)]
    nets = StatNets(args.m, gens)
    ab = torch.randn(2 * args.B, args.K, args.m, generator=torch.Generator().manual_seed(0))
    nets.train(ab, 2)
    best = None
    for _ in range(args.repeat):
        t, cpu = time.perf_counter(), time.process_time()
        nets.train(ab, args.steps)
        run = (time.perf_counter() - t, time.process_time() - cpu)
        best = run if best is None or run[0] < best[0] else best
    work = flops_per_step(args.B, args.K, args.m, 512, 10) * args.steps
    return {"wall_s": best[0], "cpu_s": best[1], "gflops": work / best[0] / 1e9,
            "sample_steps_per_s": args.B * args.steps / best[0], "loadavg": loadavg()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--B", type=int, default=64, help="networks (samples)")
    p.add_argument("--K", type=int, default=500)
    p.add_argument("--m", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--baseline", help="a commit to compare with (same run, alternating)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--repeat", type=int, default=3, help="timed trainings per process (best kept)")
    p.add_argument("--out", default=str(HERE / "results" / "bench_statnets_train.json"))
    p.add_argument("--code-root", help=argparse.SUPPRESS)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        args.threads = int(args.threads)
        print(json.dumps(one_run(args)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = ""
        if args.baseline:
            archive = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline, "uaelab"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            root = tmp
        result: dict = {"command": "python benchmarks/bench_statnets_train.py " + " ".join(
            sys.argv[1:] if argv is None else argv), "B": args.B, "K": args.K, "m": args.m,
            "steps": args.steps, "baseline_commit": args.baseline, "threads": {}}
        for nt in [int(t) for t in args.threads.split(",")]:
            runs: dict[str, list] = {"baseline": [], "current": []}
            for _ in range(args.reps):
                for kind, code in (("baseline", root), ("current", "")):
                    if kind == "baseline" and not root:
                        continue
                    cmd = [sys.executable, __file__, "--one", "--threads", str(nt), "--B", str(args.B),
                           "--K", str(args.K), "--m", str(args.m), "--steps", str(args.steps),
                           "--repeat", str(args.repeat)] + (["--code-root", code] if code else [])
                    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True,
                                                    cwd=REPO).stdout.strip().splitlines()[-1])
                    runs[kind].append(out)
                    print(f"{nt} thread(s) {kind}: {out}", flush=True)
            med = lambda v: sorted(v)[len(v) // 2]
            entry = {k: {"median_wall_s": med([r["wall_s"] for r in v]), "median_gflops": med([r["gflops"] for r in v])}
                     for k, v in runs.items() if v}
            if root:
                entry["speedup"] = med([b["wall_s"] / c["wall_s"] for b, c in zip(runs["baseline"], runs["current"])])
                entry["speedup_cpu_time"] = med([b["cpu_s"] / c["cpu_s"]
                                                 for b, c in zip(runs["baseline"], runs["current"])])
            entry["runs"] = runs
            result["threads"][str(nt)] = entry
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    for nt, e in result["threads"].items():
        print(f"{nt} thread(s): current {e['current']['median_gflops']:.1f} GFLOP/s"
              + (f", {e['speedup']:.2f}x {args.baseline} (CPU time {e['speedup_cpu_time']:.2f}x)" if root else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
