"""Raw-Drone in the pre-tiled layout: the tiles, masks and classification CSV of the reference code.

Layout (``T`` = tile size, 256 in the paper; reference-spec §3.5)::

    root/images_tiles_T/raw_scaleXXX/NN_IIIII.tif              segmentation tiles (float or 16-bit TIFF)
    root/masks_tiles_T/NN_IIIII.png                             their masks (name equal or contained)
    root/classification/images_tiles_T/raw_scaleXXX_thr_0.01/NN_IIIII.tif
    root/classification/dataset_tiles_T_72_0.01.csv            columns [index,] file name, label (0 car, 1 no car)

Either part may be absent; asking for it then names the missing folder.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from lens2logit.data.dataset import RawDataset
from lens2logit.data.files import (
    check_equal_size,
    check_same_names,
    intensity_folders,
    list_files,
    pair_masks,
    read_masks,
    read_tiff_mosaic,
    to_unit,
)
from lens2logit.data.layout import (
    DRONE_CLASSES,
    DRONE_IMAGE_SUFFIXES,
    DRONE_LAYOUTS,
    DRONE_TILED_IMAGES,
    DRONE_TILED_MASKS,
    MASK_SUFFIXES,
    PUBLISHED_DRONE_CLASSIFICATION,
    PUBLISHED_DRONE_SEGMENTATION_TILES,
)
from lens2logit.errors import InputError

log = logging.getLogger(__name__)
SEGMENTATION_CLASSES = ("background", "car")


def _tile_folder(root: Path, pattern: str, tile_size: int, what: str) -> Path:
    folder = root / pattern.format(tile_size=tile_size)
    if not folder.is_dir():
        other = sorted(p.name for p in root.glob(pattern.format(tile_size="*")))
        hint = f" (found {other}: set tile_size to match)" if other else ""
        raise InputError(f"{folder}: {what} folder of the pre-tiled layout not found{hint}")
    return folder


def _read_tiles(paths: list[Path], tile_size: int) -> np.ndarray:
    out = np.empty((len(paths), tile_size, tile_size), np.float32)
    floats = 0
    for k, path in enumerate(paths):
        tile = read_tiff_mosaic(path)
        check_equal_size(path, tile.shape, (tile_size, tile_size), "tile")
        floats += tile.dtype.kind == "f"
        out[k] = to_unit(tile)
    if floats:
        log.info("%s: %d float TIFFs with non-integer DN values read as float DN", paths[0].parent, floats)
    return out


def read_classification_csv(path: Path) -> dict[str, int]:
    """The reference code's tile list → {file name: label}; an optional unnamed index column is skipped."""
    if not path.is_file():
        raise InputError(f"{path}: classification tile list not found")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"file name", "label"} <= set(reader.fieldnames):
            raise InputError(f"{path}: expected columns 'file name' and 'label', got {reader.fieldnames}")
        labels: dict[str, int] = {}
        for number, row in enumerate(reader, start=2):
            name = Path((row["file name"] or "").strip())
            name = name.stem if name.suffix.lower() in DRONE_IMAGE_SUFFIXES else name.as_posix()
            try:
                label = int(str(row["label"]).strip())
            except ValueError:
                raise InputError(f"{path}:{number}: label {row['label']!r} is not 0 (car) or 1 (no car)") from None
            if label not in (0, 1) or not name:
                raise InputError(f"{path}:{number}: expected a file name and label 0 (car) or 1 (no car)")
            if name in labels:
                raise InputError(f"{path}:{number}: {name} listed twice")
            labels[name] = label
    if not labels:
        raise InputError(f"{path}: no tiles listed")
    return labels


def _warn_published(root: Path, kind: str, counts: dict) -> None:
    """Tile counts are those of the files (any tile side), so they are compared whatever the tile size."""
    published = {"segmentation": {"tiles": PUBLISHED_DRONE_SEGMENTATION_TILES}, "classification": PUBLISHED_DRONE_CLASSIFICATION}[kind]
    if counts != published:
        log.warning("%s: differs from the published Raw-Drone data: %s %s, published %s", root, kind, counts, published)


def load_drone_tiled(
    root: Path, intensity: float, *, kind: str, tile_size: int, check_published_counts: bool = False
) -> RawDataset:
    from lens2logit.isp.camera import DRONE

    layout = DRONE_LAYOUTS[kind]
    if kind == "segmentation":
        image_root = _tile_folder(root, DRONE_TILED_IMAGES, tile_size, "tile image")
        folders = intensity_folders(image_root)
        check_same_names({f: [p.name for p in list_files(f, DRONE_IMAGE_SUFFIXES)] for f in folders.values()})
        folder = layout.image_folder(root, intensity, tile_size)
        if intensity not in folders:
            raise InputError(f"{folder}: intensity folder not found")
        files = list_files(folder, DRONE_IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"{folder}: no .tif/.tiff tiles")
        ids = [p.stem for p in files]
        mask_dir = _tile_folder(root, DRONE_TILED_MASKS, tile_size, "tile mask")
        masks = pair_masks(ids, files, mask_dir, MASK_SUFFIXES, context=f" in {image_root}", containment=True)
        targets = read_masks([masks[s] for s in ids], (tile_size, tile_size))
        if check_published_counts:
            _warn_published(root, kind, {"tiles": len(ids)})
        raw = _read_tiles(files, tile_size)
        return RawDataset("drone_segmentation", kind, intensity, ids, raw, targets, list(SEGMENTATION_CLASSES), DRONE)
    csv_path = layout.label_path(root, tile_size)
    labels = read_classification_csv(csv_path)
    folder = layout.image_folder(root, intensity, tile_size)
    if not folder.is_dir():
        raise InputError(f"{folder}: intensity folder of the classification tiles not found")
    present = {p.stem: p for p in list_files(folder, DRONE_IMAGE_SUFFIXES)}
    ids = sorted(labels)
    for name in ids:
        if name not in present:
            raise InputError(f"{folder / name}.tif: listed in {csv_path.name} but missing")
    unlisted = len(set(present) - set(labels))
    if unlisted:
        log.info("%s: %d tiles not listed in %s ignored", folder, unlisted, csv_path.name)
    targets = np.array([labels[name] for name in ids], dtype=np.int64)
    if check_published_counts:
        _warn_published(root, kind, {c: int((targets == k).sum()) for k, c in enumerate(DRONE_CLASSES)})
    raw = _read_tiles([present[name] for name in ids], tile_size)
    return RawDataset("drone_classification", kind, intensity, ids, raw, targets, list(DRONE_CLASSES), DRONE)
