"""Known-MI benchmark: ``uaelab.mi.mine.estimate_mi`` and torch-mist's MINE, SMILE and InfoNCE on
the same pairs, in one run (tasks and closed forms: :mod:`uaelab.mi.tasks`).

Ours runs in this process. torch-mist (0.2.17, a benchmark-only extra) runs at the same time in
a subprocess of its own venv (``make mi-bench-venv`` makes ``.venv-mist``) on the pairs saved to
a temporary file: each task's pairs are split in halves, the first half trains (torch-mist keeps
10% of it to early-stop on), the second half evaluates, the same 50/50 split ours makes
internally; torch-mist gets the pairs standardised (mean 0, std 1), ours gets them raw.
Every process uses one torch thread. Writes ``benchmarks/results/bench_mi.json`` (rows,
acceptance verdicts, machine, load average) and ``bench_mi.png`` and prints the table.

    .venv/bin/python benchmarks/bench_mi.py                 # full suite, 8000 pairs, 5 seeds
    .venv/bin/python benchmarks/bench_mi.py --quick         # 4 tasks, 2 seeds
    .venv/bin/python benchmarks/bench_mi.py --before e9378b3  # also estimate_mi as of that commit
"""
from __future__ import annotations

import argparse
import importlib.util
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

from _common import loadavg


