"""Writing UAEs to disk in resumable shards, and reading them back.

A results directory holds ``manifest.json`` and ``shard-<first>-<last>.pt`` files. Each shard is a
``torch.save``d dict with one row per sample::

    indices  int64 [n]        dataset indices, ascending
    x_adv    float32 [n, ...] the returned iterate (in [0, 1], same shape as the input samples)
    success  bool [n]         attack success per sample
    mi_best  float32 [n]      best (kept) MI estimate
    mi_final float32 [n]      MI estimate at the last iteration
    c        float32 [n]      final penalty weight c
    f        float32 [n]      attack criterion f at the returned iterate

Why shards: a killed run loses at most the shard in progress. Shards are written to a temporary
name and renamed (``os.replace``), so a file that exists is complete. The shard layout is a fixed
function of the requested indices and ``shard_size`` (never of what was already done), and the
attack is called with the dataset indices so every sample has its own random stream. A resumed
run therefore computes exactly the batches an uninterrupted run computes, bit for bit.

Ranks (torchrun) take shards round-robin: shard ``k`` belongs to rank ``k % world_size``. The
shard files do not name the rank, so a directory can be resumed with any number of processes.
"""
from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from uaelab import __version__
from uaelab.utils import atomic_write_bytes, fingerprint, model_device, writable

MANIFEST = "manifest.json"
FORMAT = "uaelab-uae-shards/1"
FIELDS = ("indices", "x_adv", "success", "mi_best", "mi_final", "c", "f")
STAT_FIELDS = ("success", "mi_best", "mi_final", "c", "f")


# -- layout ---------------------------------------------------------------------------------
def plan_shards(indices: torch.Tensor, shard_size: int) -> list[torch.Tensor]:
    """Split sorted unique ``indices`` into consecutive chunks of ``shard_size`` (last may be shorter)."""
    assert indices.dim() == 1 and shard_size > 0
    return list(torch.split(indices, shard_size))


def shard_name(chunk: torch.Tensor) -> str:
    """File name of a shard: its first and last dataset index (unique because chunks never overlap)."""
    return f"shard-{int(chunk[0]):09d}-{int(chunk[-1]):09d}.pt"


def rank_shards(chunks: list[torch.Tensor], rank: int, world_size: int) -> list[torch.Tensor]:
    """The chunks rank ``rank`` computes: round-robin, so ranks get equal work and 1 == N processes."""
    return chunks[rank::world_size]


def _ranges(indices: torch.Tensor) -> list[list[int]]:
    """Compress sorted indices to half-open [start, stop) runs for the manifest."""
    runs: list[list[int]] = []
    for i in indices.tolist():
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    return runs


def _expand(runs: list[list[int]]) -> torch.Tensor:
    parts = [torch.arange(a, b, dtype=torch.int64) for a, b in runs]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64)


def normalize_indices(indices: Any, n: int) -> torch.Tensor:
    """Sorted unique int64 indices in [0, n); ``None`` means all of them. Bad input -> ValueError."""
    if indices is None:
        return torch.arange(n, dtype=torch.int64)
    idx = torch.as_tensor(indices).cpu()
    if idx.numel() == 0:
        raise ValueError("indices is empty; give at least one sample index")
    if idx.dim() != 1 or idx.is_floating_point() or idx.dtype == torch.bool:
        raise ValueError(f"indices must be a 1-d integer sequence, got shape {tuple(idx.shape)} dtype {idx.dtype}")
    idx = idx.to(torch.int64)
    if idx.min() < 0 or idx.max() >= n:
        raise ValueError(f"indices must lie in [0, {n - 1}] for a dataset of {n} samples, "
                         f"got range [{int(idx.min())}, {int(idx.max())}]")
    uniq = torch.unique(idx)  # sorted
    if uniq.numel() != idx.numel():
        raise ValueError("indices contains duplicates; give each sample index once")
    return uniq


