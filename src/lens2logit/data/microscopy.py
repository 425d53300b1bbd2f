"""Raw-Microscopy loader (reference-spec §3.4)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from lens2logit.data.dataset import RawDataset
from lens2logit.data.files import (
    check_same_names,
    intensity_folders,
    list_files,
    odd_size_error,
    read_text_file,
    read_tiff_mosaic,
    to_unit,
)
from lens2logit.data.layout import (
    MICROSCOPY_EXCLUDED_STEMS,
    MICROSCOPY_IMAGE_SUFFIX,
    MICROSCOPY_IMAGES,
    MICROSCOPY_LABELS,
    MICROSCOPY_MIN_CLASS_SAMPLES,
    intensity_folder,
)
from lens2logit.errors import InputError


def read_labels(path: Path) -> dict[str, str]:
    """``stem CLASS`` per line (whitespace-separated) → {stem: class}."""
    labels: dict[str, str] = {}
    for number, line in enumerate(read_text_file(path, "label file").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise InputError(f"{path}:{number}: expected 'stem CLASS', got {line.strip()!r}")
        stem, label = fields
        stem = stem.removesuffix(MICROSCOPY_IMAGE_SUFFIX)
        if stem in labels and labels[stem] != label:
            raise InputError(f"{path}:{number}: {stem} labelled twice ({labels[stem]}, {label})")
        labels[stem] = label
    return labels


def select_classes(labels: dict[str, str]) -> list[str]:
    """Classes with more than MICROSCOPY_MIN_CLASS_SAMPLES samples, alphabetical (index = label)."""
    counts = Counter(labels.values())
    return sorted(c for c, n in counts.items() if n > MICROSCOPY_MIN_CLASS_SAMPLES)


def microscopy_samples(root: Path) -> tuple[list[str], list[str], dict[str, str]]:
    """Validated (ids, classes, labels) of a microscopy root, decided from names only."""
    image_root = root / MICROSCOPY_IMAGES
    folders = intensity_folders(image_root)
    if not folders:
        raise InputError(f"{image_root}: no raw_scaleXXX folders")
    listings = {f: [p.name for p in list_files(f, (MICROSCOPY_IMAGE_SUFFIX,))] for f in folders.values()}
    check_same_names(listings)
    stems = {Path(n).stem for n in next(iter(listings.values()))}
    labels_path = root / MICROSCOPY_LABELS
    labels = read_labels(labels_path)
    for stem in sorted(stems):
        if stem not in labels and stem not in MICROSCOPY_EXCLUDED_STEMS:
            raise InputError(f"{image_root / stem}{MICROSCOPY_IMAGE_SUFFIX}: image has no label in {labels_path}")
    for stem in sorted(labels):
        if stem not in stems and stem not in MICROSCOPY_EXCLUDED_STEMS:
            raise InputError(f"{labels_path}: label for missing image {stem}{MICROSCOPY_IMAGE_SUFFIX}")
    labels = {s: c for s, c in labels.items() if s in stems and s not in MICROSCOPY_EXCLUDED_STEMS}
    classes = select_classes(labels)
    ids = sorted(s for s, c in labels.items() if c in classes)
    if not ids:
        raise InputError(f"{labels_path}: no class has more than {MICROSCOPY_MIN_CLASS_SAMPLES} samples")
    return ids, classes, labels


def load_microscopy(root: Path, intensity: float) -> RawDataset:
    from lens2logit.isp.camera import MICROSCOPY

    ids, classes, labels = microscopy_samples(root)
    folder = root / MICROSCOPY_IMAGES / intensity_folder(intensity)
    if not folder.is_dir():
        raise InputError(f"{folder}: intensity folder not found")
    raw = None
    for i, stem in enumerate(ids):
        path = folder / f"{stem}{MICROSCOPY_IMAGE_SUFFIX}"
        image = read_tiff_mosaic(path)
        if raw is None:
            raw = np.empty((len(ids), *image.shape), dtype=np.float32)
        if image.shape != raw.shape[1:]:  # name the odd file, not the first one read
            raise odd_size_error([folder / f"{s}{MICROSCOPY_IMAGE_SUFFIX}" for s in ids], "image")
        raw[i] = to_unit(image)
    index = {c: k for k, c in enumerate(classes)}
    targets = np.array([index[labels[s]] for s in ids], dtype=np.int64)
    return RawDataset("microscopy", "classification", intensity, ids, raw, targets, list(classes), MICROSCOPY)
