"""Policy checkpoints: a small ``.pt`` with the weights and a plain dict of hyper-parameters.

Lightning's ``.ckpt`` (optimizer state, loop progress) is only for ``--resume``; the ``.pt`` is what
ships and what ``nco solve --method neural`` loads. It holds tensors, strings, numbers, lists and
dicts only, so it loads with ``torch.load(weights_only=True)`` and never unpickles code.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from nco.policies import RoutingPolicy, build_policy
from nco_core.features import unknown_knobs
from nco_core.io import atomic_path

__all__ = ["RESUME_WEIGHTS_ONLY", "check_resumable", "load_policy", "save_policy", "ship"]

# --resume passes this to Lightning rather than relying on torch's default (which changed in 2.6):
# last.ckpt holds tensors, numbers, strings, lists and dicts only, so it never needs to unpickle code.
RESUME_WEIGHTS_ONLY = True
UNREADABLE = (pickle.UnpicklingError, RuntimeError, EOFError, ValueError)  # what torch.load raises on a bad file


def _load(path: str | os.PathLike, what: str, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(weights_only=True)``; a missing, truncated, foreign or code-carrying file is a
    ValueError naming it (FileNotFoundError if absent), never a raw UnpicklingError."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist") from None
    except UNREADABLE as error:
        raise ValueError(
            f"{what} {str(path)!r}: not a weights-only nco checkpoint ({type(error).__name__}: "
            "truncated, not a torch file, or holding objects other than tensors and plain data)"
        ) from None


def check_resumable(path: str | os.PathLike) -> None:
    """Open a Lightning checkpoint the way --resume will (weights only) before training starts."""
    payload = _load(path, "--resume: checkpoint")
    missing = [
        key
        for key in ("state_dict", "loops", "optimizer_states")
        if not isinstance(payload, dict) or key not in payload
    ]
    if missing:
        raise ValueError(f"--resume: checkpoint {str(path)!r}: missing {missing} (not a Lightning training checkpoint)")


def save_policy(policy: RoutingPolicy, path: str | os.PathLike, **meta: Any) -> Path:
    """Write ``{"hparams", "state_dict", "meta"}`` atomically; ``meta`` must be plain data."""
    path = Path(path)
    state = {k: v.detach().cpu().clone() for k, v in policy.state_dict().items()}
    payload = {"hparams": dict(policy.hparams), "state_dict": state, "meta": meta}
    with atomic_path(path) as temp:
        torch.save(payload, temp)
    return path


def load_policy(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[RoutingPolicy, dict[str, Any]]:
    """The policy (in eval mode) and the checkpoint's ``meta`` dict."""
    payload = _load(path, "checkpoint", map_location)
    for key in ("hparams", "state_dict"):
        if not isinstance(payload, dict) or key not in payload:
            raise ValueError(f"checkpoint {str(path)!r}: missing {key!r} (not an nco policy checkpoint)")
    policy = build_policy(**payload["hparams"])
    policy.load_state_dict(payload["state_dict"])
    return policy.eval(), dict(payload.get("meta", {}))


def ship(checkpoint: str | os.PathLike, directory: str | os.PathLike, name: str, **notes: Any) -> Path:
    """Copy a policy checkpoint to ``directory/name.pt`` with its card ``name.json``: what the
    neural solver matches instances against (flags, size) and how the model was made."""
    policy, meta = load_policy(checkpoint)
    unknown = unknown_knobs(meta.get("flags", {}))
    if unknown:  # the neural method matches instances by these names
        raise ValueError(
            f"checkpoint {str(checkpoint)!r}: flags {unknown} are no variant knob (nco_core.features.KNOBS)"
        )
    target = save_policy(policy, Path(directory) / f"{name}.pt", **meta)
    parameters = sum(p.numel() for p in policy.parameters())
    card: dict[str, Any] = {
        "checkpoint": target.name,
        **{k: meta[k] for k in ("problem", "flags", "size") if k in meta},
    }
    card.update(model=dict(policy.hparams), parameters=parameters, meta=meta, **notes)
    path = Path(directory) / f"{name}.json"
    with atomic_path(path) as temp:
        Path(temp).write_text(json.dumps(card, indent=1, default=str))
    return path
