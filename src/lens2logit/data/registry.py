"""The dataset registry: one entry per dataset, read by ``load_dataset``, the CLI and the workflow.

Words: a **dataset** is what is loaded (``microscopy``, ``drone_segmentation``,
``drone_classification``, ``custom``); its **kind** is the learning problem (``classification`` or
``segmentation``). A dataset's files live in a **source** folder: ``{data.root}/{source}`` for the
published datasets (two drone datasets share ``drone``), ``data.custom.root`` for ``custom``.

Adding a dataset is one entry in ``REGISTRY`` (see docs/data.md): a loader
``(root, intensity, options) -> RawDataset``, its on-disk :class:`Layout` and the facts below.

The layout is the one answer to "which files does (dataset, intensity) read": the loaders take their
folders from it, and the content fingerprint (:mod:`lens2logit.data.manifest`), the plan-time path
checks (:mod:`lens2logit.config`) and ``lens2logit data info`` ask it rather than knowing the folders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from lens2logit.data.dataset import KINDS, RawDataset, check_intensity
from lens2logit.data.layout import (
    CUSTOM_LABELS,
    CUSTOM_MASKS,
    DRONE_CAR_FRACTION,
    DRONE_CLASSES,
    DRONE_CLASSIFICATION,
    DRONE_CLASSIFICATION_IMAGES,
    DRONE_IMAGES_FULL,
    DRONE_MASKS_FULL,
    DRONE_TILE_SIZE,
    DRONE_TILED_IMAGES,
    DRONE_TILED_MASKS,
    INTENSITIES,
    MANIFEST,
    MICROSCOPY_CLASSES,
    MICROSCOPY_IMAGES,
    MICROSCOPY_LABELS,
    REFERENCE_INTENSITY,
    SYNTH_PARAMS,
    drone_classification_csv,
    drone_is_pre_tiled,
    intensity_folder,
)
from lens2logit.errors import InputError


# ---------------------------------------------------------------- on-disk layouts

# Records lens2logit writes into a dataset root: never data a branch reads.
ROOT_RECORDS = (MANIFEST, SYNTH_PARAMS)


class Layout:
    """Where one dataset's files lie under its root: the folders and files a (dataset, intensity)
    branch reads, the intensities present, and a one-line description.

    Subclasses answer three questions about a root; everything else derives from them:
    :meth:`image_folder` (the images at one intensity), :meth:`label_path` (a label file or a mask
    folder) and :meth:`listed_parent` (the folder whose ``raw_scaleXXX`` listings the loader compares
    across intensities, or None). ``tile_size`` matters to the pre-tiled drone layout only.
    """

    description: str = ""

    def image_folder(self, root: Path, intensity: float, tile_size: int = DRONE_TILE_SIZE) -> Path:
        raise NotImplementedError

    def label_path(self, root: Path, tile_size: int = DRONE_TILE_SIZE) -> Path:
        raise NotImplementedError

    def listed_parent(self, root: Path, tile_size: int = DRONE_TILE_SIZE) -> Path | None:
        raise NotImplementedError

    def describe(self, root: Path, tile_size: int = DRONE_TILE_SIZE) -> str:
        """One line: the layout ``root`` holds (default: :attr:`description`)."""
        return self.description

    def intensities(self, root: Path, tile_size: int = DRONE_TILE_SIZE) -> list[float]:
        """The intensities whose image folder exists under ``root``, ascending."""
        return [i for i in INTENSITIES if self.image_folder(Path(root), i, tile_size).is_dir()]

    def files(self, root: Path, intensity: float, tile_size: int = DRONE_TILE_SIZE) -> list[str]:
        """Relative names (posix, sorted) of the files a branch at ``intensity`` reads: every visible
        file of its image folder, and the label file or every visible file of the mask folder. What
        does not exist is left out (the loader names it)."""
        root = Path(root)
        names = set()
        for path in (self.image_folder(root, intensity, tile_size), self.label_path(root, tile_size)):
            if path.is_dir():
                names |= {p.relative_to(root).as_posix() for p in path.iterdir() if p.is_file() and not p.name.startswith(".")}
            elif path.is_file():
                names.add(path.relative_to(root).as_posix())
        return sorted(names - set(ROOT_RECORDS))  # a flat custom folder holds its manifest beside the images

    def listings(self, root: Path, tile_size: int = DRONE_TILE_SIZE) -> list[str]:
        """Relative names of every visible entry of every ``raw_scaleXXX`` folder the loader compares
        across intensities (a file added to or missing from any one fails every branch)."""
        root = Path(root)
        parent = self.listed_parent(root, tile_size)
        if parent is None:
            return []
        return sorted(
            p.relative_to(root).as_posix()
            for i in INTENSITIES
            if (parent / intensity_folder(i)).is_dir()
            for p in (parent / intensity_folder(i)).iterdir()
            if not p.name.startswith(".")
        )


class MicroscopyLayout(Layout):
    description = "images/raw_scaleXXX/<stem>.tiff + labels/Ma190c_annotations.dat"

    def image_folder(self, root, intensity, tile_size=DRONE_TILE_SIZE):
        return Path(root) / MICROSCOPY_IMAGES / intensity_folder(intensity)

    def label_path(self, root, tile_size=DRONE_TILE_SIZE):
        return Path(root) / MICROSCOPY_LABELS

    def listed_parent(self, root, tile_size=DRONE_TILE_SIZE):
        return Path(root) / MICROSCOPY_IMAGES


@dataclass(frozen=True)
class DroneLayout(Layout):
    """Raw-Drone in either layout: full frames (``images_full/``, ``masks_full/``; tiles are cut by the
    loader) or the reference code's pre-tiled folders (full frames win when a root holds both)."""

    kind: str  # segmentation | classification
    description: str = ""

    def image_folder(self, root, intensity, tile_size=DRONE_TILE_SIZE, *, pre_tiled: bool | None = None):
        """Full frames: ``images_full/raw_scaleXXX`` (both kinds); pre-tiled: ``images_tiles_T/raw_scaleXXX``
        (segmentation) or ``classification/images_tiles_T/raw_scaleXXX_thr_0.01`` (classification).
        ``pre_tiled``: which layout (None: the one ``root`` holds; a writer says which it writes)."""
        root = Path(root)
        if not (drone_is_pre_tiled(root) if pre_tiled is None else pre_tiled):
            return root / DRONE_IMAGES_FULL / intensity_folder(intensity)
        if self.kind == "segmentation":
            return root / DRONE_TILED_IMAGES.format(tile_size=tile_size) / intensity_folder(intensity)
        return root / DRONE_CLASSIFICATION / DRONE_CLASSIFICATION_IMAGES.format(
            tile_size=tile_size, folder=intensity_folder(intensity), thr=DRONE_CAR_FRACTION
        )

    def label_path(self, root, tile_size=DRONE_TILE_SIZE, *, pre_tiled: bool | None = None):
        """A mask folder (``masks_full``, ``masks_tiles_T``) or the pre-tiled classification list
        (``classification/dataset_tiles_T_72_0.01.csv``); ``pre_tiled`` as in :meth:`image_folder`."""
        root = Path(root)
        if not (drone_is_pre_tiled(root) if pre_tiled is None else pre_tiled):
            return root / DRONE_MASKS_FULL
        if self.kind == "segmentation":
            return root / DRONE_TILED_MASKS.format(tile_size=tile_size)
        return root / DRONE_CLASSIFICATION / drone_classification_csv(tile_size)

    def listed_parent(self, root, tile_size=DRONE_TILE_SIZE):
        """Full frames and segmentation tiles are compared across intensities; the classification
        tiles are selected by their list instead."""
        root = Path(root)
        if drone_is_pre_tiled(root) and self.kind == "classification":
            return None
        return self.image_folder(root, REFERENCE_INTENSITY, tile_size).parent

    def describe(self, root, tile_size=DRONE_TILE_SIZE):
        root = Path(root)
        if not drone_is_pre_tiled(root):
            return f"full frames ({DRONE_IMAGES_FULL}/raw_scaleXXX/*.tif + {DRONE_MASKS_FULL}/), tiles of {tile_size} cut by the loader"
        images = self.image_folder(root, REFERENCE_INTENSITY, tile_size).parent.relative_to(root).as_posix()
        labels = self.label_path(root, tile_size).relative_to(root).as_posix()
        return f"pre-tiled, tile size {tile_size} ({images}/ + {labels})"


