"""The loaded form of every dataset and the dispatcher ``load_dataset``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lens2logit.data.layout import DRONE_TILE_SIZE, INTENSITIES
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
    name: str, root, intensity: float, *, tile_size: int = DRONE_TILE_SIZE, cache_dir=None,
    check_published_counts: bool = False, kind: str | None = None,
) -> RawDataset:
    """Load dataset ``name`` (an entry of :mod:`lens2logit.data.registry`) from its own ``root`` at one light ``intensity``.

    Args:
        name: ``microscopy``, ``drone_segmentation``, ``drone_classification`` or ``custom``.
        root: the dataset root (``…/microscopy``, ``…/drone`` or a custom DNG folder).
        intensity: one of ``INTENSITIES`` (custom data without ``raw_scaleXXX`` folders: 1.0).
        tile_size: drone tile side (even); ignored otherwise.
        cache_dir: drone tiling cache (default ``root/tiles_{tile_size}``).
        check_published_counts: warn where real data differ from the published sizes (not for synthetic data).
        kind: custom only: the declared kind, checked against the data.

    Raises:
        InputError: naming the first file, field or option that cannot be used.
    """
    from lens2logit.data.registry import LoadOptions, get_dataset

    entry = get_dataset(name)
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset root not found")
    intensity = check_intensity(intensity)
    options = LoadOptions(tile_size=tile_size, cache_dir=cache_dir, check_published_counts=check_published_counts, kind=kind)
    return entry.loader(root, intensity, options)
