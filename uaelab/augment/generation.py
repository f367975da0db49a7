"""``uaelab generate``: UAEs for a whole dataset split, resumable, on one or many processes.

    uaelab generate --data mnist --data-root ~/data --split train --checkpoint conv.pt \\
        --method mine-uae --profile paper --out uaes/mnist-conv --batch-size 256

    torchrun --nproc-per-node 2 -m uaelab generate ...   # the same, split over 2 processes

The checkpoint is one written by :mod:`uaelab.models.checkpoint` (its model settings travel with it;
its input shape must match the data). The results folder holds ``manifest.json`` and shards
(see :mod:`uaelab.augment.store`); read it back with :func:`uaelab.augment.store.read_results`,
:func:`~uaelab.augment.store.load_adversarial` or :func:`~uaelab.augment.store.augmented_dataset`.

Interrupt it at any time (even ``kill -9``) and rerun the same command: finished shards are
kept, the rest is computed, and the result equals an uninterrupted run bit for bit (CPU). A
folder made with other settings or data is refused.

Under torchrun (``WORLD_SIZE`` > 1) every rank takes shards round-robin, ``gloo`` on CPU and
``nccl`` on CUDA; rank 0 finalises the manifest after a barrier. A sample's result does not
depend on which batch or process computed it, so N processes give the same output as one.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from uaelab import plugins
from uaelab.attacks import METHODS, PRESETS, attack_config, make_attack
from uaelab.augment import store
from uaelab.data import CSV_OPTIONS, DATASETS, NAN_POLICIES, NON_NUMERIC, load_dataset
from uaelab.models import checkpoint
from uaelab.utils import seed_everything


def parse_indices(text: str) -> list[int]:
    """``"0,5,7-20"`` -> [0, 5, 7, 8, ..., 20] (ranges inclusive). Bad text -> ValueError."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise ValueError(f"--indices: cannot read {part!r}; use e.g. 0,5,7-20 (non-negative, ranges inclusive)")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if b < a:
            raise ValueError(f"--indices: range {part!r} runs backwards; write it as {b}-{a}")
        out.extend(range(a, b + 1))
    return out


