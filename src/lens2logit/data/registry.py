"""The dataset registry: one entry per dataset, read by ``load_dataset``, the CLI and the workflow.

Words: a **dataset** is what is loaded (``microscopy``, ``drone_segmentation``,
``drone_classification``, ``custom``); its **kind** is the learning problem (``classification`` or
``segmentation``). A dataset's files live in a **source** folder: ``{data.root}/{source}`` for the
published datasets (two drone datasets share ``drone``), ``data.custom.root`` for ``custom``.

Adding a dataset is one entry in ``REGISTRY`` (see docs/data.md): a loader
``(root, intensity, options) -> RawDataset``, its on-disk :class:`Layout` and the facts below.

The layout (a :class:`~lens2logit.data.layout.Layout`, defined next to the names in ``data/layout.py``
so that the loaders can use it without importing the registry) is the one answer to "which files does
(dataset, intensity) read": the loaders take their folders from it, and the content fingerprint
(:mod:`lens2logit.data.manifest`), the plan-time path checks (:mod:`lens2logit.workflow.config`), ``lens2logit
data info``, the download arrangement and synthesis ask it rather than knowing the folders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from lens2logit.data.dataset import KINDS, RawDataset, check_intensity
from lens2logit.data.layout import (
    CUSTOM_LAYOUT,
    DRONE_CLASSES,
    DRONE_LAYOUTS,
    DRONE_TILE_SIZE,
    MICROSCOPY_CLASSES,
    MICROSCOPY_LAYOUT,
    Layout,
)
from lens2logit.errors import InputError


@dataclass(frozen=True)
class LoadOptions:
    """Options every loader receives; each uses what applies to it."""

    tile_size: int = DRONE_TILE_SIZE     # drone tile side (even; the published tiles')
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
            MICROSCOPY_LAYOUT,
        ),
        DatasetEntry(
            "drone_segmentation", "segmentation", _drone("segmentation"), ("background", "car"), "drone", "drone",
            DRONE_LAYOUTS["segmentation"],
        ),
        DatasetEntry(
            "drone_classification", "classification", _drone("classification"), DRONE_CLASSES, "drone", "drone",
            DRONE_LAYOUTS["classification"],
        ),
        DatasetEntry(
            "custom", None, _custom, None, None, "custom",
            CUSTOM_LAYOUT,
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
