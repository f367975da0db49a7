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

Roofline (same run): the machine's sgemm GFLOP/s (2048², this thread count) and copy GB/s,
the attack's counted matmul FLOPs and DRAM bytes per sample (:func:`attack_cost`), and the
share of each peak that the batched run achieves.

``--baseline COMMIT`` also runs the batched case with the package as it was at COMMIT
(``git archive`` into a temporary folder), alternating with the current code ``--reps``
times, and reports the same-run speedup (medians) and how far the results moved (success
count, MI quantiles, max |Δx_adv|).

    .venv/bin/python benchmarks/bench_attack.py            # defaults: 64 samples
    .venv/bin/python benchmarks/bench_attack.py --n 32 --ref-iters 1 --single 1
    .venv/bin/python benchmarks/bench_attack.py --threads 1   # on a busy shared CPU
    .venv/bin/python benchmarks/bench_attack.py --threads 1 --cases batched,pgd --baseline e9378b3 --reps 2
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
sys.path.insert(0, str(HERE))

from _common import loadavg  # noqa: E402


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


def machine_peaks(threads: int) -> dict:
    """sgemm GFLOP/s (2048² float32, median of 5) and copy GB/s (256 MB into a kept buffer,
    read + write bytes, median of 5) at this thread count: the roofline's two ceilings."""
    import torch

    if threads:
        torch.set_num_threads(threads)

    def median_s(f, reps=5):
        f()
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        return sorted(ts)[len(ts) // 2]

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    src = torch.ones(64 << 20)
    dst = torch.empty_like(src)
    return {"sgemm_gflops": 2 * 2048 ** 3 / median_s(lambda: a @ b) / 1e9,
            "copy_gbps": 2 * src.numel() * 4 / median_s(lambda: dst.copy_(src)) / 1e9,
            "threads": torch.get_num_threads()}


def attack_cost(*, d: int, K: int, m: int, hidden, steps: int, T: int, batch: int) -> dict:
    """Counted work of one sample's unsupervised MinMax attack (random sampler, fast path).

    FLOPs: the matmuls only (2 per multiply-add); elementwise work is < 2% of them.
    Per MINE Adam step, each of the 2 branch networks: fold Mᵀ = W2ᵀW1ᵀ, forward Mᵀ·abᵀ,
    dMᵀ = dhᵀ·ab, dW2ᵀ = dMᵀ·W1, dW1 = dM·W2ᵀ (H·N1 for db1 is negligible). Per evaluation
    of I with its input gradient: fold + forward for both branches and dI/db = dh·Mᵀ for b.
    Per attack iteration: the sampler's projection x·P and its input gradient dz·Pᵀ.
    The attack runs T + 1 evaluations (t = 0..T), each after ``steps`` Adam steps, and T
    projection gradients.

    Bytes: the DRAM traffic if every large tensor is streamed once per use and nothing
    stays in cache between uses (a floor for this algorithm): per step the parameters and
    the two Adam moments read and written (6 × 4 bytes per parameter), W1 read by the fold
    and by dW2, and the pairs read by the forward and by dM; per evaluation W1 and the pairs
    read once and dI/db written; per iteration the projection P read twice (shared by the
    batch, so divided by ``batch``) and the [K, m] vectors written and read a few times.
    """
    N1, H = hidden
    f32 = 4
    step = 2 * 2 * (H * N1 * m + H * m * K + H * K * m + H * m * N1 + m * H * N1)
    value = 2 * 2 * (H * N1 * m + H * m * K) + 2 * K * H * m
    sampler_fwd, sampler_bwd = 2 * d * K * m, 2 * K * m * d
    flops = (T + 1) * (steps * step + value + sampler_fwd) + T * sampler_bwd
    params = 2 * (m * N1 + N1 + N1 * H + H) + H
    w1, pairs = 2 * m * N1, 2 * K * m
    step_b = f32 * (6 * params + 2 * w1 + 2 * pairs)
    value_b = f32 * (w1 + pairs + K * m)
    sampler_b = f32 * (2 * d * K * m / batch + 4 * K * m)
    nbytes = (T + 1) * (steps * step_b + value_b + sampler_b)
    return {"flops_per_sample": flops, "bytes_per_sample": nbytes,
            "flops_share": {"mine_steps": (T + 1) * steps * step / flops,
                            "mine_value": (T + 1) * value / flops,
                            "projection": ((T + 1) * sampler_fwd + T * sampler_bwd) / flops}}


def baseline_code(commit: str, dest: Path) -> Path:
    """The package as it was at ``commit``, extracted (no worktree) into dest/uaelab."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "uaelab"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def run_case(case: str, workdir: Path, args) -> dict:
    """One measurement, in this (fresh) process."""
    if args.code_root:  # the baseline's package instead of this checkout's
        sys.path.insert(0, args.code_root)
    import torch

    from uaelab.attacks import PGD, MinMax, MinMaxSettings
    from uaelab.attacks.criteria import reconstruction
    from uaelab.attacks.pgd import PGDSettings
    from uaelab.mi.mine import MineSettings
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
        stamps: list[float] = []  # end of every iteration, for the per-iteration time
        att = MinMax(ae, reconstruction(ae), MinMaxSettings(T=args.T), mine=released, seed=args.seed,
                     callback=lambda _: stamps.append(time.perf_counter()))
        t, cpu = time.perf_counter(), time.process_time()
        res = att(x, indices=torch.arange(len(x)))
        secs, cpu = time.perf_counter() - t, time.process_time() - cpu
        its = sorted(b - a for a, b in zip(stamps, stamps[1:]))
        out.update(samples=len(x), seconds=secs, samples_per_s=len(x) / secs,
                   seconds_per_iteration=secs / args.T, code=args.code_root or "current",
                   # CPU seconds: on a shared, oversubscribed CPU the wall time also counts
                   # the time slices other processes took; the CPU time does not
                   cpu_seconds=cpu, samples_per_cpu_s=len(x) / cpu,
                   seconds_until_first_iteration_done=stamps[0] - t,
                   median_seconds_per_iteration=its[len(its) // 2] if its else float("nan"),
                   loadavg=loadavg())
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
                "history_mi": res.history["mi"]}, workdir / f"{args.tag or case}.pt")
    return out


def _quantiles(t) -> dict:
    import torch

    q = lambda v: float(torch.quantile(t, v)) if t.numel() else float("nan")
    return {"q10": q(0.1), "q50": q(0.5), "q90": q(0.9)}


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
    p.add_argument("--cases", default="batched,single_ours,single_reference,pgd",
                   help="comma-separated cases to run (batched is always run)")
    p.add_argument("--baseline", help="a commit: also run the batched case with the package at "
                                      "that commit, alternating with the current code")
    p.add_argument("--reps", type=int, default=1, help="alternations of baseline and current")
    p.add_argument("--out", default=str(HERE / "results" / "bench_attack.json"))
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    p.add_argument("--code-root", help=argparse.SUPPRESS)
    p.add_argument("--tag", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case, Path(args.workdir), args)))
        return 0

    import torch

    load_before = loadavg()
    peaks = machine_peaks(args.threads)
    print(f"machine: {peaks}", flush=True)
    wanted = ["batched"] + [c for c in ("single_ours", "single_reference", "pgd")
                            if c in args.cases.split(",")]

    def run(case: str, workdir: str, code_root: str = "", tag: str = "") -> dict | None:
        cmd = [sys.executable, __file__, "--case", case, "--workdir", workdir, "--n", str(args.n),
               "--T", str(args.T), "--single", str(args.single), "--ref-iters", str(args.ref_iters),
               "--seed", str(args.seed), "--threads", str(args.threads)]
        cmd += ["--code-root", code_root] if code_root else []
        cmd += ["--tag", tag] if tag else []
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if done.returncode:
            sys.stderr.write(done.stderr)
            return None
        out = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{tag or case}: {out}", flush=True)
        return out

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare(work, args.n, args.seed)
        ae_mse = torch.load(work / "setup.pt")["mse"]
        cases, runs = {}, {"baseline": [], "current": []}
        if args.baseline:
            base_root = baseline_code(args.baseline, Path(tempfile.mkdtemp(dir=tmp)))
            for r in range(args.reps):  # alternate, so that load changes hit both alike
                for kind, root in (("baseline", str(base_root)), ("current", "")):
                    out = run("batched", tmp, root, f"batched_{kind}_{r}")
                    if out is None:
                        return 1
                    runs[kind].append(out)
            cases["batched"] = runs["current"][0]
            (work / "batched_current_0.pt").rename(work / "batched.pt")
        for case in wanted:
            if case not in cases:
                out = run(case, tmp)
                if out is None:
                    return 1
                cases[case] = out
        batched = torch.load(work / "batched.pt")
        single = torch.load(work / "single_ours.pt") if "single_ours" in cases else None
        base = torch.load(work / "batched_baseline_0.pt") if args.baseline else None
    b = cases["batched"]
    # the ceilings measured before and after the cases; the higher one (less disturbed by other
    # processes) is the machine's
    after = machine_peaks(args.threads)
    peaks = {"sgemm_gflops": max(peaks["sgemm_gflops"], after["sgemm_gflops"]),
             "copy_gbps": max(peaks["copy_gbps"], after["copy_gbps"]), "threads": peaks["threads"],
             "measured_before": peaks, "measured_after": after}
    result = {
        "settings": {"sampler": "random", "K": 500, "m": 128, "hidden": [512, 10], "mine_steps": 20,
                     "T": args.T, "model": "dense 784-128-784 AE (RMSprop 0.0025, 2 epochs on 10k MNIST)",
                     "autoencoder_test_mse": ae_mse, "data": "MNIST test images", "n": args.n},
        "samples_per_s": {"batched": b["samples_per_s"]},
    }
    if single is not None:
        k = args.single
        s1 = cases["single_ours"]
        result["samples_per_s"]["one_at_a_time_our_policy"] = s1["samples_per_s"]
        result["speedup_batched_vs_single_our_policy"] = b["samples_per_s"] / s1["samples_per_s"]
        result["single_vs_batched_max_abs_diff_x_adv"] = float((single["x_adv"] - batched["x_adv"][:k]).abs().max())
    if "single_reference" in cases:
        sr = cases["single_reference"]
        result["samples_per_s"]["one_at_a_time_reference"] = sr["samples_per_s"]
        result["speedup_batched_vs_reference"] = b["samples_per_s"] / sr["samples_per_s"]
        if "single_ours" in cases:
            result["speedup_policy_alone"] = cases["single_ours"]["samples_per_s"] / sr["samples_per_s"]
    if "pgd" in cases:
        pgd_s = cases["pgd"]["seconds_per_iteration"]
        result["minmax_iteration_over_pgd_iteration"] = b["seconds_per_iteration"] / pgd_s
    result["peak_mem_mib_per_sample"] = {c: cases[c]["peak_mem_mib_per_sample"] for c in cases
                                         if "peak_mem_mib_per_sample" in cases[c]}
    result["batched_success_rate"] = float(batched["success"].float().mean())
    result["batched_mi_best_quantiles"] = _quantiles(batched["mi_best"][batched["success"]])
    if args.baseline:
        median = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else sum(sorted(v)[len(v) // 2 - 1:][:2]) / 2
        # each alternation is a pair of neighbouring runs: its ratio is what load drifts spare
        pairs = list(zip(runs["baseline"], runs["current"]))
        ratios = [c["samples_per_s"] / b["samples_per_s"] for b, c in pairs]
        cpu_ratios = [c["samples_per_cpu_s"] / b["samples_per_cpu_s"] for b, c in pairs]
        it_ratios = [b["median_seconds_per_iteration"] / c["median_seconds_per_iteration"] for b, c in pairs]
        mi_new, mi_old = (_quantiles(r["mi_best"][r["success"]]) for r in (batched, base))
        result["vs_baseline"] = {
            "baseline_commit": args.baseline, "reps": args.reps, "threads": b["torch_threads"],
            "samples_per_s": {k: median([r["samples_per_s"] for r in runs[k]]) for k in runs},
            "speedup": median(ratios), "speedup_per_pair": ratios,
            "samples_per_cpu_s": {k: median([r["samples_per_cpu_s"] for r in runs[k]]) for k in runs},
            "speedup_cpu_time": median(cpu_ratios), "speedup_cpu_time_per_pair": cpu_ratios,
            "median_seconds_per_iteration": {k: median([r["median_seconds_per_iteration"] for r in runs[k]])
                                             for k in runs},
            "speedup_per_iteration": median(it_ratios), "speedup_per_iteration_per_pair": it_ratios,
            "loadavg_per_run": {k: [r["loadavg"] for r in runs[k]] for k in runs},
            "successes": {"baseline": int(base["success"].sum()), "current": int(batched["success"].sum())},
            "mi_best_quantiles": {"baseline": mi_old, "current": mi_new},
            "mi_quantile_rel_diff": {q: abs(mi_new[q] - mi_old[q]) / abs(mi_old[q]) for q in mi_old},
            "max_abs_diff_x_adv": float((batched["x_adv"] - base["x_adv"]).abs().max()),
            "runs": runs,
        }
    cost = attack_cost(d=784, K=500, m=128, hidden=(512, 10), steps=20, T=args.T, batch=args.n)
    # the achieved rate: the median current run when there were several
    sps = result["vs_baseline"]["samples_per_s"]["current"] if args.baseline else b["samples_per_s"]
    achieved_gflops = cost["flops_per_sample"] * sps / 1e9
    achieved_gbps = cost["bytes_per_sample"] * sps / 1e9
    result["roofline"] = {
        **peaks, **cost,
        "achieved_gflops": achieved_gflops, "achieved_gbps": achieved_gbps,
        "share_of_sgemm_peak": achieved_gflops / peaks["sgemm_gflops"],
        "share_of_copy_bandwidth": achieved_gbps / peaks["copy_gbps"],
        "samples_per_s": sps,
        "roofline_samples_per_s": 1 / max(cost["flops_per_sample"] / (peaks["sgemm_gflops"] * 1e9),
                                          cost["bytes_per_sample"] / (peaks["copy_gbps"] * 1e9)),
    }
    result["cuda"] = ("no GPU was available to this run" if not torch.cuda.is_available() else
                      "a GPU is present; this script measures the CPU path only")
    result["cases"] = cases
    result["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                         "cuda": torch.cuda.is_available(),
                         "loadavg_before": load_before, "loadavg_after": loadavg()}
    result["note"] = ("single_reference is extrapolated from --ref-iters iterations; the CPU is shared, "
                      "so the load average is recorded with the figures.")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("cases",)}, indent=2, default=str)
          .replace('"runs"', '"runs (see JSON)"')[:6000])
    r = result["roofline"]
    print(f"roofline: {r['achieved_gflops']:.1f} of {r['sgemm_gflops']:.0f} GFLOP/s "
          f"({100 * r['share_of_sgemm_peak']:.0f}%), {r['achieved_gbps']:.1f} of {r['copy_gbps']:.0f} GB/s "
          f"({100 * r['share_of_copy_bandwidth']:.0f}%); bound {r['roofline_samples_per_s']:.2f} samples/s, "
          f"achieved {sps:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
