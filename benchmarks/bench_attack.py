"""Benchmark of the batched unsupervised MinMax attack at the released settings.

Measures, in one run on one machine (each case in its own process, for clean peak memory):

* ``batched``: samples/s of the batched unsupervised MinMax attack (random sampling, K = 500,
  m = 128, statistics network 512 -> 10, 20 MINE steps per iteration, T = 40) on a dense
  784-128-784 autoencoder, with real MNIST test images;
* ``single_reference``: the same attack one sample at a time as the released code does it
  (batch of 1, projection redrawn at every MINE step and gradient evaluation). It is very slow,
  so it runs ``--ref-iters`` iterations on one sample and is extrapolated linearly to T = 40
  (every iteration costs the same);
* ``single_ours``: batch of 1 with this package's projection policy (drawn once per attack),
  so the gain of batching alone is visible;
* ``pgd``: one PGD iteration on the same batch and model, for the time-per-iteration ratio.

Also reports peak memory per sample (VmHWM growth / batch size), the success rate and MI
distribution of the batched run, and checks that the one-at-a-time results equal the batched
ones (batch independence). Writes ``benchmarks/results/bench_attack.json`` and prints it.

    .venv/bin/python benchmarks/bench_attack.py            # defaults: 64 samples
    .venv/bin/python benchmarks/bench_attack.py --n 32 --ref-iters 1 --single 1
    .venv/bin/python benchmarks/bench_attack.py --threads 1   # on a busy shared CPU
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


def _loadavg() -> list[float]:
    try:
        return [float(v) for v in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []


def _rss_kib(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _data_root() -> Path:
    env = os.environ.get("UAELAB_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if (cand / "MNIST").is_dir():
            return cand
    raise SystemExit("needs real MNIST in ../shared/data (or set UAELAB_SHARED_DATA)")


def prepare(workdir: Path, n: int, seed: int) -> None:
    """Train the dense 784-128-784 autoencoder briefly (released recipe: RMSprop 0.0025, MSE,
    batch 100; 2 epochs on 10k images here) and save it with the n test images."""
    import torch

    from uaelab.data import load_dataset
    from uaelab.models import DenseAE

    d = load_dataset("mnist", root=_data_root(), limit=10_000, test_limit=max(n, 100), seed=seed)
    torch.manual_seed(seed)
    ae = DenseAE((1, 28, 28), hidden=128)
    opt = torch.optim.RMSprop(ae.parameters(), lr=0.0025, alpha=0.9, eps=1e-7)
    g = torch.Generator().manual_seed(seed)
    for _ in range(2):
        for idx in torch.randperm(len(d.x_train), generator=g).split(100):
            opt.zero_grad()
            torch.nn.functional.mse_loss(ae(d.x_train[idx]), d.x_train[idx]).backward()
            opt.step()
    ae.eval()
    with torch.no_grad():
        mse = torch.nn.functional.mse_loss(ae(d.x_test), d.x_test).item()
    torch.save({"ae": ae.state_dict(), "x": d.x_test[:n].clone(), "mse": mse}, workdir / "setup.pt")


def run_case(case: str, workdir: Path, args) -> dict:
    """One measurement, in this (fresh) process."""
    import torch

    from uaelab.attacks import PGD, MinMax, MinMaxSettings
    from uaelab.attacks.pgd import PGDSettings
    from uaelab.criteria import reconstruction
    from uaelab.mine import MineSettings
    from uaelab.models import DenseAE

    if args.threads:
        torch.set_num_threads(args.threads)
    setup = torch.load(workdir / "setup.pt")
    ae = DenseAE((1, 28, 28), hidden=128)
    ae.load_state_dict(setup["ae"])
    ae.eval()
    x = setup["x"]
    released = MineSettings()  # K=500, m=128, hidden (512, 10), 20 steps, lr 1.5e-5
    out: dict = {"case": case, "torch_threads": torch.get_num_threads()}
    rss0 = _rss_kib("VmRSS")
    if case == "pgd":
        steps = 10
        att = PGD(ae, reconstruction(ae), PGDSettings(steps=steps, epsilon=1.0, random_start=False,
                                                      mi_eval_steps=0))
        att(x[:2])  # warm-up
        t = time.perf_counter()
        att(x)
        out["seconds_per_iteration"] = (time.perf_counter() - t) / steps
        out["batch"] = len(x)
        return out
    if case == "batched":
        att = MinMax(ae, reconstruction(ae), MinMaxSettings(T=args.T), mine=released, seed=args.seed)
        t = time.perf_counter()
        res = att(x, indices=torch.arange(len(x)))
        secs = time.perf_counter() - t
        out.update(samples=len(x), seconds=secs, samples_per_s=len(x) / secs,
                   seconds_per_iteration=secs / args.T)
    elif case == "single_ours":
        att = MinMax(ae, reconstruction(ae), MinMaxSettings(T=args.T), mine=released, seed=args.seed)
        parts, t = [], time.perf_counter()
        for i in range(args.single):
            parts.append(att(x[i:i + 1], indices=torch.tensor([i])))
        secs = time.perf_counter() - t
        out.update(samples=args.single, seconds=secs, samples_per_s=args.single / secs)
        res = type(parts[0]).cat(parts)
    elif case == "single_reference":
        mine = released.replace(projection="per_evaluation")
        att = MinMax(ae, reconstruction(ae), MinMaxSettings(T=args.ref_iters), mine=mine, seed=args.seed)
        t = time.perf_counter()
        res = att(x[:1], indices=torch.tensor([0]))
        secs = time.perf_counter() - t
        per_sample = secs * args.T / args.ref_iters  # extrapolated to T iterations
        out.update(samples=1, iterations_measured=args.ref_iters, seconds_measured=secs,
                   seconds_per_sample_extrapolated=per_sample, samples_per_s=1 / per_sample)
    else:
        raise SystemExit(f"unknown case {case}")
    peak = _rss_kib("VmHWM")
    out["peak_mem_mib_per_sample"] = (peak - rss0) / 1024 / out["samples"]
    out["peak_rss_mib"] = peak / 1024
    torch.save({"x_adv": res.x_adv, "success": res.success, "mi_best": res.mi_best,
                "history_mi": res.history["mi"]}, workdir / f"{case}.pt")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=64, help="samples in the batched run")
    p.add_argument("--T", type=int, default=40, help="attack iterations (released: 40)")
    p.add_argument("--single", type=int, default=2, help="samples attacked one at a time (ours)")
    p.add_argument("--ref-iters", type=int, default=2, help="iterations measured for the released way")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads per case (0: torch's default). On a shared, oversubscribed "
                        "CPU one thread is several times faster than two (OpenMP spinning)")
    p.add_argument("--out", default=str(HERE / "results" / "bench_attack.json"))
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case, Path(args.workdir), args)))
        return 0

    import torch

    load_before = _loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare(work, args.n, args.seed)
        ae_mse = torch.load(work / "setup.pt")["mse"]
        cases = {}
        for case in ("batched", "single_ours", "single_reference", "pgd"):
            cmd = [sys.executable, __file__, "--case", case, "--workdir", tmp, "--n", str(args.n),
                   "--T", str(args.T), "--single", str(args.single), "--ref-iters", str(args.ref_iters),
                   "--seed", str(args.seed), "--threads", str(args.threads)]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            if done.returncode:
                sys.stderr.write(done.stderr)
                return done.returncode
            cases[case] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{case}: {cases[case]}", flush=True)
        batched = torch.load(work / "batched.pt")
        single = torch.load(work / "single_ours.pt")
    k = args.single
    same = float((single["x_adv"] - batched["x_adv"][:k]).abs().max())
    mi = batched["mi_best"][batched["success"]]
    q = lambda t, v: float(torch.quantile(t, v)) if t.numel() else float("nan")
    b, s1, sr = cases["batched"], cases["single_ours"], cases["single_reference"]
    result = {
        "settings": {"sampler": "random", "K": 500, "m": 128, "hidden": [512, 10], "mine_steps": 20,
                     "T": args.T, "model": "dense 784-128-784 AE (RMSprop 0.0025, 2 epochs on 10k MNIST)",
                     "autoencoder_test_mse": ae_mse, "data": "MNIST test images", "n": args.n},
        "samples_per_s": {"batched": b["samples_per_s"], "one_at_a_time_reference": sr["samples_per_s"],
                          "one_at_a_time_our_policy": s1["samples_per_s"]},
        "speedup_batched_vs_reference": b["samples_per_s"] / sr["samples_per_s"],
        "speedup_batched_vs_single_our_policy": b["samples_per_s"] / s1["samples_per_s"],
        "speedup_policy_alone": s1["samples_per_s"] / sr["samples_per_s"],
        "minmax_iteration_over_pgd_iteration": b["seconds_per_iteration"] / cases["pgd"]["seconds_per_iteration"],
        "peak_mem_mib_per_sample": {c: cases[c]["peak_mem_mib_per_sample"]
                                    for c in ("batched", "single_ours", "single_reference")},
        "batched_success_rate": float(batched["success"].float().mean()),
        "batched_mi_best_quantiles": {"q10": q(mi, 0.1), "q50": q(mi, 0.5), "q90": q(mi, 0.9)},
        "single_vs_batched_max_abs_diff_x_adv": same,
        "cases": cases,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                    "loadavg_before": load_before, "loadavg_after": _loadavg()},
        "note": "single_reference is extrapolated from --ref-iters iterations; the CPU is shared, "
                "so the load average is recorded with the figures.",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "cases"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
