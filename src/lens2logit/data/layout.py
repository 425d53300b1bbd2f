"""On-disk layout of the real datasets (reference-spec §3), shared by loaders, synthesis and downloads.

The names and constants, and one :class:`Layout` per dataset (at the end): which folders and files a
(dataset, intensity) branch reads. The dataset registry gives each entry its layout; this module sits
below the loaders and the registry so that every reader asks the same object.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Light-intensity ratios; 1.0 is the reference.
INTENSITIES: tuple[float, ...] = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0)
REFERENCE_INTENSITY = 1.0

DATASETS = ("microscopy", "drone_segmentation", "drone_classification", "custom")


def intensity_folder(intensity: float) -> str:
    """``0.05`` → ``raw_scale005``."""
    if not any(abs(intensity - i) < 1e-9 for i in INTENSITIES):
        raise ValueError(f"unknown intensity {intensity!r}; expected one of {list(INTENSITIES)}")
    return f"{INTENSITY_FOLDER_PREFIX}{round(100 * intensity):03d}"


def intensity_slug(intensity: float) -> str:
    """File-system token of an intensity used in workflow paths: ``0.05`` → ``005``."""
    return intensity_folder(intensity)[len(INTENSITY_FOLDER_PREFIX):]


def intensity_from_slug(slug: str) -> float:
    """Inverse of :func:`intensity_slug`: ``"005"`` → ``0.05``; other tokens are refused."""
    known = {intensity_slug(i): i for i in INTENSITIES}
    if slug not in known:
        raise ValueError(f"unknown intensity token {slug!r}; expected one of {list(known)}")
    return known[slug]


MICROSCOPY_LABELS = Path("labels") / "Ma190c_annotations.dat"
DRONE_IMAGES_FULL = Path("images_full")
DRONE_MASKS_FULL = Path("masks_full")


INTENSITY_FOLDER_PREFIX = "raw_scale"
MICROSCOPY_IMAGES = Path("images")
MICROSCOPY_IMAGE_SUFFIX = ".tiff"
# The one file the reference code drops from Raw-Microscopy (reference-spec §3.4).
MICROSCOPY_EXCLUDED_STEMS = frozenset({"Ma190c_lame3_zone13_composite_Mcropped_2"})
# The class codes the reference code knows (Matek et al.); labels with other codes are ignored.
MICROSCOPY_KNOWN_CLASSES = (
    "BAS", "EBO", "EOS", "KSC", "LYA", "LYT", "MMZ", "MOB", "MON", "MYB", "MYO", "NGB", "NGS", "PMB", "PMO", "UNC",
)
# Classes with more than this many samples are kept.
MICROSCOPY_MIN_CLASS_SAMPLES = 4
MICROSCOPY_CLASSES = ("BAS", "EOS", "KSC", "LYA", "LYT", "MON", "NGB", "NGS", "UNC")

DRONE_IMAGE_SUFFIXES = (".tif", ".tiff")
MASK_SUFFIXES = (".png", ".tif", ".tiff")
DRONE_TILE_SIZE = 256
DRONE_CLASSES = ("car", "no car")
DRONE_CAR, DRONE_NO_CAR = 0, 1
# A tile is a "car" tile when more than this fraction of its pixels are car (reference-spec §3.5).
DRONE_CAR_FRACTION = 0.01
# Python ``random`` is re-seeded with this for every full image (reference-spec §3.5).
DRONE_SUBSAMPLE_SEED = 72
# Pre-tiled layout (the reference code's tile cache, reference-spec §3.5), relative to the drone root.
DRONE_TILED_IMAGES = "images_tiles_{tile_size}"          # /raw_scaleXXX/NN_IIIII.tif
DRONE_TILED_MASKS = "masks_tiles_{tile_size}"            # /NN_IIIII.png
DRONE_CLASSIFICATION = Path("classification")
DRONE_CLASSIFICATION_IMAGES = "images_tiles_{tile_size}/{folder}_thr_{thr}"  # under classification/
DRONE_CLASSIFICATION_CSV = "dataset_tiles_{tile_size}_{seed}_{thr}.csv"      # under classification/

# Published sizes of the real data (reference-spec §3.4, §3.5, §7); checked with a warning on real data.
PUBLISHED_MICROSCOPY_COUNTS = {
    "BAS": 18, "EOS": 54, "KSC": 163, "LYA": 30, "LYT": 230, "MON": 191, "NGB": 8, "NGS": 216, "UNC": 30,
}
PUBLISHED_DRONE_FRAMES = 12
PUBLISHED_DRONE_FRAME_SHAPE = (3648, 5472)
PUBLISHED_DRONE_SEGMENTATION_TILES = 548
PUBLISHED_DRONE_CLASSIFICATION = {"car": 465, "no car": 465}
PUBLISHED_TILE_SIZE = 256

CUSTOM_LABELS = Path("labels.csv")
CUSTOM_MASKS = Path("masks")
CUSTOM_SUFFIXES = (".dng",)

MANIFEST = "MANIFEST.sha256"
SYNTH_PARAMS = "synth.json"  # in a synthetic root: the parameters it was written with
DN_SCALE = 65535.0  # samples are DN / 65535


def parse_intensity_folder(name: str) -> float | None:
    """``raw_scale005`` → ``0.05``; None for any other name."""
    for intensity in INTENSITIES:
        if name == intensity_folder(intensity):
            return intensity
    return None


def microscopy_stem(slide: int, zone: int, k: int) -> str:
    return f"Ma190c_lame{slide}_zone{zone}_composite_Mcropped_{k}"


def drone_tile_id(full_index: int, tile_index: int) -> str:
    """Id of a tile: its full image's index and its real row-major position in that image."""
    return f"{full_index:02d}_{tile_index:05d}"