def build_parser() -> argparse.ArgumentParser:
    # built on each call from the registries, so attacks and datasets registered later show up,
    # with those of the installed plugins (entry points, uaelab.plugins)
    for group in plugins.GROUPS:
        plugins.load_plugins(group)
    components = list(dict.fromkeys(m.component for m in METHODS.values()))
    p = argparse.ArgumentParser(
        prog="uaelab generate",
        description="Generate adversarial examples for a dataset split into resumable shards "
                    "(rerun the same command to continue; torchrun --nproc-per-node N -m uaelab generate ... "
                    "to use N processes).",
    )
    p.add_argument("--data", required=True, help=f"dataset name ({', '.join(DATASETS)}) or a CSV path")
    p.add_argument("--data-root", default=None, help="folder with the dataset files ($UAELAB_DATA by default)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the dataset's split/subsets (default 0)")
    csv = p.add_argument_group("CSV data (uaelab.data.load_dataset options)")
    csv.add_argument("--label-column", default=None, help="label column name or index (default: the last column)")
    csv.add_argument("--drop-columns", default=None, metavar="COL[,COL...]", help="columns to leave out, e.g. IDs")
    csv.add_argument("--non-numeric", choices=NON_NUMERIC, default="error",
                     help="text feature columns: error (default), drop, or onehot (one 0/1 column per value)")
    csv.add_argument("--nan-policy", choices=NAN_POLICIES, default="error",
                     help="missing values: error (default), drop (those rows), or impute-mean")
    p.add_argument("--split", choices=("train", "test"), default="train", help="which split to attack")
    p.add_argument("--checkpoint", required=True,
                   help="model checkpoint saved by uaelab (uaelab.models.checkpoint.save)")
    p.add_argument("--method", required=True, choices=list(METHODS),
                   help="; ".join(f"{k}: {v.help}" for k, v in METHODS.items()))
    p.add_argument("--profile", default=None, help="settings profile: quick or paper ($UAELAB_PROFILE, default quick)")
    p.add_argument("--preset", choices=list(PRESETS), default="paper",
                   help="paper (default: the paper's text) or reference_code: the released code's choices "
                        "(c0=1e-3, summed squares, lowest-f fallback, Glorot-uniform delta0, projection "
                        "redrawn per evaluation)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="COMP.FIELD=VALUE",
                   help="override one attack setting, e.g. --set minmax.T=20 or --set mine.estimator=closed-form "
                        f"(components: mine and the method's own: {', '.join(components)}; repeatable)")
    p.add_argument("--out", required=True, help="results folder (created; rerun with the same --out to resume)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available); under torchrun "
                   "each rank uses cuda:LOCAL_RANK")
    p.add_argument("--batch-size", type=int, default=64, help="samples per attack call and per shard file (64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the attack's random streams (0)")
    sub = p.add_mutually_exclusive_group()
    sub.add_argument("--limit", type=int, default=None, help="attack only the first N samples of the split")
    sub.add_argument("--indices", default=None, help="attack only these sample indices, e.g. 0,5,7-20")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _dist_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment variables (1 process otherwise)."""
    ws = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), ws, int(os.environ.get("LOCAL_RANK", "0"))


def _device(arg: str | None, world_size: int, local_rank: int) -> torch.device:
    name = arg or ("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu")
        if world_size > 1:  # one GPU per rank
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device(name)
    if name != "cpu":
        raise ValueError(f"--device must be cpu or cuda, got {name!r}")
    return torch.device("cpu")


def _select(args: argparse.Namespace, n: int) -> Any:
    if args.limit is not None:
        if args.limit < 1:
            raise ValueError(f"--limit must be at least 1, got {args.limit}")
        return torch.arange(min(args.limit, n))
    if args.indices is not None:
        return parse_indices(args.indices)
    return None


def csv_options(args: argparse.Namespace) -> dict[str, Any]:
    """The CSV options of the command line as load_dataset keywords."""
    drop = tuple(c.strip() for c in args.drop_columns.split(",") if c.strip()) if args.drop_columns else ()
    return {"label_column": args.label_column, "drop_columns": drop, "non_numeric": args.non_numeric,
            "nan_policy": args.nan_policy}


def prepare(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Load data, checkpoint and attack; return the arguments of :func:`uaelab.augment.store.generate_to_dir`."""
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    store.check_out_dir(args.out, create=False)  # fail before the slow loading
    if not Path(args.checkpoint).is_file():
        raise ValueError(f"no checkpoint at {args.checkpoint}; train a model first (uaelab.models.zoo.get_model writes "
                         "one) and pass its path with --checkpoint")
    csv = csv_options(args)
    data = load_dataset(args.data, root=args.data_root, seed=args.data_seed, **csv)
    x = data.x_train if args.split == "train" else data.x_test
    y = data.y_train if args.split == "train" else data.y_test
    model, meta = checkpoint.load(args.checkpoint, expected_in_shape=data.sample_shape, map_location=device)
    seed_everything(args.seed)
    attack = make_attack(args.method, model, profile=args.profile, overrides=list(args.overrides), seed=args.seed,
                         preset=args.preset)
    config = {
        "method": args.method,
        "preset": args.preset,
        "attack": attack_config(attack),
        "seed": args.seed,
        # CSV options only when set, so folders made before they existed still resume
        "data": {"name": data.name, "split": args.split, "seed": args.data_seed,
                 **{k: v for k, v in csv.items() if v != CSV_OPTIONS[k]}},
        "checkpoint_fingerprint": meta["state_hash"],
        "checkpoint_kind": meta["kind"],
        "device_type": device.type,  # CPU and GPU kernels round differently: do not mix them in one folder
    }
    return dict(attack=attack, x=x, y=y if METHODS[args.method].supervised else None, indices=_select(args, x.shape[0]),
                batch_size=args.batch_size, config=config, data_fingerprint=data.fingerprint())


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``uaelab generate`` (``uaelab.cli`` prints a ValueError as one line, exit 2)."""
    args = build_parser().parse_args(argv)
    rank, world_size, local_rank = _dist_env()
    device = _device(args.device, world_size, local_rank)
    if world_size > 1:  # under torchrun
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", device_id=device if
                                device.type == "cuda" else None)
    try:
        kw = prepare(args, device)
        out = store.generate_to_dir(out_dir=args.out, rank=rank, world_size=world_size,
                                    progress=not args.no_progress, **kw)
        if rank == 0:  # the manifest's summary: reading all shards back would cost memory ~ dataset size
            m = store.read_manifest(out)
            print(f"uaelab generate: {m['n_samples']} samples, success rate {m['success_rate']:.4f}, "
                  f"results in {out}")
    except KeyboardInterrupt:  # finished shards are safe on disk
        print(f"\nuaelab generate: interrupted; rerun the same command to continue in {args.out}", file=sys.stderr)
        return 130
    finally:
        if world_size > 1:
            dist.destroy_process_group()
    return 0
