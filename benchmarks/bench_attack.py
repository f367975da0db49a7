"""Benchmark of the batched unsupervised MinMax attack at the released settings.

The issue-27 measurement, one command (about 5 minutes on 2 quiet cores)::

    .venv/bin/python benchmarks/bench_attack.py --baseline c61717a

runs the batched attack (random sampling, K = 500, m = 128, statistics network 512 -> 10,
20 MINE steps per iteration, T = 4) on a dense 784-128-784 autoencoder with 64 real MNIST
test images, at 1 and at 2 torch threads (``--threads 1,2``), each time alternating the package
as it was at the baseline commit (``git archive`` into a temporary folder) with the current code
``--reps`` times (default 3), every run in its own process. Per thread count it writes the
same-run speed-up (median of the pairs' ratios, wall and CPU time), the successes, MI quantiles
and max |Δx_adv| against the baseline, the roofline (the machine's sgemm GFLOP/s by torch's
default matmul and by oneDNN, and copy GB/s, measured in the same run before and after the
cases; the attack's counted FLOPs and bytes per sample, :func:`attack_cost`; the achieved share of
each) and the top five costs of one extra, profiled run of the current code (cProfile in every
thread, summed; not timed). It also checks that the current code's outputs are the same bits at
every thread count. Writes ``benchmarks/results/bench_attack.json`` (``--out``); the README's
performance block is generated from it by ``benchmarks/perf_block.py``.

Other cases (``--cases``, at each thread count, after the batched runs):

* ``single_reference``: the same attack one sample at a time as the released code does it
  (batch of 1, projection redrawn at every MINE step and gradient evaluation), ``--ref-iters``
  iterations on one sample extrapolated linearly to T;
* ``single_ours``: batch of 1 with this package's projection policy (drawn once per attack);
* ``pgd``: one PGD iteration on the same batch and model, for the time-per-iteration ratio.

    .venv/bin/python benchmarks/bench_attack.py --threads 1 --reps 1      # quick look, no baseline
    .venv/bin/python benchmarks/bench_attack.py --T 40 --cases batched,single_ours,single_reference,pgd

Benchmarks import the installed package (in a checkout other than the installed one, set
PYTHONPATH to it); the baseline's package is put first on sys.path of its runs.
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

from _common import loadavg

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _rss_kib(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _data_root() -> Path:
    from uaelab.data import shared_data_root

    root = shared_data_root()
    if root is None or not (root / "MNIST").is_dir():
        raise SystemExit("needs real MNIST in ../shared/data (or set UAELAB_SHARED_DATA)")
    return root


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
    """sgemm GFLOP/s (2048² float32, median of 5) by torch's default matmul (MKL) and by oneDNN
    (the projection's path; AVX-512 kernels where MKL takes its generic path) and copy GB/s
    (256 MB into a kept buffer, read + write bytes, median of 5) at this thread count: the
    roofline's ceilings."""
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
    out = {"sgemm_gflops_torch": 2 * 2048 ** 3 / median_s(lambda: a @ b) / 1e9,
           "copy_gbps": 2 * src.numel() * 4 / median_s(lambda: dst.copy_(src)) / 1e9,
           "threads": torch.get_num_threads()}
    try:
        lin = torch.ops.mkldnn._linear_pointwise
        out["sgemm_gflops_onednn"] = 2 * 2048 ** 3 / median_s(lambda: lin(a, b, None, "none", [], "")) / 1e9
    except (AttributeError, RuntimeError):
        out["sgemm_gflops_onednn"] = 0.0
    out["sgemm_gflops"] = max(out["sgemm_gflops_torch"], out["sgemm_gflops_onednn"])
    return out


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
    from uaelab.attacks.pgd import PGDSettings
    from uaelab.models import DenseAE

    try:
        from uaelab.attacks.criteria import reconstruction
        from uaelab.mi.mine import MineSettings
    except ImportError:  # a baseline from before the package's reorganisation (issue 26)
        from uaelab.criteria import reconstruction
        from uaelab.mine import MineSettings

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
        if args.profile:
            # warm-up on one sample and one thread: it starts no worker threads (the StatNets
            # blocks' and the projection's workers start in the profiled call, which profiles them)
            torch.set_num_threads(1)
            att(x[:1], indices=torch.arange(1))
            torch.set_num_threads(args.threads or out["torch_threads"])
            res, out["top_costs"], out["profiled_seconds"] = _profiled(lambda: att(x, indices=torch.arange(len(x))))
            torch.save({"x_adv": res.x_adv}, workdir / f"{args.tag}.pt")
            return out
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
    out["statnets_loop"] = _statnets_loop()
    peak = _rss_kib("VmHWM")
    out["peak_mem_mib_per_sample"] = (peak - rss0) / 1024 / out["samples"]
    out["peak_rss_mib"] = peak / 1024
    torch.save({"x_adv": res.x_adv, "success": res.success, "mi_best": res.mi_best,
                "history_mi": res.history["mi"]}, workdir / f"{args.tag or case}.pt")
    return out


def _statnets_loop() -> dict:
    """Which StatNets block loop this run's package used: the compiled one (uaelab/mi/native.py,
    with its compiler flags and build key) or the Python one (UAELAB_NATIVE=0, no compiler, or a
    baseline from before the compiled loop existed)."""
    import uaelab

    # the running package's own file: an editable install's import hook would otherwise hand a
    # baseline from before the compiled loop this checkout's uaelab.mi.native
    if not (Path(uaelab.__file__).parent / "mi" / "native.py").is_file():
        return {"loop": "python", "why": "the package predates the compiled loop"}
    from uaelab.mi import native
    if native.block_kernel() is None:
        return {"loop": "python", "why": f"{native.ENV}={native.mode()}"}
    return {"loop": "compiled", "source": "uaelab/mi/statnets_block.cpp", "cflags": native._cflags(),
            "build_key": native.build_key()}


# waiting for other threads, not work: left out of the top costs (their threads' work is in)
_WAITS = ("acquire' of '_thread.lock", "method 'wait'", "SimpleQueue", "threading.py", "_base.py", "thread.py")


def _profiled(fn):
    """``fn()`` under cProfile in this thread and in every thread started meanwhile (the
    StatNets block workers); returns (its result, the top five functions by own time summed over
    the threads, wall seconds). Shares are of the summed own time of all profiled functions."""
    import cProfile
    import pstats
    import threading

    profs = [cProfile.Profile()]

    def start_in_thread(*_):  # the first event of each new thread: give it its own profiler
        threading.setprofile(None)
        p = cProfile.Profile()
        profs.append(p)
        p.enable()

    threading.setprofile(start_in_thread)
    t = time.perf_counter()
    profs[0].enable()
    try:
        res = fn()
    finally:
        profs[0].disable()
        threading.setprofile(None)
    secs = time.perf_counter() - t
    stats = pstats.Stats(profs[0])
    for p in profs[1:]:
        p.disable()  # a no-op in threads other than its own; its data so far is kept
        stats.add(p)
    rows = []
    for (path, line, name), (_, calls, tottime, _, _) in stats.stats.items():
        label = f"{Path(path).name}:{line}({name})" if line else name
        rows.append((tottime, calls, label))
    total = sum(r[0] for r in rows if not any(w in r[2] for w in _WAITS))
    top = sorted((r for r in rows if not any(w in r[2] for w in _WAITS)), reverse=True)[:5]
    return res, [{"function": f, "own_seconds": round(tt, 4), "calls": c, "share": round(tt / total, 4)}
                 for tt, c, f in top], secs


def _quantiles(t) -> dict:
    import torch

    q = lambda v: float(torch.quantile(t, v)) if t.numel() else float("nan")
    return {"q10": q(0.1), "q50": q(0.5), "q90": q(0.9)}


def _median(v: list[float]) -> float:
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=64, help="samples in the batched run")
    p.add_argument("--T", type=int, default=4, help="attack iterations (released: 40)")
    p.add_argument("--single", type=int, default=2, help="samples attacked one at a time (ours)")
    p.add_argument("--ref-iters", type=int, default=2, help="iterations measured for the released way")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", default="1,2", help="comma-separated torch thread counts, each measured")
    p.add_argument("--cases", default="batched",
                   help="comma-separated cases: batched (always), single_ours, single_reference, pgd")
    p.add_argument("--baseline", help="a commit: also run the batched case with the package at "
                                      "that commit, alternating with the current code")
    p.add_argument("--reps", type=int, default=3, help="alternations of baseline and current")
    p.add_argument("--no-profile", action="store_true", help="skip the profiled run")
    p.add_argument("--out", default=str(HERE / "results" / "bench_attack.json"))
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    p.add_argument("--code-root", help=argparse.SUPPRESS)
    p.add_argument("--tag", help=argparse.SUPPRESS)
    p.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.case:
        args.threads = int(args.threads)
        print(json.dumps(run_case(args.case, Path(args.workdir), args)))
        return 0

    import torch

    threads = [int(t) for t in args.threads.split(",")]
    load_before = loadavg()
    extra = [c for c in ("single_ours", "single_reference", "pgd") if c in args.cases.split(",")]

    def run(case: str, workdir: str, nthreads: int, code_root: str = "", tag: str = "",
            profile: bool = False) -> dict:
        cmd = [sys.executable, __file__, "--case", case, "--workdir", workdir, "--n", str(args.n),
               "--T", str(args.T), "--single", str(args.single), "--ref-iters", str(args.ref_iters),
               "--seed", str(args.seed), "--threads", str(nthreads)]
        cmd += ["--code-root", code_root] if code_root else []
        cmd += ["--tag", tag] if tag else []
        cmd += ["--profile"] if profile else []
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if done.returncode:
            sys.stderr.write(done.stderr)
            raise SystemExit(f"{tag or case} failed")
        out = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{tag or case}: {json.dumps(out)[:300]}", flush=True)
        return out

    per_thread: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare(work, args.n, args.seed)
        ae_mse = torch.load(work / "setup.pt")["mse"]
        base_root = str(baseline_code(args.baseline, Path(tempfile.mkdtemp(dir=tmp)))) if args.baseline else ""
        outputs = {}
        for nt in threads:
            peaks_before = machine_peaks(nt)
            print(f"{nt} thread(s), machine: {peaks_before}", flush=True)
            runs: dict[str, list] = {"baseline": [], "current": []}
            for r in range(args.reps):  # alternate, so that load changes hit both alike
                for kind, root in (("baseline", base_root), ("current", "")):
                    if kind == "current" or args.baseline:
                        runs[kind].append(run("batched", tmp, nt, root, f"batched_{kind}_{nt}t_{r}"))
            cases = {c: run(c, tmp, nt, tag=f"{c}_{nt}t") for c in extra}
            prof = None if args.no_profile else run("batched", tmp, nt, tag=f"profile_{nt}t", profile=True)
            peaks_after = machine_peaks(nt)
            cur = torch.load(work / f"batched_current_{nt}t_0.pt")
            outputs[nt] = cur
            entry = _summary(args, runs, cur, torch.load(work / f"batched_baseline_{nt}t_0.pt")
                             if args.baseline else None, peaks_before, peaks_after)
            if prof is not None:
                entry["top_costs_current"] = prof["top_costs"]
                entry["profiled_seconds_current"] = prof["profiled_seconds"]
            if extra:
                entry["cases"] = _extra_cases(args, cases, runs["current"][0], work, nt)
            per_thread[str(nt)] = entry
    first = outputs[threads[0]]
    same = {str(nt): {k: bool(torch.equal(first[k].nan_to_num(), outputs[nt][k].nan_to_num()))
                      for k in ("x_adv", "success", "mi_best", "history_mi")} for nt in threads[1:]}
    result = {
        "command": "python benchmarks/bench_attack.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "settings": {"sampler": "random", "K": 500, "m": 128, "hidden": [512, 10], "mine_steps": 20,
                     "T": args.T, "model": "dense 784-128-784 AE (RMSprop 0.0025, 2 epochs on 10k MNIST)",
                     "autoencoder_test_mse": ae_mse, "data": "MNIST test images", "n": args.n,
                     "reps": args.reps, "baseline_commit": args.baseline},
        "threads": per_thread,
        f"bit_identical_to_{threads[0]}_thread": same,
        "cuda": "no GPU was lent to this run; CPU only" if not torch.cuda.is_available() else
                "a GPU is present; this script measures the CPU path only",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                    "loadavg_before": load_before, "loadavg_after": loadavg()},
        "note": "the CPU may be shared: the load average is recorded with every run, and the speed-ups "
                "are medians of same-run pairs",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    for nt, e in per_thread.items():
        r, vb = e["roofline"], e.get("vs_baseline", {})
        print(f"{nt} thread(s): {e['samples_per_s']:.2f} samples/s"
              + (f", {vb['speedup']:.2f}x {args.baseline} (pairs {[round(v, 2) for v in vb['speedup_per_pair']]}), "
                 f"successes {vb['successes']}, max|dx| {vb['max_abs_diff_x_adv']:.1e}" if vb else "")
              + f"; roofline {100 * r['share_of_sgemm_peak']:.0f}% of {r['sgemm_gflops']:.0f} GFLOP/s, "
                f"{100 * r['share_of_copy_bandwidth']:.0f}% of {r['copy_gbps']:.0f} GB/s")
        for c in e.get("top_costs_current", []):
            print(f"    {100 * c['share']:5.1f}%  {c['function']}")
    print(f"bit-identical across threads: {same}")
    return 0