def drone_classification_csv(tile_size: int) -> str:
    """The reference code's name of the classification tile list: ``dataset_tiles_256_72_0.01.csv``."""
    return DRONE_CLASSIFICATION_CSV.format(tile_size=tile_size, seed=DRONE_SUBSAMPLE_SEED, thr=DRONE_CAR_FRACTION)


def drone_image_name(full_index: int) -> str:
    return f"{full_index:02d}.tif"


def drone_mask_name(full_index: int) -> str:
    return f"{full_index:02d}.png"


# Relative paths of single files (what synthesis writes and counts as its own); the folders are the
# dataset layouts at the end of this module, asked for the full-frame layout.


def microscopy_image_path(stem: str, intensity: float) -> Path:
    """``images/raw_scaleXXX/{stem}.tiff``: one microscopy image at one intensity, relative to the root."""
    return MICROSCOPY_LAYOUT.image_folder(Path(), intensity) / f"{stem}{MICROSCOPY_IMAGE_SUFFIX}"


def drone_image_path(full_index: int, intensity: float) -> Path:
    """``images_full/raw_scaleXXX/NN.tif``: one full drone image at one intensity, relative to the root."""
    return DRONE_LAYOUTS["segmentation"].image_folder(Path(), intensity, pre_tiled=False) / drone_image_name(full_index)


def drone_mask_path(full_index: int) -> Path:
    """``masks_full/NN.png``: the mask of one full drone image, relative to the root."""
    return DRONE_LAYOUTS["segmentation"].label_path(Path(), pre_tiled=False) / drone_mask_name(full_index)


# ---- which drone layout a root holds (the folders per (dataset, intensity): the layouts below)


def drone_is_pre_tiled(root: Path) -> bool:
    """True when a drone root holds the pre-tiled layout and no full frames (full frames win when both exist)."""
    root = Path(root)
    if (root / DRONE_IMAGES_FULL).is_dir():
        return False
    return any(root.glob(DRONE_TILED_IMAGES.format(tile_size="*"))) or (root / DRONE_CLASSIFICATION).is_dir()


# ---------------------------------------------------------------- the layout of each dataset

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



# The one instance per dataset; ``lens2logit.data.registry.REGISTRY`` gives each entry its own.
MICROSCOPY_LAYOUT = MicroscopyLayout()
DRONE_LAYOUTS = {
    "segmentation": DroneLayout(
        "segmentation", "images_full/raw_scaleXXX/*.tif + masks_full/ (full frames), or images_tiles_T/ + masks_tiles_T/"
    ),
    "classification": DroneLayout(
        "classification", "images_full/ + masks_full/ (full frames), or classification/ tiles + dataset_tiles_T_72_0.01.csv"
    ),
}
CUSTOM_LAYOUT = CustomLayout()