# -- the output directory -------------------------------------------------------------------
# store is called from Python (out_dir=...) and by `uaelab generate` (--out): errors name both
ANOTHER_OUT = "choose another out_dir (uaelab generate: --out)"


def check_out_dir(out_dir: Path | str, create: bool = True) -> Path:
    """Create ``out_dir`` if needed; ValueError if it is a file, not writable, or a foreign folder.

    ``create=False`` only checks what can be checked without creating anything (a quick early test).
    """
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise ValueError(f"output directory {str(path)!r} exists and is a file; {ANOTHER_OUT}")
    if not create:
        probe = next((p for p in [path, *path.parents] if p.exists()), None)
        if probe is not None and not writable(probe):
            raise ValueError(f"output directory {str(path)!r} is not writable ({str(probe)!r} is not); fix its "
                             f"permissions or {ANOTHER_OUT}")
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create output directory {str(path)!r} ({exc.strerror}); {ANOTHER_OUT}") from None
    if not writable(path):  # honours the permission bits even for root
        raise ValueError(f"output directory {str(path)!r} is not writable; fix its permissions or {ANOTHER_OUT}")
    visible = [p.name for p in path.iterdir() if not p.name.startswith(".")]
    if visible and MANIFEST not in visible:
        raise ValueError(
            f"output directory {str(path)!r} is not empty and holds no {MANIFEST} (so it was not made by "
            f"uaelab generate); choose an empty or new out_dir (uaelab generate: --out)"
        )
    return path