class CustomLayout(Layout):
    description = "*.dng or raw_scaleXXX/*.dng + labels.csv (classification) or masks/ (segmentation)"

    def image_folder(self, root, intensity, tile_size=DRONE_TILE_SIZE):
        """``root/raw_scaleXXX`` when the root has intensity folders, else ``root`` itself (intensity 1.0)."""
        root = Path(root)
        if self.listed_parent(root) is not None or intensity != REFERENCE_INTENSITY:
            return root / intensity_folder(intensity)
        return root

    def label_path(self, root, tile_size=DRONE_TILE_SIZE):
        root = Path(root)
        return root / CUSTOM_MASKS if (root / CUSTOM_MASKS).is_dir() else root / CUSTOM_LABELS

    def listed_parent(self, root, tile_size=DRONE_TILE_SIZE):
        root = Path(root)
        return root if any((root / intensity_folder(i)).is_dir() for i in INTENSITIES) else None


@dataclass(frozen=True)
class LoadOptions:
    """Options every loader receives; each uses what applies to it."""

    tile_size: int = 256                 # drone tile side (even)
    cache_dir: str | Path | None = None  # drone tiling cache (default ``root/tiles_{tile_size}``)
    check_published_counts: bool = False  # warn where real data differ from the published sizes
    kind: str | None = None              # custom: the kind the user declared (checked against the data)


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    kind: str | None            # None: declared by the user (custom)
    loader: Callable            # (root: Path, intensity: float, options: LoadOptions) -> RawDataset
    classes: tuple[str, ...] | None  # None: read from the data
    camera: str | None          # default camera profile (lens2logit.isp.camera.CAMERAS); None: DNG metadata
    source: str                 # source folder name under data.root ("custom": data.custom.root)
    layout: Layout              # where its files lie: files per intensity, intensities present, description
    sources: tuple[str, ...] = ("synthetic", "zenodo", "b2", "path")  # how its files can be obtained


