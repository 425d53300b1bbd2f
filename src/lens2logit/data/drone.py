"""Raw-Drone loader: full images → non-overlapping tiles, cached on disk (reference-spec §3.5).

The tile selection (segmentation: tiles with a car pixel; classification: balanced car / no-car
tiles, the reference code's exact algorithm) is decided from the masks only, so it is identical at
every intensity. The classification selection is also written as the reference code's CSV
(``dataset_tiles_256_72_0.01.csv``, plus a ``tile_index`` column) next to the tile cache.

Two layouts are read: full frames (``images_full/`` + ``masks_full/``) and the pre-tiled one the
reference code leaves behind (``images_tiles_256/``, ``masks_tiles_256/``, ``classification/``);
see :mod:`lens2logit.data.drone_tiled`.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lens2logit.data.dataset import KINDS, RawDataset
from lens2logit.data.files import (
    pair_masks,
    check_equal_size,
    check_same_names,
    fingerprint,
    intensity_folders,
    list_files,
    read_mask,
    read_tiff_mosaic,
    to_unit,
)
from lens2logit.data.layout import (
    DRONE_CAR,
    DRONE_CAR_FRACTION,
    DRONE_CLASSES,
    DRONE_LAYOUTS,
    DRONE_IMAGE_SUFFIXES,
    DRONE_NO_CAR,
    DRONE_SUBSAMPLE_SEED,
    MASK_SUFFIXES,
    PUBLISHED_DRONE_CLASSIFICATION,
    PUBLISHED_DRONE_FRAME_SHAPE,
    PUBLISHED_DRONE_FRAMES,
    PUBLISHED_DRONE_SEGMENTATION_TILES,
    PUBLISHED_TILE_SIZE,
    drone_classification_csv,
    drone_is_pre_tiled,
    drone_tile_id,
    intensity_folder,
)
from lens2logit.errors import InputError
from lens2logit.io import atomic_path, save_npy, write_text

log = logging.getLogger(__name__)


def _layout():
    """The drone layout of the registry (both drone datasets read the same full frames)."""
    return DRONE_LAYOUTS["segmentation"]

# Part of the cache names: caches of another selection rule are never read (2: the reference shuffle;
# 1 used random.sample and sorted the classification rows).
SELECTION_VERSION = 2
SEGMENTATION_CLASSES = ("background", "car")  # mask value = index


@dataclass(frozen=True)
class DroneSources:
    stems: list[str]                 # full-image stems, sorted; index = full_index
    images: dict[float, list[Path]]  # per intensity, aligned with stems
    masks: list[Path]


def drone_sources(root: Path) -> DroneSources:
    """Check the full images and masks of a drone root by name: same files at every intensity, one mask each."""
    image_root = _layout().listed_parent(root)  # which folders: the registry's drone layout
    folders = intensity_folders(image_root)
    if not folders:
        raise InputError(f"{image_root}: no raw_scaleXXX folders")
    files = {i: list_files(f, DRONE_IMAGE_SUFFIXES) for i, f in folders.items()}
    check_same_names({folders[i]: [p.name for p in fs] for i, fs in files.items()})
    first = next(iter(files.values()))
    stems = [p.stem for p in first]
    if not stems:
        raise InputError(f"{next(iter(folders.values()))}: no .tif/.tiff images")
    if len(set(stems)) != len(stems):
        raise InputError(f"{first[0].parent}: two images share a stem")
    mask_root = _layout().label_path(root)
    masks = pair_masks(stems, first, mask_root, MASK_SUFFIXES, context=f" in {image_root}", containment=True)
    return DroneSources(stems, files, [masks[s] for s in stems])


def tile_origins(height: int, width: int, tile_size: int) -> list[tuple[int, int]]:
    """Top-left corners of the non-overlapping tiles, row-major, remainders dropped."""
    return [(y, x) for y in range(0, height - tile_size + 1, tile_size) for x in range(0, width - tile_size + 1, tile_size)]


def balance(car: list[int], empty: list[int], seed: int = DRONE_SUBSAMPLE_SEED) -> tuple[list[int], list[int]]:
    """The reference code's per-image balancing of car / no-car tile indices (reference-spec §3.5).

    With N car and M empty tiles, the larger list is shuffled by Python ``random`` seeded with
    ``seed`` (a fresh ``random.Random(seed)``, the same stream as ``random.seed(seed); random.shuffle``)
    and its first ``|M − N|`` entries are dropped; both results keep ascending order.
    """
    rng = random.Random(seed)
    majority = list(empty if len(car) <= len(empty) else car)
    rng.shuffle(majority)
    dropped = set(majority[: abs(len(empty) - len(car))])
    return [i for i in car if i not in dropped], [i for i in empty if i not in dropped]


def select_tiles(mask_tiles: np.ndarray) -> tuple[list[int], list[tuple[int, int]]]:
    """For the tiles of one full image: (segmentation tile indices, classification (tile index, label)).

    Classification: mean 0 → no car; mean > DRONE_CAR_FRACTION → car; in between dropped; the
    majority class reduced by :func:`balance`. Classification rows come in the reference code's order:
    car tiles then no-car tiles, each ascending (their rank is the reference tile number).
    """
    means = mask_tiles.reshape(len(mask_tiles), -1).mean(axis=1)
    segmentation = [int(i) for i in np.flatnonzero(means > 0)]
    car = [int(i) for i in np.flatnonzero(means > DRONE_CAR_FRACTION)]
    empty = [int(i) for i in np.flatnonzero(means == 0)]
    car, empty = balance(car, empty)
    classification = [(i, DRONE_CAR) for i in car] + [(i, DRONE_NO_CAR) for i in empty]
    return segmentation, classification


def cut_tiles(image: np.ndarray, tile_size: int) -> np.ndarray:
    origins = tile_origins(*image.shape, tile_size)
    return np.stack([image[y : y + tile_size, x : x + tile_size] for y, x in origins]) if origins else np.empty(
        (0, tile_size, tile_size), image.dtype
    )


def _replace_stale(cache_dir: Path, prefix: str, keep: Path) -> None:
    for old in cache_dir.glob(f"{prefix}-*"):
        if old != keep and not old.name.startswith("."):
            old.unlink(missing_ok=True)


def tile_selection(sources: DroneSources, root: Path, tile_size: int, cache_dir: Path) -> dict:
    """Selected tile ids, classification labels and tile masks; cached, invalidated when a mask changes."""
    key = fingerprint(sources.masks, root)
    prefix = f"selection-v{SELECTION_VERSION}-t{tile_size}"
    path = cache_dir / f"{prefix}-{key}.npz"
    if path.is_file():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    ids, masks, seg, cls_ids, cls_labels, cls_names, shapes = [], [], [], [], [], [], []
    for full_index, mask_path in enumerate(sources.masks):
        mask = read_mask(mask_path)
        shapes.append(mask.shape)
        tiles = cut_tiles(mask, tile_size)
        segmentation, classification = select_tiles(tiles)
        keep = sorted(set(segmentation) | {i for i, _ in classification})
        ids += [drone_tile_id(full_index, i) for i in keep]
        masks += [tiles[i] for i in keep]
        seg += [drone_tile_id(full_index, i) for i in segmentation]
        cls_ids += [drone_tile_id(full_index, i) for i, _ in classification]
        cls_labels += [label for _, label in classification]
        cls_names += [drone_tile_id(full_index, rank) for rank in range(len(classification))]
    selection = {
        "ids": np.array(ids, dtype=str),
        "masks": np.stack(masks).astype(np.uint8) if masks else np.zeros((0, tile_size, tile_size), np.uint8),
        "segmentation": np.array(seg, dtype=str),
        "classification": np.array(cls_ids, dtype=str),
        "labels": np.array(cls_labels, dtype=np.int64),
        "reference_names": np.array(cls_names, dtype=str),
        "shapes": np.array(shapes, dtype=np.int64).reshape(-1, 2),
    }
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **selection)
    _replace_stale(cache_dir, prefix, path)
    return selection


def intensity_tiles(
    sources: DroneSources, root: Path, intensity: float, tile_size: int, cache_dir: Path, selection: dict
) -> np.ndarray:
    """uint16 tiles of ``selection['ids']`` at one intensity; cached, invalidated when an image or mask changes."""
    images = sources.images[intensity]
    key = fingerprint([*images, *sources.masks], root)
    prefix = f"{intensity_folder(intensity)}-v{SELECTION_VERSION}-t{tile_size}"
    path = cache_dir / f"{prefix}-{key}.npy"
    if path.is_file():
        return np.load(path)
    wanted: dict[int, list[int]] = {}
    for tile_id in selection["ids"]:
        full, tile = (int(part) for part in str(tile_id).split("_"))
        wanted.setdefault(full, []).append(tile)
    tiles, floats = [], 0
    for full_index, image_path in enumerate(images):
        image = read_tiff_mosaic(image_path)
        floats += image.dtype.kind == "f"
        check_equal_size(sources.masks[full_index], tuple(selection["shapes"][full_index]), image.shape, "mask")
        if full_index in wanted:
            all_tiles = cut_tiles(image, tile_size)
            tiles += [all_tiles[i] for i in wanted[full_index]]
    if floats:
        log.info("%s: %d float TIFFs with non-integer DN values read as float DN", images[0].parent, floats)
    stacked = np.stack(tiles) if tiles else np.zeros((0, tile_size, tile_size), np.uint16)
    save_npy(path, stacked)
    _replace_stale(cache_dir, prefix, path)
    return stacked


def write_classification_csv(selection: dict, path: Path) -> Path:
    """The classification tiles as the reference code's CSV, plus each tile's row-major position.

    Columns: unnamed row index, ``file name`` (the reference id ``NN_IIIII``: full image, then the
    tile's rank among that image's selected car tiles followed by its no-car tiles), ``label``
    (0 = car, 1 = no car), ``tile_index`` (row-major position of the tile in its full frame).
    """
    rows = [["", "file name", "label", "tile_index"]]
    for k, (name, tile_id, label) in enumerate(
        zip(selection["reference_names"], selection["classification"], selection["labels"])
    ):
        rows.append([str(k), str(name), str(int(label)), str(int(str(tile_id).split("_")[1]))])
    text = "".join(",".join(row) + "\n" for row in rows)
    if not path.is_file() or path.read_text() != text:
        write_text(path, text)
    return path


def check_published(selection: dict, tile_size: int, where: Path) -> list[str]:
    """Warn (and return the messages) where real drone data differ from the published sizes."""
    problems = []
    shapes = [tuple(int(v) for v in s) for s in selection["shapes"]]
    if len(shapes) != PUBLISHED_DRONE_FRAMES:
        problems.append(f"{len(shapes)} full frames, published {PUBLISHED_DRONE_FRAMES}")
    odd = sorted({s for s in shapes if s != PUBLISHED_DRONE_FRAME_SHAPE})
    if odd:
        problems.append(f"frame sizes {odd}, published {PUBLISHED_DRONE_FRAME_SHAPE}")
    if tile_size == PUBLISHED_TILE_SIZE:
        n_seg = len(selection["segmentation"])
        if n_seg != PUBLISHED_DRONE_SEGMENTATION_TILES:
            problems.append(f"{n_seg} segmentation tiles, published {PUBLISHED_DRONE_SEGMENTATION_TILES}")
        labels = selection["labels"].tolist()
        counts = {name: labels.count(k) for k, name in enumerate(DRONE_CLASSES)}
        if counts != PUBLISHED_DRONE_CLASSIFICATION:
            problems.append(f"classification tiles {counts}, published {PUBLISHED_DRONE_CLASSIFICATION}")
    for problem in problems:
        log.warning("%s: differs from the published Raw-Drone data: %s", where, problem)
    return problems


def load_drone(
    root: Path, intensity: float, *, kind: str, tile_size: int, cache_dir=None, check_published_counts: bool = False
) -> RawDataset:
    """Drone tiles at one intensity from the full-frame or the pre-tiled layout.

    ``check_published_counts``: warn where the data differ from the published Raw-Drone sizes (real data only).
    """
    from lens2logit.data.drone_tiled import load_drone_tiled
    from lens2logit.isp.camera import DRONE

    if kind not in KINDS:
        raise InputError(f"dataset: unknown drone kind {kind!r}; expected one of {list(KINDS)}")
    if not isinstance(tile_size, int) or tile_size < 2 or tile_size % 2:
        raise InputError(f"tile_size: {tile_size!r} must be a positive even integer (keeps the Bayer phase)")
    if drone_is_pre_tiled(root):
        return load_drone_tiled(root, intensity, kind=kind, tile_size=tile_size, check_published_counts=check_published_counts)
    sources = drone_sources(root)
    if intensity not in sources.images:
        raise InputError(f"{_layout().image_folder(root, intensity)}: intensity folder not found")
    cache_dir = Path(cache_dir) if cache_dir is not None else root / f"tiles_{tile_size}"
    selection = tile_selection(sources, root, tile_size, cache_dir)
    if kind == "classification":
        csv_path = write_classification_csv(selection, cache_dir / drone_classification_csv(tile_size))
        log.info("classification tiles listed in %s (reference columns + tile_index)", csv_path)
    if check_published_counts:
        check_published(selection, tile_size, root)
    tiles = intensity_tiles(sources, root, intensity, tile_size, cache_dir, selection)
    position = {str(t): k for k, t in enumerate(selection["ids"])}
    if kind == "segmentation":
        ids = [str(t) for t in selection["segmentation"]]
        rows = [position[t] for t in ids]
        targets, classes = selection["masks"][rows].astype(np.uint8), list(SEGMENTATION_CLASSES)
    else:
        # Sorted by id (dataset contract); the CSV keeps the reference code's order.
        order = np.argsort(selection["classification"], kind="stable")
        ids = [str(selection["classification"][k]) for k in order]
        rows = [position[t] for t in ids]
        targets, classes = selection["labels"][order].astype(np.int64), list(DRONE_CLASSES)
    if not ids:
        raise InputError(f"{_layout().label_path(root)}: no {kind} tiles of size {tile_size}")
    raw = to_unit(tiles[rows])
    return RawDataset(f"drone_{kind}", kind, intensity, ids, raw, targets, classes, DRONE)
