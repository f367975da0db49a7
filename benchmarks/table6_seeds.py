"""Table 6 over several model seeds: is MINE-UAE's gain over Duplicate larger than seed noise?

Reads the ``table6_<dataset>_summary.csv`` files that ``real_table6.py --model-seed K --out
DIR/model_seedK`` wrote for each K, and writes ``DIR/table6_seeds.md``: per seed the error and
accuracy of Original, MINE-UAE and Duplicate, then per dataset the mean ± std over seeds of
MINE-UAE − Duplicate (error: negative = MINE-UAE better; accuracy: positive = better).

    .venv/bin/python benchmarks/table6_seeds.py --dir results/real/archive/table6_seeds
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default=str(REPO / "results" / "real" / "archive" / "table6_seeds"))
    a = p.parse_args(argv)

    import pandas as pd

    base = Path(a.dir)
    frames = []
    for seed_dir in sorted(base.glob("model_seed*")):
        for f in sorted(seed_dir.glob("table6_*_summary.csv")):
            if f.name.endswith("_steps_summary.csv"):
                continue  # an equal-steps run answers another question
            df = pd.read_csv(f)
            df["model_seed"] = int(seed_dir.name.removeprefix("model_seed"))
            frames.append(df)
    if not frames:
        print(f"no model_seed*/table6_*_summary.csv under {base}; run real_table6.py --model-seed K first",
              file=sys.stderr)
        return 1
    runs = pd.concat(frames)
    dup = runs.duplicated(subset=["dataset", "model_seed", "method"])
    assert not dup.any(), f"two summaries for the same run: {runs[dup]}"
    per_seed = runs.pivot_table(index=["dataset", "model_seed"], columns="method", values=["error", "accuracy"])
    per_seed.columns = [f"{m} {metric}" for metric, m in per_seed.columns]
    cols = [f"{m} {metric}" for metric in ("error", "accuracy") for m in ("Original", "MINE-UAE", "Duplicate")]
    per_seed = per_seed[cols]
    gap = pd.DataFrame({
        "error: MINE-UAE − Duplicate": per_seed["MINE-UAE error"] - per_seed["Duplicate error"],
        "accuracy: MINE-UAE − Duplicate": per_seed["MINE-UAE accuracy"] - per_seed["Duplicate accuracy"],
        "accuracy: Duplicate − Original": per_seed["Duplicate accuracy"] - per_seed["Original accuracy"],
    })
    agg = gap.groupby("dataset").agg(["mean", "std", "count"])
    agg.columns = [f"{c} ({s})" for c, s in agg.columns]
    text = ("Per model seed (error: per-pixel test MSE; accuracy: Extra-Trees on the 50 selected features)\n\n"
            + per_seed.to_markdown(floatfmt=".4f") + "\n\nMINE-UAE against Duplicate over model seeds\n\n"
            + agg.T.to_markdown(floatfmt=".4f") + "\n")
    (base / "table6_seeds.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
