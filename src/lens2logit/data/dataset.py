"""The loaded form of every dataset and the dispatcher ``load_dataset``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lens2logit.data.layout import DATASETS, DRONE_TILE_SIZE, INTENSITIES
from lens2logit.errors import InputError


@dataclass
class RawDataset:
    """One dataset at one intensity (contract in docs/architecture.md).

    ``raw`` is ``(N, H, W)`` float32 DN/65535; ``targets`` is ``(N,)`` int64 class indices or
    ``(N, H, W)`` uint8 masks; ``ids`` are sorted and identical across intensities.
    """

    name: str
    task: str
    intensity: float
    ids: list[str]
    raw: np.ndarray
    targets: np.ndarray
    classes: list[str]
    camera: object  # lens2logit.isp.camera.CameraProfile


def check_intensity(intensity) -> float:
    try:
        value = float(intensity)
    except (TypeError, ValueError):
        raise InputError(f"intensity: {intensity!r} is not a number; expected one of {list(INTENSITIES)}") from None
    for known in INTENSITIES:
        if abs(value - known) < 1e-9:
            return known
    raise InputError(f"intensity: {intensity!r} is not one of {list(INTENSITIES)}")


def load_dataset(
    name: str, root, intensity: float, *, tile_size: int = DRONE_TILE_SIZE, cache_dir=None
) -> RawDataset:
    """Load dataset ``name`` from its own ``root`` at one light ``intensity``.

    Args:
        name: ``microscopy``, ``drone_segmentation``, ``drone_classification`` or ``custom``.
        root: the dataset root (``…/microscopy``, ``…/drone`` or a custom DNG folder).
        intensity: one of ``INTENSITIES`` (custom data without ``raw_scaleXXX`` folders: 1.0).
        tile_size: drone tile side (even); ignored otherwise.
        cache_dir: drone tiling cache (default ``root/tiles_{tile_size}``).

    Raises:
        InputError: naming the first file, field or option that cannot be used.
    """
    if name not in DATASETS:
        raise InputError(f"dataset: unknown name {name!r}; expected one of {list(DATASETS)}")
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset root not found")
    intensity = check_intensity(intensity)
    if name == "microscopy":
        from lens2logit.data.microscopy import load_microscopy

        return load_microscopy(root, intensity)
    if name.startswith("drone_"):
        from lens2logit.data.drone import load_drone

        return load_drone(root, intensity, task=name.removeprefix("drone_"), tile_size=tile_size, cache_dir=cache_dir)
    from lens2logit.data.custom import load_custom

    return load_custom(root, intensity)