def estimator_at(rev: str):
    """``estimate_mi`` as committed at ``rev`` (its mine.py loaded as a module of uaelab)."""
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:uaelab/mi/mine.py"], check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "mine_before.py"
    path.write_text(src)
    import uaelab.mi.mine  # noqa: F401  (registers the current MineSettings first)
    from uaelab.config import COMPONENTS

    spec = importlib.util.spec_from_file_location("uaelab._mine_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # relative imports (.config, .utils) resolve inside uaelab
    current = COMPONENTS.pop("mine")  # the old module registers its own MineSettings: keep ours
    try:
        spec.loader.exec_module(mod)
    finally:
        COMPONENTS["mine"] = current
    return mod.estimate_mi


def mist_jobs(tasks, n: int, seeds, path: Path) -> None:
    import torch

    def std(v):
        return (v - v.mean(0)) / v.std(0).clamp_min(1e-12)

    jobs = []
    for seed in seeds:  # seed-major: a run stopped early has every task for its first seeds
        for task in tasks:
            a, b = task.sample(n, seed)
            a, b, h = std(a), std(b), n // 2
            jobs.append({"key": f"{task.name}|{seed}", "seed": seed, "a_train": a[:h], "b_train": b[:h],
                         "a_eval": a[h:], "b_eval": b[h:]})
    torch.save(jobs, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="the 4-task subset (uaelab.mi.tasks.QUICK), 2 seeds")
    p.add_argument("--n", type=int, default=8000, help="pairs per task")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--mist-python", default=str(REPO / ".venv-mist" / "bin" / "python"))
    p.add_argument("--mist-iterations", type=int, default=2000)
    p.add_argument("--mist-timeout", type=float, metavar="S",
                   help="stop torch-mist S seconds after the start and keep the jobs it finished "
                        "(seed-major order: every task for the first seeds); info.torch_mist_seeds says which")
    p.add_argument("--no-mist", action="store_true")
    p.add_argument("--no-ours", action="store_true", help="skip the current estimate_mi (e.g. with --before)")
    p.add_argument("--before", metavar="REV", help="also run estimate_mi as of this git revision")
    p.add_argument("--previous", metavar="JSON",
                   help="an earlier bench_mi.json (e.g. `git show REV:benchmarks/results/bench_mi.json > f`): "
                        "its 'ours' seconds per estimate and median |error| go into info.previous")
    p.add_argument("--only", metavar="TEXT", help="only the tasks whose name contains TEXT")
    p.add_argument("--update", action="store_true",
                   help="replace the rows this run makes in the existing --out file (the rest stays)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(HERE / "results" / "bench_mi.json"))
    args = p.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import torch

    from uaelab.experiments.mi_benchmark import figure, run_ours, summary, verdicts, wide
    from uaelab.mi.tasks import QUICK, SUITE

    torch.set_num_threads(args.threads)
    tasks = [t for t in (QUICK if args.quick else SUITE) if not args.only or args.only in t.name]
    if not tasks:
        raise SystemExit(f"no task name contains {args.only!r}")
    seeds = list(range(2 if args.quick else args.seeds))
    info = {"tasks": [t.name for t in tasks], "n": args.n, "seeds": seeds, "threads": args.threads,
            "machine": platform.node(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "loadavg_start": loadavg()}
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp())
    mist = None
    if not args.no_mist:
        if not Path(args.mist_python).exists():
            info["torch_mist_error"] = f"{args.mist_python} missing: run `make mi-bench-venv` first"
        else:
            mist_jobs(tasks, args.n, seeds, tmp / "jobs.pt")
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONPATH="")
            mist = subprocess.Popen(
                [args.mist_python, str(HERE / "mist_runner.py"), str(tmp / "jobs.pt"), str(tmp / "mist.json"),
                 "--max-iterations", str(args.mist_iterations)],
                env=env, stdout=open(tmp / "mist.log", "w"), stderr=subprocess.STDOUT)
    rows = [] if args.no_ours else run_ours(tasks, args.n, seeds)
    for r in rows:
        print(f"{r['task']:36s} seed {r['seed']}  truth {r['truth']:.3f}  ours {r['estimate']:.3f}"
              f"  {r['seconds']:.1f}s", flush=True)
    if args.before:
        before = run_ours(tasks, args.n, seeds, estimator=estimator_at(args.before))
        rows += [dict(r, estimator=f"ours before ({args.before})") for r in before]
        info["before"] = args.before
    if mist is not None:
        try:
            mist.wait(timeout=None if args.mist_timeout is None else
                      max(1.0, args.mist_timeout - (time.perf_counter() - t0)))
        except subprocess.TimeoutExpired:  # keep the jobs it finished (it writes after each)
            mist.kill()
            mist.wait()
            info["torch_mist_stopped"] = f"stopped after --mist-timeout {args.mist_timeout:g}s"
        out = tmp / "mist.json"
        if not out.exists() or (mist.returncode != 0 and "torch_mist_stopped" not in info):
            info["torch_mist_error"] = (tmp / "mist.log").read_text()[-3000:]
        else:
            res = json.loads(out.read_text())
            info["torch_mist"] = res["torch_mist"]
            info["torch_mist_seeds"] = sorted({int(r["key"].split("|")[1]) for r in res["rows"]})
            truth = {r["task"]: r for r in rows}
            for r in res["rows"]:
                task, seed = r["key"].split("|")
                base = truth[task]
                rows.append({**{k: base[k] for k in ("task", "family", "d", "truth")}, "seed": int(seed),
                             "estimator": r["estimator"], "estimate": r["estimate"], "seconds": r["seconds"]})
    info["wall_seconds"] = time.perf_counter() - t0
    ours = [r["seconds"] for r in rows if r["estimator"] == "ours"]
    if ours:
        info["ours_seconds_per_estimate"] = sum(ours) / len(ours)
    if args.previous:
        prev = json.loads(Path(args.previous).read_text())
        secs = [r["seconds"] for r in prev["rows"] if r["estimator"] == "ours"]
        info["previous"] = {"file": args.previous, "seeds": prev["info"]["seeds"],
                            "ours_seconds_per_estimate": sum(secs) / len(secs),
                            "loadavg_start": prev["info"].get("loadavg_start"),
                            "verdicts": prev["verdicts"]}
    info["loadavg_end"] = loadavg()
    if args.update:  # keep the other rows and the first run's info; log this run under "updates"
        old = json.loads(Path(args.out).read_text())
        made = {(r["task"], r["estimator"]) for r in rows}
        rows = [r for r in old["rows"] if (r["task"], r["estimator"]) not in made] + rows
        place = {t: i for i, t in enumerate(old["info"]["tasks"])}
        rows.sort(key=lambda r: place.get(r["task"], len(place)))  # the suite's order (stable)
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        info = dict(old["info"], updates=old["info"].get("updates", []) + [dict(info, commit=commit)])
    summ = summary(rows)
    verdict = {} if args.no_ours else verdicts(summ)
    table = wide(summ)
    print(table.to_markdown())
    print(json.dumps(verdict, indent=1))
    if "torch_mist_error" in info:
        print("torch-mist did not run:", info["torch_mist_error"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"info": info, "verdicts": verdict, "rows": rows}, indent=1))
    figure(summ).savefig(out.with_suffix(".png"), dpi=120, bbox_inches="tight", metadata={"Software": None})
    print(f"wrote {out} and {out.with_suffix('.png')}; this run took {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
