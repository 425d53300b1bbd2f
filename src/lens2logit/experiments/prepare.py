"""Turn a dataset on disk into the workflow's arrays: raw mosaics once per intensity, then one
rendered array per ISP view that training memory-maps."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from lens2logit.io import atomic_path, save_npy, write_json

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
            "task": ds.task,
            "intensity": ds.intensity,
            "ids": list(ds.ids),
            "classes": list(ds.classes),
            "camera": camera_to_meta(ds.camera),
            "shape": list(ds.raw.shape),
        },
    )


def render_view_file(raw_path, meta_path, view: str, out_path, *, unsharp: str = "paper", batch_size: int = 64) -> None:
    """Render every mosaic of ``raw_path`` through ``view`` into ``out_path`` (N, 3, H, W) float32.

    Works in chunks of ``batch_size`` straight into a memory-mapped temporary file, so memory
    stays bounded at paper scale; the file is renamed into place only when complete.
    """
    import torch

    from lens2logit.isp import render
    meta = json.loads(Path(meta_path).read_text())
    camera = camera_from_meta(meta)
    raw = np.load(raw_path, mmap_mode="r")
    n, h, w = raw.shape
    with atomic_path(out_path, suffix=".npy") as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, 3, h, w))
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                chunk = torch.from_numpy(np.ascontiguousarray(raw[start : start + batch_size]))
                out[start : start + len(chunk)] = render(chunk, view, camera, unsharp=unsharp).numpy()
        out.flush()
        del out
    log.info("rendered %d tiles through %s", n, view)


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
