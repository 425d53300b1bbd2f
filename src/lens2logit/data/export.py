"""Turn a dataset on disk into the workflow's arrays: raw mosaics, targets and metadata once per
intensity. The ISP views rendered from them are :mod:`lens2logit.drift.render`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lens2logit.errors import InputError
from lens2logit.io import save_npy, write_json

if TYPE_CHECKING:
    import torch

    from lens2logit.isp.camera import CameraProfile

log = logging.getLogger(__name__)


def export_dataset(
    name: str, root: str | Path, intensity: float, *, tile_size: int, raw_path, targets_path, meta_path, cache_dir=None,
    check_published_counts: bool = False, kind: str | None = None,
) -> None:
    """Load ``name`` at ``intensity`` and write ``raw.npy`` (N, H, W) float32, ``targets.npy`` and ``meta.json``.

    ``check_published_counts`` (real data) and ``kind`` (custom) go to :func:`lens2logit.data.load_dataset`.
    """
    from lens2logit.data import load_dataset

    ds = load_dataset(
        name, root, intensity, tile_size=tile_size, cache_dir=cache_dir,
        check_published_counts=check_published_counts, kind=kind,
    )
    log.info("%s @ %s: %d samples of %s, classes %s", name, intensity, len(ds.ids), ds.raw.shape[1:], ds.classes)
    save_npy(raw_path, ds.raw.astype(np.float32, copy=False))
    save_npy(targets_path, ds.targets)
    write_json(
        meta_path,
        {
            "name": ds.name,
            "kind": ds.kind,
            "intensity": ds.intensity,
            "ids": list(ds.ids),
            "classes": list(ds.classes),
            "camera": camera_to_meta(ds.camera),
            "shape": list(ds.raw.shape),
        },
    )


def camera_from_meta(meta: dict):
    """The camera profile recorded in a ``meta.json`` by :func:`export_dataset`."""
    from lens2logit.isp.camera import CameraProfile, get_camera
    from lens2logit.isp.cfa import BayerPattern

    # Custom (DNG) datasets store their full profile; named datasets store the profile name.
    cam = meta["camera"]
    if isinstance(cam, dict):
        return CameraProfile(
            name=cam["name"],
            black_level=tuple(cam["black_level"]),
            white_balance=tuple(cam["white_balance"]),
            colour_matrix=tuple(tuple(r) for r in cam["colour_matrix"]),
            pattern=BayerPattern.parse(cam["pattern"]),
        )
    return get_camera(cam)


def camera_to_meta(camera):
    from lens2logit.isp.camera import CAMERAS

    if CAMERAS.get(camera.name) == camera:
        return camera.name
    return {
        "name": camera.name,
        "black_level": list(camera.black_level),
        "white_balance": list(camera.white_balance),
        "colour_matrix": [list(r) for r in camera.colour_matrix],
        "pattern": camera.pattern.value,
    }


def load_dataset_arrays(raw_path, targets_path, meta_path) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any], CameraProfile]:
    """Read a dataset's workflow arrays: ``raw (N, H, W)`` float32, targets, ``meta.json`` and its camera.

    Raises:
        InputError: a file is missing or unreadable, shapes disagree, or the camera is unknown.
    """
    import torch

    from lens2logit.io import open_array

    raw = open_array(raw_path, "raw")
    targets = open_array(targets_path, "targets")
    meta_path = Path(meta_path)
    if not meta_path.is_file():
        raise InputError(f"meta file not found: {meta_path}")
    try:
        meta = json.loads(meta_path.read_text())
        camera = camera_from_meta(meta)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"meta file {meta_path}: cannot read the camera profile (key 'camera'): {exc}") from exc
    if raw.ndim != 3 or len(targets) != len(raw):
        raise InputError(f"raw file {raw_path} must be (N, H, W) with one target per mosaic, got {raw.shape} and {targets.shape}")
    return torch.from_numpy(np.array(raw, dtype=np.float32)), torch.from_numpy(np.array(targets)), meta, camera
