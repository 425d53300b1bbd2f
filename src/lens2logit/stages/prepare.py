"""Turn a dataset on disk into the workflow's arrays: raw mosaics, targets and metadata once per
intensity. The ISP views rendered from them are :mod:`lens2logit.stages.views`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from lens2logit.io import save_npy, write_json

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
