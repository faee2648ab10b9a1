"""Policy checkpoints: a small ``.pt`` with the weights and a plain dict of hyper-parameters.

Lightning's ``.ckpt`` (optimizer state, loop progress) is only for ``--resume``; the ``.pt`` is what
ships and what ``nco solve --method neural`` loads. It holds tensors, strings, numbers, lists and
dicts only, so it loads with ``torch.load(weights_only=True)`` and never unpickles code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from nco.io import atomic_path
from nco.policies import RoutingPolicy

__all__ = ["load_policy", "save_policy", "ship"]


def save_policy(policy: RoutingPolicy, path: str | os.PathLike, **meta: Any) -> Path:
    """Write ``{"hparams", "state_dict", "meta"}`` atomically; ``meta`` must be plain data."""
    path = Path(path)
    state = {k: v.detach().cpu().clone() for k, v in policy.state_dict().items()}
    payload = {"hparams": dict(policy.hparams), "state_dict": state, "meta": meta}
    with atomic_path(path) as temp:
        torch.save(payload, temp)
    return path


def load_policy(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[RoutingPolicy, dict[str, Any]]:
    """The policy (in eval mode) and the checkpoint's ``meta`` dict."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist") from None
    for key in ("hparams", "state_dict"):
        if key not in payload:
            raise ValueError(f"checkpoint {str(path)!r}: missing {key!r} (not an nco policy checkpoint)")
    policy = RoutingPolicy(**payload["hparams"])
    policy.load_state_dict(payload["state_dict"])
    return policy.eval(), dict(payload.get("meta", {}))


def ship(checkpoint: str | os.PathLike, directory: str | os.PathLike, name: str, **notes: Any) -> Path:
    """Copy a policy checkpoint to ``directory/name.pt`` with its card ``name.json``: what the
    neural solver matches instances against (flags, size) and how the model was made."""
    policy, meta = load_policy(checkpoint)
    target = save_policy(policy, Path(directory) / f"{name}.pt", **meta)
    parameters = sum(p.numel() for p in policy.parameters())
    card = dict(checkpoint=target.name, **{k: meta[k] for k in ("problem", "flags", "size") if k in meta})
    card.update(model=dict(policy.hparams), parameters=parameters, meta=meta, **notes)
    path = Path(directory) / f"{name}.json"
    with atomic_path(path) as temp:
        Path(temp).write_text(json.dumps(card, indent=1, default=str))
    return path
