"""Each registry entry owns its on-disk layout (issue 19, item 3).

The files a (dataset, intensity) branch reads, the intensities a root holds and the layout's
description come from one :class:`~lens2logit.data.registry.Layout` per dataset; the loaders, the
content fingerprint, the plan-time checks and ``data info`` agree because they all ask it. The
fingerprint of unchanged data is pinned: a changed fingerprint reruns users' jobs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lens2logit.data import load_dataset
from lens2logit.data.layout import INTENSITIES, CustomLayout, DroneLayout, Layout
from lens2logit.data.manifest import branch_files, branch_fingerprint, intensity_listings
from lens2logit.data.registry import REGISTRY, dataset_layout, source_layouts
from lens2logit.data.synth import synthesize
from lens2logit.errors import InputError
from test_data_paper import write_tiled_drone

TILE = 16

# Byte-level trees (contents are not images: the fingerprint never decodes a file).
TREES = {
    "microscopy": [
        "images/raw_scale005/a.tiff", "images/raw_scale005/b.tiff", "images/raw_scale100/a.tiff",
        "images/raw_scale100/b.tiff", "images/raw_scale100/notes.txt", "labels/Ma190c_annotations.dat",
        "images/raw_scale005/.hidden", "rgb/ignored.png",
    ],
    "full": [
        "images_full/raw_scale005/00.tif", "images_full/raw_scale100/00.tif", "masks_full/00.png",
        "tiles_16/cache.npy",
    ],
    "tiled": [
        "images_tiles_16/raw_scale005/00_00000.tif", "images_tiles_16/raw_scale100/00_00000.tif",
        "masks_tiles_16/00_00000.png", "classification/images_tiles_16/raw_scale005_thr_0.01/00_00001.tif",
        "classification/images_tiles_16/raw_scale100_thr_0.01/00_00001.tif",
        "classification/dataset_tiles_16_72_0.01.csv",
    ],
}
# Computed with the code before the layouts moved into the registry (commit 2e574c2): unchanged data
# must keep these, or every user's branches rerun.
PINNED = {
    "microscopy": {0.05: "0fd8d81a03f1b23d260d", 1.0: "d6bd79afa5ae4d361299"},
    "full": {0.05: "e25b48f72bc047df8c9d", 1.0: "5aef2a5dd03c0baeddf9"},
    "tiled": {0.05: "72c86e9e436890b1f766", 1.0: "b706002f1808ff01e593"},
}


def write_tree(root: Path, layout: str) -> Path:
    """``TREES[layout]`` under ``root``, each file holding its own name."""
    for name in TREES[layout]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    return root


@pytest.mark.parametrize("layout", sorted(TREES))
def test_fingerprints_of_unchanged_data_are_those_of_before(tmp_path, layout):
    source = "microscopy" if layout == "microscopy" else "drone"
    root = write_tree(tmp_path / layout, layout)
    got = {i: branch_fingerprint(source, root, i, tile_size=TILE, cache_dir=None) for i in (0.05, 1.0)}
    assert got == PINNED[layout]


def test_every_registry_entry_has_a_layout_with_a_description():
    assert all(isinstance(e.layout, Layout) and e.layout.description for e in REGISTRY.values())
    assert source_layouts("drone") == [dataset_layout("drone_segmentation"), dataset_layout("drone_classification")]
    with pytest.raises(InputError, match="no layout for source 'nowhere'"):
        source_layouts("nowhere")
    with pytest.raises(InputError, match="no layout for source 'nowhere'"):
        branch_files("nowhere", Path("."), 1.0)


def test_microscopy_layout_files_and_intensities(tmp_path):
    root = write_tree(tmp_path, "microscopy")
    layout = dataset_layout("microscopy")
    assert layout.intensities(root) == [0.05, 1.0]
    assert layout.files(root, 0.05) == [
        "images/raw_scale005/a.tiff", "images/raw_scale005/b.tiff", "labels/Ma190c_annotations.dat"]
    assert "images/raw_scale100/notes.txt" in layout.files(root, 1.0)  # a foreign file in the folder counts
    assert layout.files(root, 0.5) == ["labels/Ma190c_annotations.dat"]  # a missing folder: the loader names it
    assert layout.listings(root) == sorted(n for n in TREES["microscopy"] if n.startswith("images/") and ".hidden" not in n)


def test_microscopy_layout_covers_what_the_loader_reads(tmp_path):
    root = synthesize("microscopy", tmp_path / "m", seed=1, n=5, size=32)
    data = load_dataset("microscopy", root, 0.05)
    files = set(dataset_layout("microscopy").files(root, 0.05))
    assert {f"images/raw_scale005/{i}.tiff" for i in data.ids} | {"labels/Ma190c_annotations.dat"} <= files
    assert dataset_layout("microscopy").intensities(root) == list(INTENSITIES)


def test_both_drone_datasets_read_the_full_frames(tmp_path):
    root = write_tree(tmp_path, "full")
    seg, cls = dataset_layout("drone_segmentation"), dataset_layout("drone_classification")
    expected = ["images_full/raw_scale005/00.tif", "masks_full/00.png"]
    assert seg.files(root, 0.05, TILE) == cls.files(root, 0.05, TILE) == expected  # the tile cache is not data
    assert seg.intensities(root, TILE) == cls.intensities(root, TILE) == [0.05, 1.0]
    assert seg.intensities(root, 999) == [0.05, 1.0]  # full frames: any tile size
    assert seg.describe(root, TILE).startswith("full frames")
    shutil.rmtree(root / "images_full/raw_scale005")
    assert seg.intensities(root, TILE) == [1.0]


def test_pre_tiled_drone_layout_per_dataset(tmp_path):
    root = write_tree(tmp_path, "tiled")
    seg, cls = dataset_layout("drone_segmentation"), dataset_layout("drone_classification")
    assert seg.files(root, 0.05, TILE) == ["images_tiles_16/raw_scale005/00_00000.tif", "masks_tiles_16/00_00000.png"]
    assert cls.files(root, 0.05, TILE) == [
        "classification/dataset_tiles_16_72_0.01.csv",
        "classification/images_tiles_16/raw_scale005_thr_0.01/00_00001.tif"]
    assert cls.intensities(root, TILE) == seg.intensities(root, TILE) == [0.05, 1.0]
    assert seg.intensities(root, 32) == []  # tiles of another size are not these
    assert cls.listings(root, TILE) == []  # the classification tiles are chosen by their list
    assert seg.listings(root, TILE) == intensity_listings("drone", root, tile_size=TILE)
    assert set(branch_files("drone", root, 0.05, tile_size=TILE)) == {*seg.files(root, 0.05, TILE), *cls.files(root, 0.05, TILE)}
    assert "pre-tiled, tile size 16 (images_tiles_16/ + masks_tiles_16)" == seg.describe(root, TILE)
    assert "classification/dataset_tiles_16_72_0.01.csv" in cls.describe(root, TILE)
    write_tree(root, "full")  # full frames win when a root holds both
    assert seg.files(root, 0.05, TILE) == ["images_full/raw_scale005/00.tif", "masks_full/00.png"]


def test_pre_tiled_layout_is_what_the_loaders_read(tmp_path):
    write_tiled_drone(tmp_path, 6, 8, tile=TILE, intensities=(0.05, 1.0))
    for name in ("drone_segmentation", "drone_classification"):
        data = load_dataset(name, tmp_path, 0.05, tile_size=TILE)
        layout = dataset_layout(name)
        folder = layout.image_folder(tmp_path, 0.05, TILE).relative_to(tmp_path).as_posix()
        assert {f"{folder}/{i}.tif" for i in data.ids} <= set(layout.files(tmp_path, 0.05, TILE))


def test_custom_layout_flat_and_with_intensity_folders(tmp_path):
    layout = dataset_layout("custom")
    assert isinstance(layout, CustomLayout) and not isinstance(layout, DroneLayout)
    (tmp_path / "a.dng").write_text("a")
    (tmp_path / "labels.csv").write_text("file,label\na,cat\n")
    assert layout.intensities(tmp_path) == [1.0]  # a flat folder of DNGs is the reference intensity
    assert layout.image_folder(tmp_path, 1.0) == tmp_path
    assert layout.label_path(tmp_path) == tmp_path / "labels.csv"
    (tmp_path / "MANIFEST.sha256").write_text("")
    assert layout.files(tmp_path, 1.0) == ["a.dng", "labels.csv"]  # the manifest beside them is no data
    assert branch_files("custom", tmp_path, 1.0) == ["a.dng", "labels.csv"]  # any registry source can be fingerprinted
    assert layout.listings(tmp_path) == []
    for folder in ("raw_scale005", "raw_scale100", "masks"):
        (tmp_path / folder).mkdir()
    (tmp_path / "raw_scale005" / "a.dng").write_text("a")
    assert layout.intensities(tmp_path) == [0.05, 1.0]
    assert layout.image_folder(tmp_path, 1.0) == tmp_path / "raw_scale100"
    assert layout.label_path(tmp_path) == tmp_path / "masks"
    assert layout.listings(tmp_path) == ["raw_scale005/a.dng"]
