"""Micro-benchmark: the layout and product order of every hot matmul of per-sample MINE.

At the released settings (B = 64 samples, so 2B = 128 branch networks, K = 500 pairs,
m = 128 inputs per pair vector, hidden 512 -> H = 10) one Adam step of the statistics networks
is five batched products, each with one side of width H = 10, plus the shuffle of the
marginal and the elementwise Adam update. The same product can be asked of the BLAS in
several ways (which operand is transposed, which one is stored contiguously); on CPU their
speed differs by up to 3x. This script times every way of each product, interleaved
(round-robin over the variants, median of --reps), and prints and writes GFLOP/s per way, so
that the choice in :class:`uaelab.mi.mine.StatNets` is a measured one. It also times the
random sampler's pieces (projection matmul, variance) and the shuffle/unshuffle.

    .venv/bin/python benchmarks/bench_statnets_layout.py --threads 1
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


def loadavg() -> list[float]:
    try:
        return [float(v) for v in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []


def interleaved(variants: dict, reps: int) -> dict:
    """Median seconds of each variant, timed round-robin so that load changes hit all alike."""
    for f in variants.values():  # warm-up (allocator, BLAS dispatch)
        f()
        f()
    times = {k: [] for k in variants}
    for _ in range(reps):
        for k, f in variants.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: sorted(v)[len(v) // 2] for k, v in times.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--B", type=int, default=64)
    p.add_argument("--K", type=int, default=500)
    p.add_argument("--m", type=int, default=128)
    p.add_argument("--n1", type=int, default=512)
    p.add_argument("--H", type=int, default=10)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(HERE / "results" / "bench_statnets_layout.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    B2, K, n, N1, H = 2 * args.B, args.K, args.m, args.n1, args.H
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g)
    ab = r(B2, K, n)  # the pair vectors as the sampler returns them
    abT = ab.transpose(1, 2).contiguous()  # K axis last
    W1, W2 = r(B2, n, N1), r(B2, N1, H)
    W1T, W2T = W1.transpose(1, 2).contiguous(), W2.transpose(1, 2).contiguous()
    M, dh, dM = r(B2, n, H), r(B2, K, H), r(B2, n, H)
    MT, dhT, dMT = M.transpose(1, 2).contiguous(), dh.transpose(1, 2).contiguous(), dM.transpose(1, 2).contiguous()
    o_nN1, o_N1n = torch.empty(B2, n, N1), torch.empty(B2, N1, n)
    t = lambda x: x.transpose(1, 2)
    # each product: {way: fn}; names say what is stored contiguously ("^T" = a transposed view)
    products = {
        "forward h = ab·M  [K,n]x[n,H]": (K * n * H, {
            "bmm(ab, M)  (legacy)": lambda: torch.bmm(ab, M),
            "bmm(ab, MT^T) -> [K,H]": lambda: torch.bmm(ab, t(MT)),
            "bmm(MT, ab^T) -> [H,K]": lambda: torch.bmm(MT, t(ab)),
            "bmm(MT, abT) -> [H,K], abT stored": lambda: torch.bmm(MT, abT),
        }),
        "gradient dM = ab^T·dh  [n,K]x[K,H]": (K * n * H, {
            "bmm(ab^T, dh)  (legacy)": lambda: torch.bmm(t(ab), dh),
            "bmm(dhT, ab) -> dM^T": lambda: torch.bmm(dhT, ab),
            "bmm(dh^T, ab) -> dM^T": lambda: torch.bmm(t(dh), ab),
            "bmm(abT, dh)": lambda: torch.bmm(abT, dh),
            "bmm(abT, dhT^T)": lambda: torch.bmm(abT, t(dhT)),
        }),
        "fold M = W1·W2  [n,N1]x[N1,H]": (n * N1 * H, {
            "bmm(W1, W2)  (legacy)": lambda: torch.bmm(W1, W2),
            "bmm(W2T, W1^T) -> M^T": lambda: torch.bmm(W2T, t(W1)),
            "bmm(W2^T, W1^T) -> M^T": lambda: torch.bmm(t(W2), t(W1)),
            "bmm(W1, W2T^T)": lambda: torch.bmm(W1, t(W2T)),
            "bmm(W2T, W1T) -> M^T, W1T stored": lambda: torch.bmm(W2T, W1T),
        }),
        "gradient dW2 = W1^T·dM  [N1,n]x[n,H]": (n * N1 * H, {
            "bmm(W1^T, dM)  (legacy)": lambda: torch.bmm(t(W1), dM),
            "bmm(dMT, W1) -> dW2^T": lambda: torch.bmm(dMT, W1),
            "bmm(W1T, dM), W1T stored": lambda: torch.bmm(W1T, dM),
            "bmm(dMT, W1T^T) -> dW2^T, W1T stored": lambda: torch.bmm(dMT, t(W1T)),
        }),
        "gradient dW1 = dM·W2^T  [n,H]x[H,N1]": (n * N1 * H, {
            "bmm(dM, W2^T, out)  (legacy)": lambda: torch.bmm(dM, t(W2), out=o_nN1),
            "bmm(dMT^T, W2T, out)": lambda: torch.bmm(t(dMT), W2T, out=o_nN1),
            "bmm(dM, W2T, out)": lambda: torch.bmm(dM, W2T, out=o_nN1),
            "bmm(W2, dMT, out) -> dW1^T, W1T stored": lambda: torch.bmm(W2, dMT, out=o_N1n),
        }),
    }
    B = args.B
    dhb, MbT = r(B, K, H), r(B, H, n)
    products["input gradient dI/db = dh_b·M_b^T  [K,H]x[H,n]"] = (K * n * H / 2, {
        "bmm(dh_b, M_b^T view)  (legacy)": lambda: torch.bmm(dhb, t(MbT.transpose(1, 2).contiguous())),
        "bmm(dh_bT^T view, MT_b)": lambda: torch.bmm(t(dhb.transpose(1, 2).contiguous()), MbT),
        "bmm(dh_b, MT_b), dh_b made contiguous": lambda: torch.bmm(dhb, MbT),
    })
    # dW1 followed by its Adam update, whole or a few networks at a time (StatNets._adam_fast)
    m1, m2, step = torch.zeros_like(W1), torch.zeros_like(W1), [torch.ones(())]
    adam = dict(lr=1e-5, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-7, amsgrad=False, maximize=False)

    def dw1_adam(c: int):
        buf = torch.empty(min(c, B2), n, N1)

        def f():
            for i in range(0, B2, c):
                g_ = torch.bmm(t(dMT[i:i + c]), W2T[i:i + c], out=buf[:min(c, B2 - i)])
                torch._fused_adam_([W1[i:i + c]], [g_], [m1[i:i + c]], [m2[i:i + c]], [], step, **adam)
        return f
    adam_ways = {f"dW1 then Adam, {c} networks at a time" + ("  (legacy: all)" if c == B2 else ""): dw1_adam(c)
                 for c in (B2, 16, 4)}
    perm = torch.stack([torch.randperm(K, generator=g) for _ in range(B)])
    inv = torch.argsort(perm, 1)
    hb, hbT = dh[B:], dhT[B:].contiguous()
    idx_kh = perm.unsqueeze(-1).expand(B, K, H)
    idx_hk = perm.unsqueeze(1).expand(B, H, K)
    inv_hk = inv.unsqueeze(1).expand(B, H, K)
    shuffles = {
        "shuffle gather dim K of [B,K,H]  (legacy)": lambda: torch.gather(hb, 1, idx_kh),
        "shuffle gather dim K of [B,H,K]": lambda: torch.gather(hbT, 2, idx_hk),
        "unshuffle scatter_add [B,K,H]  (legacy)": lambda: hb.scatter_add(1, idx_kh, hb),
        "unshuffle gather by inverse perm [B,H,K] + add": lambda: hbT + torch.gather(hbT, 2, inv_hk),
    }
    d = 784
    P = r(d, K * n)
    x = torch.rand(args.B, d, generator=g)
    zb = torch.empty(args.B, K * n)
    z = r(args.B, K, n)
    sampler = {
        "projection x·P (fresh output)  (legacy)": lambda: x @ P,
        "projection x·P into a kept buffer": lambda: torch.mm(x, P, out=zb),
        "input gradient dz·P^T": lambda: zb @ P.t(),
        "variance: torch.var  (legacy)": lambda: z.var(-1, unbiased=False, keepdim=True),
        "variance: mean of centred squares": lambda: (z - z.mean(-1, keepdim=True)).square_().mean(-1, keepdim=True),
        "variance: centred dot product (vecdot)":
            lambda: (lambda c: torch.linalg.vecdot(c, c) / n)(z - z.mean(-1, keepdim=True)),
    }
    sgemm_a, sgemm_b = r(2048, 2048), r(2048, 2048)
    load0 = loadavg()
    result = {"shape": {"2B": B2, "K": K, "m": n, "N1": N1, "H": H}, "threads": torch.get_num_threads(),
              "reps": args.reps, "products": {}}
    for name, (mnk, ways) in products.items():
        secs = interleaved(ways, args.reps)
        result["products"][name] = {w: {"ms": s * 1e3, "gflops": 2 * B2 * mnk / s / 1e9} for w, s in secs.items()}
    result["shuffle_ms"] = {k: v * 1e3 for k, v in interleaved(shuffles, args.reps).items()}
    result["dW1_adam_ms"] = {k: v * 1e3 for k, v in interleaved(adam_ways, args.reps).items()}
    sm = interleaved(sampler, max(3, args.reps // 3))
    result["sampler"] = {k: {"ms": v * 1e3} for k, v in sm.items()}
    for k in result["sampler"]:
        if k.startswith("projection") or k.startswith("input"):
            result["sampler"][k]["gflops"] = 2 * args.B * d * K * n / sm[k] / 1e9
    sg = interleaved({"sgemm": lambda: sgemm_a @ sgemm_b}, 5)["sgemm"]
    result["sgemm_2048_gflops"] = 2 * 2048 ** 3 / sg / 1e9
    result["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                         "loadavg_before": load0, "loadavg_after": loadavg()}
    for name, ways in result["products"].items():
        print(name)
        for w, v in ways.items():
            print(f"  {w:45s} {v['ms']:7.2f} ms  {v['gflops']:6.1f} GFLOP/s")
    for k, v in {**result["shuffle_ms"], **result["dW1_adam_ms"]}.items():
        print(f"{k:47s} {v:7.2f} ms")
    for k, v in result["sampler"].items():
        print(f"{k:47s} {v['ms']:7.2f} ms" + (f"  {v['gflops']:6.1f} GFLOP/s" if "gflops" in v else ""))
    print(f"sgemm 2048: {result['sgemm_2048_gflops']:.1f} GFLOP/s; load {load0} -> {loadavg()}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
