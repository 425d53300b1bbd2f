"""Loaders of the real layouts (reference-spec §3): microscopy labels and classes, drone tiling and
selection, and one clear InputError naming the file for every kind of bad input."""

from __future__ import annotations

import random

import numpy as np
import pytest
import tifffile
from PIL import Image

from lens2logit.data import INTENSITIES, RawDataset, load_dataset
from lens2logit.data.layout import intensity_folder, microscopy_stem
from lens2logit.errors import InputError

SIDE = 8


def dn_value(index: int, k: int) -> int:
    return 1000 + 100 * index + k  # distinct per image and intensity


def make_microscopy(root, classes_counts, *, intensities=INTENSITIES, extra_labels=()):
    stems = []
    for cls, count in classes_counts.items():
        stems += [(microscopy_stem(1, len(stems) + i + 1, 1), cls) for i in range(count)]
    for k, intensity in enumerate(INTENSITIES):
        if intensity not in intensities:
            continue
        folder = root / "images" / intensity_folder(intensity)
        folder.mkdir(parents=True, exist_ok=True)
        for index, (stem, _) in enumerate(stems):
            tifffile.imwrite(folder / f"{stem}.tiff", np.full((SIDE, SIDE), dn_value(index, k), np.uint16))
    (root / "labels").mkdir(parents=True, exist_ok=True)
    lines = [f"{s} {c}" for s, c in stems] + list(extra_labels)
    (root / "labels" / "Ma190c_annotations.dat").write_text("\n".join(lines) + "\n")
    return stems


def test_microscopy_classes_values_and_exclusion(tmp_path):
    stems = make_microscopy(tmp_path, {"NGS": 5, "BAS": 6, "MYB": 4})
    # The reference's excluded file, present and labelled, is dropped.
    excluded = "Ma190c_lame3_zone13_composite_Mcropped_2"
    for k, intensity in enumerate(INTENSITIES):
        tifffile.imwrite(tmp_path / "images" / intensity_folder(intensity) / f"{excluded}.tiff", np.zeros((SIDE, SIDE), np.uint16))
    with open(tmp_path / "labels" / "Ma190c_annotations.dat", "a") as fh:
        fh.write(f"{excluded} NGS\n")
    data = load_dataset("microscopy", tmp_path, 0.05)
    assert isinstance(data, RawDataset) and data.kind == "classification" and data.intensity == 0.05
    assert data.classes == ["BAS", "NGS"]  # MYB has only 4 samples (> 4 required); alphabetical
    assert excluded not in data.ids and data.ids == sorted(data.ids) and len(data.ids) == 11
    k = INTENSITIES.index(0.05)
    for sample_id, raw, target in zip(data.ids, data.raw, data.targets):
        index = [s for s, _ in stems].index(sample_id)
        assert raw.dtype == np.float32 and np.all(raw == np.float32(dn_value(index, k) / 65535))
        assert data.classes[target] == dict(stems)[sample_id]
    assert data.camera.name == "microscopy"


def _drop_one(root, intensity):
    victim = sorted((root / "images" / intensity_folder(intensity)).iterdir())[0]
    victim.unlink()
    return victim.name


@pytest.mark.parametrize("breakage", [
    "missing_between_intensities", "extra_between_intensities", "wrong_dtype", "unreadable", "labels_match_no_image",
    "conflicting_labels", "wrong_size", "odd_size",
])
def test_microscopy_bad_input_names_the_file(tmp_path, breakage):
    stems = make_microscopy(tmp_path, {"NGS": 5, "LYT": 5})
    folder = tmp_path / "images" / intensity_folder(0.5)
    first = folder / f"{stems[0][0]}.tiff"
    expected = first.name
    if breakage == "missing_between_intensities":
        expected = _drop_one(tmp_path, 0.25)
    elif breakage == "extra_between_intensities":
        tifffile.imwrite(folder / "stray.tiff", np.zeros((SIDE, SIDE), np.uint16))
        expected = "stray.tiff"
    elif breakage == "wrong_dtype":
        tifffile.imwrite(first, np.zeros((SIDE, SIDE), np.uint8))
    elif breakage == "unreadable":
        first.write_bytes(b"not a tiff at all")
    elif breakage == "labels_match_no_image":
        # Labels left over from another dataset: none names an image (was: lenient per label).
        (tmp_path / "labels" / "Ma190c_annotations.dat").write_text("other_1 NGS\nother_2 LYT\n")
        expected = "Ma190c_annotations.dat: no label matches an image"
    elif breakage == "conflicting_labels":
        with open(tmp_path / "labels" / "Ma190c_annotations.dat", "a") as fh:
            fh.write(f"{stems[0][0]} LYT\n")
        expected = f"{stems[0][0]} labelled twice"
    elif breakage == "wrong_size":
        tifffile.imwrite(folder / f"{stems[-1][0]}.tiff", np.zeros((SIDE, SIDE + 2), np.uint16))
        expected = "zone10_composite_Mcropped_1.tiff"  # named whether read first or not
    elif breakage == "odd_size":
        tifffile.imwrite(first, np.zeros((SIDE, SIDE - 1), np.uint16))
    with pytest.raises(InputError, match=expected) as info:
        load_dataset("microscopy", tmp_path, 0.5)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("args, field", [
    (("nonsense", 1.0), "dataset"), (("microscopy", 0.3), "intensity"), (("microscopy", "x"), "intensity"),
])
def test_bad_options_name_the_option(tmp_path, args, field):
    make_microscopy(tmp_path, {"NGS": 5})
    with pytest.raises(InputError, match=f"^{field}"):
        load_dataset(args[0], tmp_path, args[1])