def _summary(args, runs: dict, cur: dict, base: dict | None, before: dict, after: dict) -> dict:
    """One thread count's figures: rates, same-run ratios, result differences, roofline."""
    entry: dict = {"samples_per_s": _median([r["samples_per_s"] for r in runs["current"]]),
                   "statnets_loop": {k: runs[k][0].get("statnets_loop") for k in runs if runs[k]},
                   "success_rate": float(cur["success"].float().mean()),
                   "mi_best_quantiles": _quantiles(cur["mi_best"][cur["success"]])}
    if base is not None:
        # each alternation is a pair of neighbouring runs: its ratio is what load drifts spare
        pairs = list(zip(runs["baseline"], runs["current"]))
        ratios = [c["samples_per_s"] / b["samples_per_s"] for b, c in pairs]
        cpu_ratios = [c["samples_per_cpu_s"] / b["samples_per_cpu_s"] for b, c in pairs]
        mi_new, mi_old = (_quantiles(r["mi_best"][r["success"]]) for r in (cur, base))
        entry["vs_baseline"] = {
            "samples_per_s": {k: _median([r["samples_per_s"] for r in runs[k]]) for k in runs},
            "speedup": _median(ratios), "speedup_per_pair": ratios,
            "speedup_cpu_time": _median(cpu_ratios), "speedup_cpu_time_per_pair": cpu_ratios,
            "successes": {"baseline": int(base["success"].sum()), "current": int(cur["success"].sum())},
            "same_success_mask": bool((base["success"] == cur["success"]).all()),
            "mi_best_quantiles": {"baseline": mi_old, "current": mi_new},
            "mi_quantile_rel_diff": {q: abs(mi_new[q] - mi_old[q]) / abs(mi_old[q]) for q in mi_old},
            "max_abs_diff_x_adv": float((cur["x_adv"] - base["x_adv"]).abs().max()),
            "loadavg_per_run": {k: [r["loadavg"] for r in runs[k]] for k in runs},
        }
    # the ceilings measured before and after the cases; the higher one (less disturbed by other
    # processes) is the machine's
    peaks = {k: max(before[k], after[k]) for k in ("sgemm_gflops", "sgemm_gflops_torch", "sgemm_gflops_onednn",
                                                   "copy_gbps")}
    cost = attack_cost(d=784, K=500, m=128, hidden=(512, 10), steps=20, T=args.T, batch=args.n)
    sps = entry["samples_per_s"]
    gflops, gbps = cost["flops_per_sample"] * sps / 1e9, cost["bytes_per_sample"] * sps / 1e9
    entry["roofline"] = {
        **peaks, **cost, "measured_before": before, "measured_after": after,
        "achieved_gflops": gflops, "achieved_gbps": gbps,
        "share_of_sgemm_peak": gflops / peaks["sgemm_gflops"],
        "share_of_copy_bandwidth": gbps / peaks["copy_gbps"],
        "roofline_samples_per_s": 1 / max(cost["flops_per_sample"] / (peaks["sgemm_gflops"] * 1e9),
                                          cost["bytes_per_sample"] / (peaks["copy_gbps"] * 1e9)),
    }
    entry["runs"] = runs
    return entry


def _extra_cases(args, cases: dict, batched: dict, work: Path, nt: int) -> dict:
    """The one-at-a-time and PGD cases next to the (first current) batched run."""
    import torch

    out: dict = {"cases": cases}
    if "single_ours" in cases:
        single, full = torch.load(work / f"single_ours_{nt}t.pt"), torch.load(work / f"batched_current_{nt}t_0.pt")
        out["speedup_batched_vs_single_our_policy"] = batched["samples_per_s"] / cases["single_ours"]["samples_per_s"]
        out["single_vs_batched_max_abs_diff_x_adv"] = float((single["x_adv"] - full["x_adv"][:args.single])
                                                            .abs().max())
    if "single_reference" in cases:
        out["speedup_batched_vs_reference"] = batched["samples_per_s"] / cases["single_reference"]["samples_per_s"]
    if "pgd" in cases:
        out["minmax_iteration_over_pgd_iteration"] = (batched["seconds_per_iteration"]
                                                      / cases["pgd"]["seconds_per_iteration"])
    return out


if __name__ == "__main__":
    raise SystemExit(main())