def read_manifest(out_dir: Path | str) -> dict[str, Any]:
    """The manifest of a results directory; ValueError if there is none."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        raise ValueError(f"{str(out_dir)!r} has no {MANIFEST}; is it a folder written by uaelab generate?")
    with open(path) as fh:
        return json.load(fh)


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    a, b = _flatten(old), _flatten(new)
    diffs = []
    for key in sorted(set(a) | set(b)):  # compared as JSON text, so NaN equals NaN
        if json.dumps(a.get(key, "<unset>")) != json.dumps(b.get(key, "<unset>")):
            diffs.append(f"{key}: {a.get(key, '<unset>')!r} on disk, {b.get(key, '<unset>')!r} now")
    return diffs


def _identity(config: dict, data_fingerprint: str, indices: torch.Tensor, shard_size: int) -> dict[str, Any]:
    """Everything that must match for a resume to continue a directory."""
    return {
        "config": json.loads(json.dumps(config, default=str)),
        "data_fingerprint": data_fingerprint,
        "indices_fingerprint": fingerprint(indices),
        "shard_size": int(shard_size),
    }


def _check_resume(out_dir: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """Return the existing manifest if it matches ``identity``; None if there is none; else ValueError."""
    if not (out_dir / MANIFEST).is_file():
        return None
    manifest = read_manifest(out_dir)
    old = {k: manifest.get(k) for k in identity}
    diffs = _differences(old, identity)
    if diffs:
        hint = {"indices_fingerprint": " (other samples: indices=, or --limit/--indices)",
                "shard_size": " (another shard size: shard_size= or batch_size=, or --batch-size)"}
        shown = "; ".join(d + next((h for k, h in hint.items() if d.startswith(k)), "") for d in diffs[:8])
        more = f" and {len(diffs) - 8} more" if len(diffs) > 8 else ""
        raise ValueError(
            f"{str(out_dir)!r} was made with different settings or data: {shown}{more}. "
            f"Use another out_dir (uaelab generate: --out), or delete that directory to start over."
        )
    return manifest


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    atomic_write_bytes(out_dir / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())


def _save_shard(path: Path, shard: dict[str, torch.Tensor]) -> None:
    buf = io.BytesIO()
    torch.save(shard, buf)
    atomic_write_bytes(path, buf.getvalue())


def _load_shard(path: Path) -> dict[str, torch.Tensor]:
    shard = torch.load(path, map_location="cpu", weights_only=True)
    missing = [k for k in FIELDS if k not in shard]
    if missing:
        raise ValueError(f"shard {path.name} lacks {missing}; delete it and rerun to recompute it")
    return shard


# -- generation -----------------------------------------------------------------------------
def _as_row(result: Any, n: int, name: str) -> torch.Tensor:
    t = getattr(result, name)
    t = torch.as_tensor(t).detach().cpu()
    assert t.shape[:1] == (n,), f"AttackResult.{name} has shape {tuple(t.shape)}, expected ({n}, ...)"
    return t


def _attack_chunk(attack, x: torch.Tensor, y: torch.Tensor | None, chunk: torch.Tensor, batch_size: int) -> dict:
    """Attack the samples of one shard, ``batch_size`` at a time; return the shard dict (CPU tensors)."""
    device = model_device(attack.model) if isinstance(getattr(attack, "model", None), torch.nn.Module) else None
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in FIELDS}
    for batch in torch.split(chunk, batch_size):
        xb = x[batch]
        yb = None if y is None else y[batch]
        if device is not None:
            xb = xb.to(device)
            yb = None if yb is None else yb.to(device)
        res = attack(xb, yb, indices=batch)
        n = batch.numel()
        parts["indices"].append(batch.clone())
        parts["x_adv"].append(_as_row(res, n, "x_adv").to(torch.float32))
        parts["success"].append(_as_row(res, n, "success").to(torch.bool))
        for k in ("mi_best", "mi_final", "c", "f"):
            parts[k].append(_as_row(res, n, k).to(torch.float32).reshape(n))
    return {k: torch.cat(v) for k, v in parts.items()}


def generate_to_dir(
    attack,
    x: torch.Tensor,
    out_dir: Path | str,
    *,
    y: torch.Tensor | None = None,
    indices: Any = None,
    batch_size: int = 64,
    shard_size: int | None = None,
    config: dict[str, Any],
    data_fingerprint: str | None = None,
    rank: int = 0,
    world_size: int = 1,
    progress: bool = True,
) -> Path:
    """Attack ``x[indices]`` and write the results to ``out_dir`` in resumable shards.

    Args:
        attack: callable ``attack(x, y=None, *, indices=None) -> AttackResult`` (fields x_adv,
            success, mi_best, mi_final, c, f; one row per sample). ``indices`` are the dataset
            indices, which seed each sample's random stream.
        x: the whole dataset split, float32 N×C×H×W (or N×d) in [0, 1], on CPU.
        out_dir: results folder; created if missing. Rerunning skips finished shards.
        y: optional int64 labels [N] (supervised methods).
        indices: the dataset indices to attack (any int sequence); default all N.
        batch_size: samples per attack call.
        shard_size: samples per shard file (default ``batch_size``); fixes the resume layout.
        config: JSON-able settings of the run (method, attack settings, seed, checkpoint print...).
            A directory made with a different config is refused.
        data_fingerprint: print of the data (e.g. ``DataSplits.fingerprint()``); default
            ``fingerprint(x, y)``.
        rank, world_size: this process's share (torchrun); shard k goes to rank k % world_size.
            When ``torch.distributed`` is initialised, ranks meet at a barrier before rank 0
            finalises the manifest.
        progress: show a tqdm bar (rank 0 only) with samples/s and the running success rate.

    Returns the output folder. Raises ValueError for bad input, a foreign or mismatched folder.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 2:
        raise ValueError(f"x must be a float tensor N×... in [0, 1], got {type(x).__name__} "
                         f"{getattr(x, 'shape', '')}")
    if y is not None and (not isinstance(y, torch.Tensor) or y.shape[:1] != x.shape[:1]):
        raise ValueError(f"y must be a tensor with one label per sample of x ({x.shape[0]}), "
                         f"got {getattr(y, 'shape', y)}")
    if batch_size < 1 or (shard_size is not None and shard_size < 1):
        raise ValueError(f"batch_size and shard_size must be positive, got {batch_size}, {shard_size}")
    if not (0 <= rank < world_size):
        raise ValueError(f"rank must satisfy 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    shard_size = shard_size or batch_size
    idx = normalize_indices(indices, x.shape[0])
    out = check_out_dir(out_dir)
    data_fp = data_fingerprint if data_fingerprint is not None else fingerprint(x, y if y is not None else 0)
    identity = _identity(config, data_fp, idx, shard_size)
    manifest = _check_resume(out, identity)
    dist = _dist()
    if manifest is None and (rank == 0 or dist is None):
        manifest = {
            "format": FORMAT,
            **identity,
            "method": config.get("method"),
            "checkpoint_fingerprint": config.get("checkpoint_fingerprint"),
            "uaelab_version": __version__,
            "torch_version": torch.__version__,
            "sample_shape": list(x.shape[1:]),
            "x_fingerprint": fingerprint(x),
            "indices": _ranges(idx),
            "n_samples": int(idx.numel()),
            "batch_size": int(batch_size),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "complete": False,
            "shards": [],
        }
        _write_manifest(out, manifest)
    if dist is not None:
        dist.barrier()  # everyone sees the manifest before any shard is written

    chunks = plan_shards(idx, shard_size)
    mine = rank_shards(chunks, rank, world_size)
    todo = [c for c in mine if not (out / shard_name(c)).is_file()]
    done_n = sum(c.numel() for c in mine) - sum(c.numel() for c in todo)
    bar = tqdm(total=sum(c.numel() for c in mine), initial=done_n, unit="sample",
               desc=f"uaelab generate{f' rank 0/{world_size}' if world_size > 1 else ''}",
               disable=not progress or rank != 0, dynamic_ncols=True)
    n_ok = n_seen = 0
    for chunk in todo:
        shard = _attack_chunk(attack, x, y, chunk, batch_size)
        _save_shard(out / shard_name(chunk), shard)
        n_ok += int(shard["success"].sum())
        n_seen += chunk.numel()
        bar.update(chunk.numel())
        bar.set_postfix(success=f"{n_ok / n_seen:.3f}")
    bar.close()

    if dist is not None:
        dist.barrier()  # all shards written
    if rank == 0 or dist is None:
        finalize(out, chunks)
    return out


def _dist():
    """``torch.distributed`` if a process group is initialised, else None."""
    return dist if dist.is_available() and dist.is_initialized() else None


def finalize(out_dir: Path, chunks: list[torch.Tensor] | None = None) -> bool:
    """Mark the manifest complete with the shard list if every planned shard exists; return that."""
    out = Path(out_dir)
    manifest = read_manifest(out)
    if chunks is None:
        chunks = plan_shards(_expand(manifest["indices"]), manifest["shard_size"])
    names = [shard_name(c) for c in chunks]
    if not all((out / n).is_file() for n in names):
        return False
    n_ok = 0
    shards = []
    for name, c in zip(names, chunks):
        s = _load_shard(out / name)
        if not torch.equal(s["indices"], c):
            raise ValueError(f"shard {name} holds other indices than planned; delete it and rerun")
        n_ok += int(s["success"].sum())
        shards.append({"file": name, "first": int(c[0]), "last": int(c[-1]), "count": int(c.numel())})
    manifest.update(
        complete=True,
        shards=shards,
        n_success=n_ok,
        success_rate=n_ok / max(1, manifest["n_samples"]),
        finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    _write_manifest(out, manifest)
    for stale in out.glob(".*.tmp-*"):  # leftovers of killed writers; no writer is alive now
        stale.unlink(missing_ok=True)
    return True


# -- reading back ---------------------------------------------------------------------------
def _load_all(out_dir: Path | str, allow_partial: bool = False) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    out = Path(out_dir)
    manifest = read_manifest(out)
    files = sorted(out.glob("shard-*.pt"))
    if not files:
        raise ValueError(f"{str(out)!r} holds no shards yet; run uaelab generate first")
    shards = [_load_shard(p) for p in files]
    rows = {k: torch.cat([s[k] for s in shards]) for k in FIELDS}
    order = torch.argsort(rows["indices"])
    rows = {k: v[order] for k, v in rows.items()}
    idx = rows["indices"]
    dup = idx[1:][idx[1:] == idx[:-1]]
    if dup.numel():
        raise ValueError(f"{str(out)!r} has duplicate results for indices {dup[:10].tolist()}; "
                         "delete the extra shard files (or the folder) and rerun")
    want = _expand(manifest["indices"])
    if not allow_partial and not torch.equal(idx, want):
        missing = want[~torch.isin(want, idx)]
        extra = idx[~torch.isin(idx, want)]
        raise ValueError(
            f"{str(out)!r} is incomplete or inconsistent: {missing.numel()} requested indices missing "
            f"(first {missing[:10].tolist()}), {extra.numel()} unexpected (first {extra[:10].tolist()}). "
            "Rerun the same uaelab generate command to finish it, or pass allow_partial=True"
        )
    return manifest, rows


def read_results(out_dir: Path | str, *, allow_partial: bool = False) -> pd.DataFrame:
    """Per-sample statistics, one row per sample sorted by dataset index.

    Columns: index (int64), success (bool), mi_best, mi_final, c, f (float32). Raises ValueError
    on duplicate indices, and on missing ones unless ``allow_partial`` (e.g. a run in progress).
    """
    _, rows = _load_all(out_dir, allow_partial)
    data = {"index": rows["indices"].numpy()}
    data.update({k: rows[k].numpy() for k in STAT_FIELDS})
    return pd.DataFrame(data)


def load_adversarial(out_dir: Path | str, *,
                     allow_partial: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(indices int64 [n], x_adv float32 [n, ...], success bool [n])`` sorted by dataset index."""
    _, rows = _load_all(out_dir, allow_partial)
    return rows["indices"], rows["x_adv"], rows["success"]


def augmented_dataset(
    x: torch.Tensor, out_dir: Path | str, y: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The paper's augmentation set: all of ``x`` followed by one UAE per attacked sample.

    ``x`` is the split the UAEs were made from (float32 N×..., the same tensor given to
    :func:`generate_to_dir`). Failed samples are replaced by their originals, "to maintain data
    balance" (paper, Sec. 4.1). UAEs come in dataset-index order. ``y`` (labels [N]) is extended
    the same way; returns ``(x_aug, y_aug)`` with ``y_aug`` None when ``y`` is None.
    """
    manifest, rows = _load_all(out_dir)
    idx, x_adv, ok = rows["indices"], rows["x_adv"], rows["success"]
    if tuple(x.shape[1:]) != tuple(x_adv.shape[1:]):
        raise ValueError(f"x has sample shape {tuple(x.shape[1:])} but the UAEs in {str(out_dir)!r} have "
                         f"{tuple(x_adv.shape[1:])}; pass the split they were generated from")
    if int(idx.max()) >= x.shape[0]:
        raise ValueError(f"the UAEs in {str(out_dir)!r} refer to index {int(idx.max())} but x has only "
                         f"{x.shape[0]} samples; pass the split they were generated from")
    if manifest.get("x_fingerprint") not in (None, fingerprint(x)):
        raise ValueError(f"x is not the tensor the UAEs in {str(out_dir)!r} were generated from "
                         "(its fingerprint differs); pass that same split")
    mask = ok.view(-1, *([1] * (x.dim() - 1)))
    uae = torch.where(mask, x_adv.to(x.dtype), x[idx])
    x_aug = torch.cat([x, uae])
    y_aug = None if y is None else torch.cat([y, y[idx]])
    return x_aug, y_aug