# ------------------------------------------------------------------------------------------ drone

TILE = 16


def tile_dn(full: int, tile: int, k: int) -> int:
    return 4096 + 1000 * full + 10 * tile + k


def make_drone(root, masks, *, shape=(2 * TILE, 3 * TILE), intensities=INTENSITIES):
    """Full images whose tiles hold a value encoding (full image, tile position, intensity)."""
    rows, cols = shape[0] // TILE, shape[1] // TILE
    for k, intensity in enumerate(INTENSITIES):
        if intensity not in intensities:
            continue
        folder = root / "images_full" / intensity_folder(intensity)
        folder.mkdir(parents=True, exist_ok=True)
        for full in range(len(masks)):
            image = np.full(shape, 7, np.uint16)
            for t in range(rows * cols):
                r, c = divmod(t, cols)
                image[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = tile_dn(full, t, k)
            tifffile.imwrite(folder / f"{full:02d}.tif", image)
    (root / "masks_full").mkdir(parents=True, exist_ok=True)
    for full, mask in enumerate(masks):
        Image.fromarray((mask * 255).astype(np.uint8)).save(root / "masks_full" / f"{full:02d}.png")


def mask_with(car_pixels_per_tile: dict[int, int], shape=(2 * TILE, 3 * TILE)):
    mask = np.zeros(shape, np.uint8)
    cols = shape[1] // TILE
    for t, n in car_pixels_per_tile.items():
        r, c = divmod(t, cols)
        block = mask[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE].reshape(-1)
        block[:n] = 1
        mask[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = block.reshape(TILE, TILE)
    return mask


@pytest.fixture
def drone_root(tmp_path):
    masks = [
        mask_with({0: 256, 1: 5, 2: 1}),   # car, car (5/256 > 0.01), 1 px (segmentation only); 3 empty
        mask_with({}),                      # no car anywhere: contributes nothing (the stale-index case)
        mask_with({t: 40 for t in range(6)}),  # cars everywhere: no empty tile to balance with
        mask_with({4: 3}),                  # one car tile among five empty ones
    ]
    make_drone(tmp_path, masks)
    return tmp_path


def test_drone_segmentation_tiles_at_their_real_positions(drone_root):
    data = load_dataset("drone_segmentation", drone_root, 0.1, tile_size=TILE)
    expected = ["00_00000", "00_00001", "00_00002"] + [f"02_{t:05d}" for t in range(6)] + ["03_00004"]
    assert data.ids == expected and data.kind == "segmentation"
    k = INTENSITIES.index(0.1)
    for tile_id, raw, mask in zip(data.ids, data.raw, data.targets):
        full, tile = map(int, tile_id.split("_"))
        assert np.all(raw == np.float32(tile_dn(full, tile, k) / 65535))  # the tile's own pixels
        assert mask.dtype == np.uint8 and mask.any()
    assert data.targets[2].sum() == 1


def test_drone_classification_balanced_seeded_and_same_across_intensities(drone_root):
    data = load_dataset("drone_classification", drone_root, 1.0, tile_size=TILE)
    assert data.classes == ["car", "no car"]
    by_id = dict(zip(data.ids, data.targets.tolist()))
    # Image 00: cars 0, 1 (tile 2 is 0 < mean ≤ 0.01: dropped); empty 3, 4, 5 reduced to 2 as the
    # reference does: random.seed(72); random.shuffle(majority); drop the first M − N.
    majority = [3, 4, 5]
    random.seed(72)
    random.shuffle(majority)
    empty00 = sorted(set([3, 4, 5]) - set(majority[:1]))
    assert {i: l for i, l in by_id.items() if i.startswith("00_")} == {
        "00_00000": 0, "00_00001": 0, **{f"00_{t:05d}": 1 for t in empty00}}
    assert not any(i.startswith(("01_", "02_")) for i in by_id)  # unbalanceable images contribute nothing
    assert sum(1 for i in by_id if i.startswith("03_")) == 2 and by_id["03_00004"] == 0
    for intensity in (0.01, 0.5):
        other = load_dataset("drone_classification", drone_root, intensity, tile_size=TILE)
        assert other.ids == data.ids and np.array_equal(other.targets, data.targets)
    for tile_id, raw in zip(data.ids, data.raw):
        full, tile = map(int, tile_id.split("_"))
        assert raw[0, 0] == np.float32(tile_dn(full, tile, INTENSITIES.index(1.0)) / 65535)


def test_drone_remainders_dropped_and_cache_invalidated(tmp_path):
    make_drone(tmp_path, [mask_with({0: 256, 4: 9}, shape=(2 * TILE + 6, 3 * TILE + 4))], shape=(2 * TILE + 6, 3 * TILE + 4))
    first = load_dataset("drone_segmentation", tmp_path, 1.0, tile_size=TILE)
    assert first.ids == ["00_00000", "00_00004"] and first.raw.shape == (2, TILE, TILE)
    cache = sorted((tmp_path / f"tiles_{TILE}").iterdir())
    stamps = {p.name: p.stat().st_mtime_ns for p in cache}
    again = load_dataset("drone_segmentation", tmp_path, 1.0, tile_size=TILE)
    assert np.array_equal(again.raw, first.raw)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / f"tiles_{TILE}").iterdir()} == stamps  # cache hit
    # Change the source image: the cache must not serve stale tiles.
    path = tmp_path / "images_full" / "raw_scale100" / "00.tif"
    tifffile.imwrite(path, np.full((2 * TILE + 6, 3 * TILE + 4), 5000, np.uint16))
    changed = load_dataset("drone_segmentation", tmp_path, 1.0, tile_size=TILE)
    assert np.all(changed.raw == np.float32(5000 / 65535))
    # Custom cache folder and another tile size live side by side.
    other = load_dataset("drone_segmentation", tmp_path, 1.0, tile_size=8, cache_dir=tmp_path / "elsewhere")
    assert other.raw.shape[1:] == (8, 8) and any((tmp_path / "elsewhere").iterdir())


