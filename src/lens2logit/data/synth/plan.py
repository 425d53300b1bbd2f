"""Which images a synthetic dataset holds: names, classes and random streams (no scene drawing).

Separate from the package so that size checks (:mod:`lens2logit.data.synth.limits`) can plan a
dataset without importing the synthesis code.
"""

from __future__ import annotations

import numpy as np

from lens2logit.data.layout import MICROSCOPY_CLASSES, MICROSCOPY_EXCLUDED_STEMS, microscopy_stem
from lens2logit.errors import InputError

_DATASET_STREAM = {"microscopy": 1, "drone": 2}  # keeps the two datasets' random streams apart


def microscopy_plan(n: int, class_counts: dict[str, int] | None, seed: int) -> list[tuple[str, str]]:
    """(stem, class) of every image: stems in reading order, classes shuffled over them by ``seed``."""
    counts = class_counts if class_counts is not None else {c: n for c in MICROSCOPY_CLASSES}
    for cls, count in counts.items():
        if cls not in MICROSCOPY_CLASSES:
            raise InputError(f"class_counts: unknown class {cls!r}; expected some of {list(MICROSCOPY_CLASSES)}")
        if not isinstance(count, int) or count < 0:
            raise InputError(f"class_counts: {cls} count must be a non-negative integer, got {count!r}")
    labels = [c for c in MICROSCOPY_CLASSES for _ in range(counts.get(c, 0))]
    if not labels:
        raise InputError("n: no images to synthesize")
    np.random.default_rng([seed, _DATASET_STREAM["microscopy"], 0]).shuffle(labels)
    stems, j = [], 0
    while len(stems) < len(labels):
        stem = microscopy_stem(1 + j // 100, 1 + (j // 5) % 20, 1 + j % 5)
        if stem not in MICROSCOPY_EXCLUDED_STEMS:  # the loader drops it, as the reference code does
            stems.append(stem)
        j += 1
    return list(zip(stems, labels))
