"""On-disk layout of the real datasets (reference-spec §3), shared by loaders, synthesis and downloads."""

from __future__ import annotations

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
# registry's layouts (lens2logit.data.registry), asked for the full-frame layout.


def microscopy_image_path(stem: str, intensity: float) -> Path:
    """``images/raw_scaleXXX/{stem}.tiff``: one microscopy image at one intensity, relative to the root."""
    from lens2logit.data.registry import dataset_layout

    return dataset_layout("microscopy").image_folder(Path(), intensity) / f"{stem}{MICROSCOPY_IMAGE_SUFFIX}"


def drone_image_path(full_index: int, intensity: float) -> Path:
    """``images_full/raw_scaleXXX/NN.tif``: one full drone image at one intensity, relative to the root."""
    from lens2logit.data.registry import dataset_layout

    return dataset_layout("drone_segmentation").image_folder(Path(), intensity, pre_tiled=False) / drone_image_name(full_index)


def drone_mask_path(full_index: int) -> Path:
    """``masks_full/NN.png``: the mask of one full drone image, relative to the root."""
    from lens2logit.data.registry import dataset_layout

    return dataset_layout("drone_segmentation").label_path(Path(), pre_tiled=False) / drone_mask_name(full_index)


# ---- which drone layout a root holds (the folders per (dataset, intensity): lens2logit.data.registry)


def drone_is_pre_tiled(root: Path) -> bool:
    """True when a drone root holds the pre-tiled layout and no full frames (full frames win when both exist)."""
    root = Path(root)
    if (root / DRONE_IMAGES_FULL).is_dir():
        return False
    return any(root.glob(DRONE_TILED_IMAGES.format(tile_size="*"))) or (root / DRONE_CLASSIFICATION).is_dir()