@pytest.mark.parametrize("breakage", ["mask_size", "missing_mask", "mask_without_image", "extra_image", "odd_tile"])
def test_drone_bad_input_names_the_file(drone_root, breakage):
    expected, tile_size = None, TILE
    if breakage == "mask_size":
        Image.fromarray(np.zeros((2 * TILE, 3 * TILE + 2), np.uint8)).save(drone_root / "masks_full" / "01.png")
        expected = "01.png"
    elif breakage == "missing_mask":
        (drone_root / "masks_full" / "03.png").unlink()
        expected = "03.tif"
    elif breakage == "mask_without_image":
        Image.fromarray(np.zeros((2 * TILE, 3 * TILE), np.uint8)).save(drone_root / "masks_full" / "07.png")
        expected = "07.png"
    elif breakage == "extra_image":
        tifffile.imwrite(drone_root / "images_full" / "raw_scale050" / "09.tif", np.zeros((2 * TILE, 3 * TILE), np.uint16))
        expected = "09.tif"
    else:
        tile_size, expected = 15, "tile_size"
    with pytest.raises(InputError, match=expected):
        load_dataset("drone_segmentation", drone_root, 1.0, tile_size=tile_size)


def test_intensity_tokens_round_trip_and_unknown_tokens_are_named():
    from lens2logit.data.layout import INTENSITIES, intensity_from_slug, intensity_slug

    assert [intensity_from_slug(intensity_slug(i)) for i in INTENSITIES] == list(INTENSITIES)
    assert intensity_slug(0.05) == "005" and intensity_from_slug("001") == 0.01
    for token in ("5", "002", "0050", "abc", ""):
        with pytest.raises(ValueError, match=f"unknown intensity token '{token}'"):
            intensity_from_slug(token)
