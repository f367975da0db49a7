"""Checkpoints: a model's weights plus everything needed to rebuild and trust it.

A checkpoint file (written atomically with ``torch.save``) holds the model kind, its
constructor ``config``, the input shape, the training settings, the fingerprint of the data it
was trained on, free ``extra`` metadata (e.g. the history), the state dict, and a hash of the
state dict. :func:`load` rebuilds the model from kind + config, verifies the hash and any
expected kind / input shape / data fingerprint / settings, and raises ``ValueError`` naming the
problem and the fix otherwise: a corrupt or mismatched file is never loaded silently.
Files are read with ``torch.load(weights_only=True)``, so a checkpoint cannot run code.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from uaelab import __version__
from uaelab.models import build_model
from uaelab.utils import atomic_write_bytes, fingerprint

FORMAT = "uaelab-checkpoint"
FORMAT_VERSION = 1
_KEYS = ("format", "format_version", "kind", "config", "in_shape", "settings", "data_fingerprint", "extra",
         "state_dict", "state_hash", "uaelab_version")


def _state_hash(state: dict[str, torch.Tensor]) -> str:
    return fingerprint(*[k for k in sorted(state)], *[state[k] for k in sorted(state)])


def _plain(obj: Any) -> Any:
    """JSON-like copy (tuples -> lists) so that weights_only loading accepts it."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    return str(obj)


def save(path: str | Path, model: nn.Module, *, kind: str, settings: dict, in_shape, data_fingerprint: str,
         extra: dict | None = None) -> Path:
    """Write ``model`` (which must have a ``.config`` dict) with its provenance to ``path``."""
    if not hasattr(model, "config"):
        raise ValueError(f"{type(model).__name__} has no .config; only uaelab.models models can be checkpointed")
    if hasattr(settings, "to_dict"):
        settings = settings.to_dict()
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "uaelab_version": __version__,
        "kind": kind, "config": _plain(model.config), "in_shape": [int(s) for s in in_shape],
        "settings": _plain(settings), "data_fingerprint": str(data_fingerprint), "extra": _plain(extra or {}),
        "state_dict": state, "state_hash": _state_hash(state),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def read_meta(path: str | Path) -> dict:
    """The checkpoint's payload after format and integrity checks (state dict included)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}; train the model first (uaelab.models.zoo.get_model does it)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, garbage or a foreign pickle: all mean "do not trust"
        raise ValueError(f"checkpoint {path} is corrupt or not a uaelab checkpoint ({type(exc).__name__}: "
                         f"{str(exc)[:200]}); delete it and retrain") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a uaelab checkpoint (no '{FORMAT}' marker); delete it and retrain")
    missing = [k for k in _KEYS if k not in payload]
    if missing:
        raise ValueError(f"checkpoint {path} lacks {missing}; it is damaged, delete it and retrain")
    if payload["format_version"] != FORMAT_VERSION:
        raise ValueError(f"checkpoint {path} has format version {payload['format_version']}, this uaelab reads "
                         f"{FORMAT_VERSION}; retrain the model")
    if _state_hash(payload["state_dict"]) != payload["state_hash"]:
        raise ValueError(f"checkpoint {path} fails its integrity hash (weights changed after saving); "
                         "delete it and retrain")
    return payload


def load(path: str | Path, *, expected_kind: str | None = None, expected_in_shape=None,
         expected_fingerprint: str | None = None, expected_settings: dict | None = None,
         map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model stored at ``path``; returns (model in eval mode, metadata without weights).

    Raises ``ValueError`` if the file is missing, corrupt, fails its hash, or its kind, input
    shape, data fingerprint or settings differ from the expected ones given.
    """
    meta = read_meta(path)
    checks = [("kind", expected_kind, meta["kind"]),
              ("input shape", None if expected_in_shape is None else [int(s) for s in expected_in_shape],
               meta["in_shape"]),
              ("data fingerprint", expected_fingerprint, meta["data_fingerprint"]),
              ("settings", None if expected_settings is None else _plain(getattr(expected_settings, "to_dict",
                                                                                 lambda: expected_settings)()),
               meta["settings"])]
    for what, want, got in checks:
        if want is not None and want != got:
            raise ValueError(f"checkpoint {path} was saved with {what} {got!r}, expected {want!r}; "
                             "it belongs to another model or dataset: retrain or load the right file")
    model = build_model(meta["kind"], meta["config"])
    try:
        model.load_state_dict(meta["state_dict"], strict=True)
    except RuntimeError as exc:
        raise ValueError(f"checkpoint {path} does not fit a {meta['kind']!r} model built from its config: "
                         f"{str(exc)[:300]}; retrain") from None
    model.to(map_location).eval()
    info = {k: v for k, v in meta.items() if k != "state_dict"}
    return model, info
