"""The loaded form of every dataset (`RawDataset`) and the intensity check; `load_dataset` is in `registry`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lens2logit.data.layout import INTENSITIES
from lens2logit.errors import InputError

# The learning problem of a dataset (its kind).
KINDS = ("classification", "segmentation")


@dataclass
class RawDataset:
    """One dataset at one intensity (contract in docs/architecture.md).

    ``raw`` is ``(N, H, W)`` float32 DN/65535; ``targets`` is ``(N,)`` int64 class indices or
    ``(N, H, W)`` uint8 masks; ``ids`` are sorted and identical across intensities.
    """

    name: str
    kind: str  # one of KINDS
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
