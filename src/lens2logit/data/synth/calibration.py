"""One-off calibration of the microscopy clear-glass levels (docs/data.md, "Clear-glass calibration").

The measured quantity is the real mosaics' per-channel raw mean over whole 256-px crops (reference-spec
§1.4, "mosaic normalisation": 0.5663 / 0.1401 / 0.0731), i.e. a *field* mean, cells included. The
synthetic camera needs the level of clear glass (no stain). So the mean transmission of synthetic
fields of the real crops' geometry is measured, class mix as published, and each capture's
clear-glass level is ``field mean / mean transmission``. The result is written into
``sensor.MICROSCOPY_CAPTURE_LEVELS``; rerun :func:`calibrate_capture_levels` whenever the scene
model changes (a test checks the constants against a fresh set of fields)::

    python -c "from lens2logit.data.synth.calibration import calibrate_capture_levels as c; print(c())"
"""

from __future__ import annotations

import numpy as np

from lens2logit.data.layout import PUBLISHED_MICROSCOPY_COUNTS, PUBLISHED_TILE_SIZE

CALIBRATION_SEED = 2021  # its own stream: never the seed of a synthesized dataset
CALIBRATION_FIELDS_PER_CLASS = 32  # 288 fields: standard error of T ≈ 0.25–0.4 % per band
CALIBRATION_SIDE = PUBLISHED_TILE_SIZE  # the real crops are 256 × 256 px (41.6 µm)


def class_shares() -> dict[str, float]:
    """Published class frequencies of Raw-Microscopy (940 images), as weights summing to 1."""
    total = sum(PUBLISHED_MICROSCOPY_COUNTS.values())
    return {cls: count / total for cls, count in PUBLISHED_MICROSCOPY_COUNTS.items()}


def field_transmission(rng: np.random.Generator, cls: str, side: int) -> np.ndarray:
    """Mean transmission (R, G, B) of one synthetic field seen through the optics, shape ``(3,)``."""
    from lens2logit.data.synth.microscopy import microscopy_scene
    from lens2logit.data.synth.sensor import MICROSCOPY_SENSOR, optics

    return optics(microscopy_scene(rng, cls, side), MICROSCOPY_SENSOR).mean(axis=(0, 1))


def mean_field_transmission(seed: int, per_class: int, side: int) -> np.ndarray:
    """Class-share-weighted mean transmission (R, G, B) over ``per_class`` fields of each class, ``(3,)``."""
    total = np.zeros(3)
    for k, (cls, share) in enumerate(sorted(class_shares().items())):
        fields = [field_transmission(np.random.default_rng([seed, k, i]), cls, side) for i in range(per_class)]
        total += share * np.mean(fields, axis=0)
    return total


def calibrate_capture_levels(
    seed: int = CALIBRATION_SEED, per_class: int = CALIBRATION_FIELDS_PER_CLASS, side: int = CALIBRATION_SIDE
) -> tuple[float, float, float]:
    """Clear-glass level of each capture (R, G, B) that makes the synthetic field mean the measured one."""
    from lens2logit.data.synth.sensor import MICROSCOPY_FIELD_MEANS

    transmission = mean_field_transmission(seed, per_class, side)
    return tuple(round(float(v), 4) for v in np.asarray(MICROSCOPY_FIELD_MEANS) / transmission)
