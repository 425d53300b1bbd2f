"""Checkpoints of trained task models: device-independent, byte-reproducible, checked on reading.

A checkpoint is a dict (:data:`CHECKPOINT_KEYS`) of plain Python values and CPU tensors, saved
with :func:`lens2logit.io.save_torch` (serialised in memory under a fixed archive name, so
identical checkpoints are identical bytes, then written atomically). Reading maps every tensor
to the CPU and unpickles no code; :func:`load_model` rebuilds the model on any device.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from lens2logit.errors import InputError
from lens2logit.io import load_torch, save_torch
from lens2logit.models import build_model, standardized

CHECKPOINT_KEYS = (
    "state_dict", "arch", "kind", "n_classes", "classes", "mean", "std",
    "train_indices", "val_indices", "fold", "history", "config",
)  # fmt: skip


def to_cpu(obj: Any) -> Any:
    """``obj`` with every tensor (inside dicts, lists, tuples) detached and copied to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def save_checkpoint(path: str | os.PathLike, ckpt: dict[str, Any]) -> None:
    """Write a checkpoint dict (e.g. from :func:`~lens2logit.training.train.train_on_view`) atomically."""
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise InputError(f"checkpoint for {path} lacks keys {missing}")
    save_torch(path, to_cpu(ckpt))


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint dict (tensors mapped to the CPU, no pickled code) and check its keys."""
    ckpt = load_torch(path, "model file")
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise InputError(f"model file {path} lacks checkpoint keys {missing}")
    return ckpt


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a trained model: ``(nn.Sequential(Standardize, net) in eval mode on device, checkpoint dict)``.

    The model takes ``(B, 3, H, W)`` RGB in the view's own range ([0, 1]). ``device`` is a
    ``torch.device`` or a ``training.device`` string.
    """
    from lens2logit.training.device import resolve_device

    ckpt = read_checkpoint(path)
    net = build_model(ckpt["arch"], ckpt["kind"], ckpt["n_classes"])
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise InputError(f"model file {path}: weights do not fit arch {ckpt['arch']!r}: {exc}") from exc
    model = standardized(net, ckpt["mean"], ckpt["std"])
    return model.to(resolve_device(device)).eval(), ckpt
