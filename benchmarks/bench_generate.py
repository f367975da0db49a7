"""Benchmark of ``uaelab generate``: samples/s and peak memory, 1 vs 2 processes, 1k vs 10k samples.

    .venv/bin/python benchmarks/bench_generate.py            # writes benchmarks/results/generate.json
    .venv/bin/python benchmarks/bench_generate.py --device cuda --batches 256,1024,4096   # on a GPU

Needs real MNIST (../shared/data or $UAELAB_SHARED_DATA); exits with a message otherwise.

What it runs (every run is a fresh process, so its peak RSS is its own):

* Throughput: MINE-UAE at the released settings (``--profile paper``: T=40 iterations, 20 MINE
  steps per iteration, K=500 random projections of dimension 128, lr 1.5e-5, ε=1, κ=0)
  against the released dense autoencoder 784-128-784, on the first ``--samples`` MNIST training
  images (a reduced count: the full 60k would take hours on a CPU), with 1 process (torch's default
  threads, and 1 thread) and with ``torchrun --nproc-per-node 2`` (1 thread each, torchrun's
  default). samples/s counts the generation loop only (data loading and
  start-up are reported separately as wall time).
* Memory: peak RSS with 1k and with 10k samples. To keep the 10k run short on a CPU it uses
  the same attack and model but ``--set minmax.T=1 --set mine.steps=1`` (see MEM_OVERRIDES):
  the per-batch working set is the same kind of tensors, only fewer iterations. Peak RSS
  before generation (data + model loaded) is reported too, so the growth is visible.

The dense autoencoder is trained by uaelab.models.zoo with the released recipe (RMSprop 0.0025, MSE,
batch 100) but 2 epochs instead of 20: the attack's cost does not depend on how well the
model is trained, only its success rate does.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

MEM_OVERRIDES = ["minmax.T=1", "mine.steps=1"]


def shared_mnist_root() -> Path | None:
    env = os.environ.get("UAELAB_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if (cand / "MNIST" / "raw").is_dir():
            return cand
    return None


# -- worker: one process of a run (plain or under torchrun) --------------------------------
def worker(report: str, argv: list[str]) -> int:
    """Run ``uaelab generate argv`` in this process and write timing + peak RSS to report.<rank>.json."""
    from uaelab.augment import generation as generate
    from uaelab.augment import store

    inner = store.generate_to_dir
    info: dict = {}

    def timed(*a, **kw):
        info["rss_before_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        out = inner(*a, **kw)
        info["gen_seconds"] = time.perf_counter() - t0
        chunks = store.plan_shards(store.normalize_indices(kw.get("indices"), kw["x"].shape[0]),
                                   kw.get("shard_size") or kw["batch_size"])
        info["rank_samples"] = sum(c.numel() for c in store.rank_shards(chunks, kw["rank"], kw["world_size"]))
        return out

    store.generate_to_dir = timed
    t0 = time.perf_counter()
    rc = generate.main(argv)
    info.update(rc=rc, wall_seconds=time.perf_counter() - t0,
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                rank=int(os.environ.get("RANK", "0")), threads=__import__("torch").get_num_threads())
    Path(f"{report}.{info['rank']}.json").write_text(json.dumps(info))
    return rc


# -- driver ---------------------------------------------------------------------------------
def run(nproc: int, gen_args: list[str], tmp: Path, tag: str, threads: int | None = None) -> dict:
    report = tmp / f"report-{tag}"
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    me = [str(Path(__file__).resolve()), "--worker", str(report), "--"]
    if nproc == 1:
        cmd = [sys.executable, *me, *gen_args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
               "--master-port", str(29500 + os.getpid() % 1000), *me, *gen_args]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO, env=env)
    wall = time.perf_counter() - t0
    ranks = [json.loads(Path(f"{report}.{r}.json").read_text()) for r in range(nproc)]
    n = sum(r["rank_samples"] for r in ranks)
    gen = max(r["gen_seconds"] for r in ranks)  # the slowest rank decides
    return {"processes": nproc, "samples": n, "gen_seconds": round(gen, 2), "samples_per_s": round(n / gen, 3),
            "wall_seconds": round(wall, 2),
            "peak_rss_mb_per_process": [round(r["peak_rss_mb"], 1) for r in ranks],
            "rss_before_generation_mb": [round(r["rss_before_mb"], 1) for r in ranks],
            "threads_per_process": ranks[0]["threads"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=16, help="samples for the throughput runs (default 16)")
    ap.add_argument("--batch-size", type=int, default=8,
                    help="batch size of the CPU runs (default 8: 2 shards for 2 processes)")
    ap.add_argument("--mem-samples", default="1000,10000", help="sample counts of the memory runs")
    ap.add_argument("--mem-batch-size", type=int, default=100, help="batch size of the memory runs")
    ap.add_argument("--configs", default="1:auto,1:1,2:1",
                    help="throughput runs as processes:threads-per-process (auto = torch's default, "
                         "torchrun's default for 2+ processes is 1 thread)")
    ap.add_argument("--merge", action="store_true", help="add to the runs already in --out instead of replacing it")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batches", default=None, help="GPU: batch sizes to time with 1 process, e.g. 256,1024,4096")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: throughput,memory")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "generate.json"))
    args = ap.parse_args()

    root = shared_mnist_root()
    if root is None:
        print("bench_generate: skipped, needs real MNIST in ../shared/data (or set UAELAB_SHARED_DATA)")
        return 0
    import torch
    from tabulate import tabulate

    from uaelab import __version__
    from uaelab.data import load_dataset
    from uaelab.models import zoo
    from uaelab.models.train import recipe_settings

    data = load_dataset("mnist", root=root)
    settings = recipe_settings("dense", "paper", epochs=2)
    zoo.get_model("dense", data, settings=settings, progress=False)
    ckpt = zoo.model_path("dense", data, settings=settings)
    common = ["--data", "mnist", "--data-root", str(root), "--split", "train", "--checkpoint", str(ckpt),
              "--method", "mine-uae", "--profile", "paper", "--device", args.device, "--no-progress"]
    rows, results = [], {"uaelab_version": __version__, "torch_version": torch.__version__,
                         "cpu_count": os.cpu_count(), "device": args.device,
                         "model": "dense AE 784-128-784 (released recipe, 2 epochs)",
                         "attack": "mine-uae, profile paper (T=40, 20 MINE steps/iter, K=500, m=128)",
                         "runs": []}
    skip = set(filter(None, args.skip.split(",")))
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        plans = []
        if "throughput" not in skip:
            if args.batches:
                for b in map(int, args.batches.split(",")):
                    plans.append(("throughput", 1, None, args.samples, b, []))
            else:
                for spec in args.configs.split(","):
                    nproc, threads = spec.split(":")
                    plans.append(("throughput", int(nproc), None if threads == "auto" else int(threads),
                                  args.samples, args.batch_size, []))
        if "memory" not in skip:
            for n in map(int, args.mem_samples.split(",")):
                plans.append(("memory", 1, None, n, args.mem_batch_size, MEM_OVERRIDES))
        for i, (kind, nproc, threads, n, b, sets) in enumerate(plans):
            out = tmp / f"out-{i}"
            extra = ["--limit", str(n), "--batch-size", str(b), "--out", str(out)]
            for s in sets:
                extra += ["--set", s]
            load = os.getloadavg()[0]
            res = {"part": kind, "batch_size": b, "overrides": sets, **run(nproc, common + extra, tmp, str(i), threads)}
            res["load_average_1min_before_after"] = [round(load, 1), round(os.getloadavg()[0], 1)]
            man = json.loads((out / "manifest.json").read_text())
            res["success_rate"] = round(man["success_rate"], 4)
            results["runs"].append(res)
            rows.append([kind, nproc, res["threads_per_process"], res["samples"], b, " ".join(sets) or "-",
                         res["samples_per_s"], res["gen_seconds"], max(res["peak_rss_mb_per_process"]),
                         max(res["rss_before_generation_mb"]), res["success_rate"]])
            print(f"  done: {rows[-1]}", flush=True)
    if args.merge and Path(args.out).is_file():
        def key(r):
            return (r["part"], r["processes"], r["threads_per_process"], r["samples"], r["batch_size"], r["overrides"])
        new = {key(r) for r in results["runs"]}
        old = json.loads(Path(args.out).read_text())["runs"]
        results["runs"] = [r for r in old if key(r) not in new] + results["runs"]
    tp = [r for r in results["runs"] if r["part"] == "throughput"]
    if tp:
        best = max(r["samples_per_s"] for r in tp)
        results["projected_minutes_60k_mnist"] = round(60000 / best / 60, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(tabulate(rows, headers=["part", "procs", "threads", "samples", "batch", "--set", "samples/s", "gen s",
                                  "peak RSS MB", "RSS before gen MB", "success"]))
    if tp:
        print(f"projected time for 60k MNIST at the best rate: {results['projected_minutes_60k_mnist']} min")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        rest = sys.argv[3:]
        raise SystemExit(worker(sys.argv[2], rest[1:] if rest[:1] == ["--"] else rest))
    raise SystemExit(main())
