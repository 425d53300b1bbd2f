"""A user's own camera: a folder of DNG files with ``labels.csv`` (classification) or ``masks/`` (segmentation).

Layout::

    root/*.dng                       (single intensity 1.0), or root/raw_scaleXXX/*.dng
    root/labels.csv                  columns ``file,label`` (file name with or without .dng)
    root/masks/<stem>.png|tif|tiff   binary masks, same size as the mosaics

Camera parameters (Bayer pattern, black level, white balance, colour matrix) come from the DNG metadata
of the first file (``lens2logit.isp.io.read_raw``); every file must share its pattern and size.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from lens2logit.data.dataset import RawDataset
from lens2logit.data.files import check_equal_size, check_same_names, list_files, pair_masks, read_masks, to_unit
from lens2logit.data.layout import CUSTOM_LABELS, CUSTOM_LAYOUT, CUSTOM_MASKS, CUSTOM_SUFFIXES, MASK_SUFFIXES
from lens2logit.errors import InputError


def custom_folders(root: Path) -> dict[float, Path]:
    """{intensity: folder of its DNGs} as the registry's custom layout places them (``raw_scaleXXX/``
    folders, or the root itself at the reference intensity); the folders must hold the same names."""
    layout = CUSTOM_LAYOUT
    folders = {i: layout.image_folder(root, i) for i in layout.intensities(root)}
    if layout.listed_parent(root) is not None:
        check_same_names({f: [p.name for p in list_files(f, CUSTOM_SUFFIXES)] for f in folders.values()})
    return folders


def read_custom_labels(path: Path, stems: list[str]) -> dict[str, str]:
    """``file,label`` rows → {stem: label}; every image labelled once, no label without an image."""
    import io

    from lens2logit.data.files import read_text_file

    with io.StringIO(read_text_file(path, "label file"), newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"file", "label"} <= set(reader.fieldnames):
            raise InputError(f"{path}: expected columns 'file,label', got {reader.fieldnames}")
        labels: dict[str, str] = {}
        for number, row in enumerate(reader, start=2):
            name, label = (row["file"] or "").strip(), (row["label"] or "").strip()
            stem = Path(name).stem if Path(name).suffix.lower() in CUSTOM_SUFFIXES else name
            if not stem or not label:
                raise InputError(f"{path}:{number}: empty file or label")
            if stem in labels:
                raise InputError(f"{path}:{number}: {name} labelled twice")
            if stem not in stems:
                raise InputError(f"{path}:{number}: label for missing image {name}")
            labels[stem] = label
    for stem in stems:
        if stem not in labels:
            raise InputError(f"{path}: image {stem}.dng has no label")
    return labels


def read_dng(path: Path):
    """(float32 DN/65535 mosaic, CameraProfile | None) via the ISP's reader."""
    from lens2logit.isp.io import read_raw

    try:
        mosaic, camera = read_raw(path)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: unreadable DNG ({type(exc).__name__}: {exc})") from None
    mosaic = np.asarray(mosaic.numpy() if hasattr(mosaic, "numpy") else mosaic)
    if mosaic.ndim != 2 or mosaic.shape[0] % 2 or mosaic.shape[1] % 2:
        raise InputError(f"{path}: expected an even-sized single-channel mosaic, got shape {mosaic.shape}")
    if mosaic.dtype.kind in "ui" or float(mosaic.max(initial=0)) > 1.0:
        mosaic = to_unit(mosaic)
    return mosaic.astype(np.float32), camera


def load_custom(root: Path, intensity: float) -> RawDataset:
    folders = custom_folders(root)
    if intensity not in folders:
        raise InputError(f"{root}: no data at intensity {intensity} (folders: {[f.name for f in folders.values()]})")
    files = list_files(folders[intensity], CUSTOM_SUFFIXES)
    if not files:
        raise InputError(f"{folders[intensity]}: no .dng files")
    stems = [p.stem for p in files]
    labels_path, masks_dir = root / CUSTOM_LABELS, root / CUSTOM_MASKS
    if labels_path.is_file() == masks_dir.is_dir():
        raise InputError(f"{root}: needs exactly one of {CUSTOM_LABELS} (classification) or {CUSTOM_MASKS}/ (segmentation)")
    raw, camera = None, None
    for i, path in enumerate(files):
        mosaic, profile = read_dng(path)
        if profile is None:
            raise InputError(f"{path}: no camera metadata (black level, white balance, colour matrix)")
        if raw is None:
            raw, camera = np.empty((len(files), *mosaic.shape), np.float32), profile
        check_equal_size(path, mosaic.shape, raw.shape[1:], "mosaic", files[0])
        if profile.pattern != camera.pattern:
            raise InputError(f"{path}: Bayer pattern {profile.pattern.value} differs from {files[0].name} ({camera.pattern.value})")
        raw[i] = mosaic
    if labels_path.is_file():
        labels = read_custom_labels(labels_path, stems)
        classes = sorted(set(labels.values()))
        targets = np.array([classes.index(labels[s]) for s in stems], dtype=np.int64)
        kind = "classification"
    else:
        masks = pair_masks(stems, files, masks_dir, MASK_SUFFIXES)
        targets = read_masks([masks[s] for s in stems], raw.shape[1:])
        classes, kind = ["background", "foreground"], "segmentation"
    return RawDataset("custom", kind, intensity, stems, raw, targets, classes, camera)
