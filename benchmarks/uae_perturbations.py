"""How far the stored UAEs of a Table 4 run are from their originals (success rate, L∞, L2).

Reads every UAE folder of one autoencoder kind in a uaelab cache (as written by
``benchmarks/real_table4.py``), tells the δ0 start of each from its manifest, and writes
``results/real/table4_<dataset>_<kind>_perturbations.md``:

    UAELAB_CACHE=/tmp/uaelab_real .venv/bin/python benchmarks/uae_perturbations.py --kind dense
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--train", type=int, default=5000, help="the --train of the real_table4.py run")
    p.add_argument("--test", type=int, default=2000, help="the --test of the real_table4.py run")
    p.add_argument("--kind", default="dense")
    p.add_argument("--out", default=str(REPO / "results" / "real"))
    a = p.parse_args(argv)

    import pandas as pd

    from uaelab.augment.store import load_adversarial, read_manifest
    from uaelab.data import load_dataset
    from uaelab.utils import cache_dir

    x = load_dataset(a.dataset, root=a.root, limit=a.train, test_limit=a.test, seed=0).x_train
    rows = []
    for folder in sorted(cache_dir("uaes").glob(f"{a.kind}-*")):
        manifest = json.dumps(read_manifest(folder), default=str)
        idx, x_adv, success = load_adversarial(folder)
        if len(idx) != len(x) or x_adv.shape[1:] != x.shape[1:]:
            continue  # another subset or dataset in the same cache
        d = (x_adv - x[idx]).flatten(1)
        ok = success.bool()
        linf, l2 = d.abs().max(1).values, d.norm(dim=1)
        method = folder.name[len(a.kind) + 1:].rsplit("-", 1)[0]
        start = ("glorot" if '"delta_init": "glorot"' in manifest else "zero") if "uae" in method else "-"
        rows.append({"folder": folder.name, "method": method, "delta_init": start,
                     "asr": float(ok.float().mean()),
                     "success L∞ (mean)": float(linf[ok].mean()) if ok.any() else float("nan"),
                     "success L2 (mean)": float(l2[ok].mean()) if ok.any() else float("nan"),
                     "all L∞ (mean)": float(linf.mean())})
    if not rows:
        raise SystemExit(f"no {a.kind} UAE folders for this subset under {cache_dir('uaes')} "
                         f"(UAELAB_CACHE={os.environ.get('UAELAB_CACHE')}); run real_table4.py first")
    # The same GA run appears once per attack_set in the cache (its key includes it): show it once.
    df = pd.DataFrame(rows).drop_duplicates(subset=["method", "delta_init", "asr", "all L∞ (mean)"])
    out = Path(a.out) / f"table4_{a.dataset}_{a.kind}_perturbations.md"
    out.write_text(df.to_markdown(index=False, floatfmt=".4g") + "\n")
    print(df.to_markdown(index=False, floatfmt=".4g"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