# ---------------------------------------------------------------- loaders (lazy imports: no cycles)

def _microscopy(root: Path, intensity: float, options: LoadOptions):
    from lens2logit.data.microscopy import load_microscopy

    return load_microscopy(root, intensity, check_published_counts=options.check_published_counts)


def _drone(kind: str) -> Callable:
    def load(root: Path, intensity: float, options: LoadOptions):
        from lens2logit.data.drone import load_drone

        return load_drone(
            root, intensity, kind=kind, tile_size=options.tile_size, cache_dir=options.cache_dir,
            check_published_counts=options.check_published_counts,
        )

    load.__name__ = f"load_drone_{kind}"
    return load


def _custom(root: Path, intensity: float, options: LoadOptions):
    from lens2logit.data.custom import load_custom

    data = load_custom(root, intensity)
    if options.kind is not None and options.kind != data.kind:
        raise InputError(
            f"data.custom.kind: {options.kind!r}, but {root} holds {data.kind} data "
            "(labels.csv = classification, masks/ = segmentation)"
        )
    return data


REGISTRY: Mapping[str, DatasetEntry] = {
    entry.name: entry
    for entry in (
        DatasetEntry(
            "microscopy", "classification", _microscopy, MICROSCOPY_CLASSES, "microscopy", "microscopy",
            MicroscopyLayout(),
        ),
        DatasetEntry(
            "drone_segmentation", "segmentation", _drone("segmentation"), ("background", "car"), "drone", "drone",
            DroneLayout("segmentation", "images_full/raw_scaleXXX/*.tif + masks_full/ (full frames), or images_tiles_T/ + masks_tiles_T/"),
        ),
        DatasetEntry(
            "drone_classification", "classification", _drone("classification"), DRONE_CLASSES, "drone", "drone",
            DroneLayout("classification", "images_full/ + masks_full/ (full frames), or classification/ tiles + dataset_tiles_T_72_0.01.csv"),
        ),
        DatasetEntry(
            "custom", None, _custom, None, None, "custom",
            CustomLayout(),
            sources=("path",),
        ),
    )
}


def dataset_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def get_dataset(name: str) -> DatasetEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError(f"dataset: unknown name {name!r}; expected one of {list(REGISTRY)}") from None


def dataset_kind(name: str, config: Mapping | None = None) -> str:
    """The kind of ``name``; for ``custom`` the one declared in ``config['data']['custom']['kind']``."""
    entry = get_dataset(name)
    if entry.kind is not None:
        return entry.kind
    kind = ((config or {}).get("data") or {}).get("custom", {}).get("kind")
    if kind not in KINDS:
        raise InputError(f"data.custom.kind: {kind!r}; expected one of {list(KINDS)} (needed by dataset {name!r})")
    return kind


def source_layouts(source: str) -> list[Layout]:
    """The layouts of the datasets read from ``source`` (both drone datasets read ``drone``), in
    registry order; InputError for a source no dataset has."""
    layouts = [e.layout for e in REGISTRY.values() if e.source == source]
    if not layouts:
        raise InputError(f"dataset: no layout for source {source!r}; expected one of {sorted({e.source for e in REGISTRY.values()})}")
    return layouts


def dataset_layout(name: str) -> Layout:
    """The on-disk :class:`Layout` of dataset ``name``."""
    return get_dataset(name).layout


def dataset_source(name: str) -> str:
    """The source folder of ``name`` (``microscopy`` | ``drone`` | ``custom``)."""
    return get_dataset(name).source


def dataset_root(name: str, config: Mapping) -> str:
    """Where the workflow reads ``name`` from: ``{data.root}/{source}``, or ``data.custom.root``."""
    entry = get_dataset(name)
    data = config.get("data") or {}
    if entry.name == "custom":
        root = (data.get("custom") or {}).get("root")
        if not root:
            raise InputError("data.custom.root: missing; the custom dataset needs the folder of its DNG files")
        return str(root)
    return f"{data['root']}/{entry.source}"


def check_datasets(config: Mapping) -> None:
    """Plan-time check of the configured datasets: known names, and a usable ``data.custom`` when needed."""
    for name in config.get("datasets", []):
        get_dataset(name)
        if name == "custom":
            root = Path(dataset_root(name, config))
            dataset_kind(name, config)
            if not root.is_dir():
                raise InputError(f"data.custom.root: {root} is not a folder")
            _check_custom_intensities(root, config)


def _check_custom_intensities(root: Path, config: Mapping) -> None:
    """Stages that need other light intensities than a custom folder holds fail here, not in a job."""
    from lens2logit.data.custom import custom_folders
    from lens2logit.data.layout import INTENSITIES

    have = sorted(custom_folders(root))
    needed = []
    drift = config.get("intensity_drift") or {}
    if drift.get("enabled", True):
        needed += [("intensity_drift.intensities", i) for i in drift.get("intensities", INTENSITIES)]
    custom = config.get("customization") or {}
    if custom.get("enabled", False):
        needed += [("customization.intensities", i) for i in custom.get("intensities", [0.01, 0.05])]
    for key, intensity in needed:
        if not any(abs(float(intensity) - h) < 1e-9 for h in have):
            raise InputError(
                f"{key}: {intensity} is not in the custom data at {root} (intensities there: {have}; "
                "a flat folder of DNGs is intensity 1.0 — disable the stage or add raw_scaleXXX folders)"
            )


def is_real_source(name: str, config: Mapping) -> bool:
    """True when ``name`` is read from real (non-synthetic) files: published counts are then checked."""
    return get_dataset(name).name != "custom" and (config.get("data") or {}).get("source") != "synthetic"


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
    entry = get_dataset(name)
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset root not found")
    intensity = check_intensity(intensity)
    options = LoadOptions(tile_size=tile_size, cache_dir=cache_dir, check_published_counts=check_published_counts, kind=kind)
    return entry.loader(root, intensity, options)
