"""The paper's exact data subsets (reference-spec §3.4–3.5): the reference drone balancing and its CSV,
the lenient loaders, the pre-tiled drone layout, and the published counts checked on fixtures of that size."""

from __future__ import annotations

import csv
import logging
import random

import numpy as np
import pytest
import tifffile
from PIL import Image

from lens2logit.data import load_dataset
from lens2logit.data.drone import balance, check_published as check_drone, drone_sources, tile_selection
from lens2logit.data.layout import (
    PUBLISHED_DRONE_FRAME_SHAPE,
    PUBLISHED_MICROSCOPY_COUNTS,
    intensity_folder,
    microscopy_stem,
)
from lens2logit.errors import InputError

# ------------------------------------------------------------ an independent reference implementation


def reference_binary_tiles(masks, tile, thr=0.01, seed=72):
    """The reference code's algorithm, written out plainly with the global ``random`` module.

    Per full image (sorted order = full index n): tiles row-major; mean 0 → no car, > thr → car,
    else dropped; ``random.seed(seed)``; the larger list is shuffled and its first |M − N| dropped;
    kept car tiles (ascending) are numbered 0..K-1, kept no-car tiles K..2K-1.
    Returns rows (file name, label, tile index) in the reference CSV order.
    """
    rows = []
    for n, mask in enumerate(masks):
        h, w = mask.shape
        tiles = [mask[y:y + tile, x:x + tile] for y in range(0, h - tile + 1, tile) for x in range(0, w - tile + 1, tile)]
        with_class, without_class = [], []
        for i, t in enumerate(tiles):
            m = t.mean()
            if m == 0:
                without_class.append(i)
            elif m > thr:
                with_class.append(i)
        N, M = len(with_class), len(without_class)
        random.seed(seed)
        if N <= M:
            random.shuffle(without_class)
            dropped = without_class[:M - N]
        else:
            random.shuffle(with_class)
            dropped = with_class[:N - M]
        car = sorted(i for i in with_class if i not in dropped)
        empty = sorted(i for i in without_class if i not in dropped)
        for k, i in enumerate(car + empty):
            rows.append((f"{n:02d}_{k:05d}", 0 if k < len(car) else 1, i))
    return rows


def sample_based(masks, tile, thr=0.01, seed=72):
    """The previous implementation (``random.Random(72).sample``): same counts, other tiles."""
    chosen = []
    for n, mask in enumerate(masks):
        h, w = mask.shape
        tiles = [mask[y:y + tile, x:x + tile] for y in range(0, h - tile + 1, tile) for x in range(0, w - tile + 1, tile)]
        means = [t.mean() for t in tiles]
        car = [i for i, m in enumerate(means) if m > thr]
        empty = [i for i, m in enumerate(means) if m == 0]
        k, rng = min(len(car), len(empty)), random.Random(seed)
        car = car if len(car) == k else rng.sample(car, k)
        empty = empty if len(empty) == k else rng.sample(empty, k)
        chosen += [(n, i) for i in car + empty]
    return set(chosen)


@pytest.mark.parametrize("length", [0, 1, 2, 7, 50, 280, 294])
def test_local_random_instance_shuffles_like_the_seeded_global_one(length):
    items = list(range(length))
    state = random.getstate()
    try:
        random.seed(72)
        expected = list(items)
        random.shuffle(expected)
    finally:
        random.setstate(state)
    local = list(items)
    random.Random(72).shuffle(local)
    assert local == expected


def test_balance_drops_the_first_shuffled_majority_entries():
    car, empty = balance([2, 9], [0, 1, 3, 4, 5])
    shuffled = [0, 1, 3, 4, 5]
    random.Random(72).shuffle(shuffled)
    assert car == [2, 9] and empty == sorted(shuffled[3:])
    assert balance([1, 2, 3], []) == ([], [])  # nothing to balance with: the image contributes nothing
    assert balance([], [4, 5]) == ([], [])


TILE = 16
GRID = (14, 21)  # tiles per 3648 × 5472 frame at 256 px: 294, the real per-image count


def realistic_masks(seed, frames=12):
    """Masks with the real per-frame tile grid and a spread of car / in-between / empty tiles."""
    rng = np.random.default_rng(seed)
    masks = []
    for f in range(frames):
        mask = np.zeros((GRID[0] * TILE, GRID[1] * TILE), np.uint8)
        n_tiles = GRID[0] * GRID[1]
        share = rng.uniform(0.02, 0.6) if f % 5 else 0.8  # some frames are mostly cars: the car list is shuffled
        for t in rng.choice(n_tiles, int(share * n_tiles), replace=False):
            r, c = divmod(int(t), GRID[1])
            pixels = int(rng.choice([1, 2, 3, 40]))  # 1–2 px ≤ 1 %: dropped; 3 px = 1.2 %: car
            block = mask[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE].reshape(-1)
            block[:pixels] = 1
            mask[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = block.reshape(TILE, TILE)
        masks.append(mask)
    return masks


def write_drone(root, masks, intensities=(1.0,), value=lambda f, k: 4096 + 100 * f + k):
    for k, intensity in enumerate(intensities):
        folder = root / "images_full" / intensity_folder(intensity)
        folder.mkdir(parents=True, exist_ok=True)
        for f, mask in enumerate(masks):
            tifffile.imwrite(folder / f"{f:02d}.tif", np.full(mask.shape, value(f, k), np.uint16))
    (root / "masks_full").mkdir(parents=True, exist_ok=True)
    for f, mask in enumerate(masks):
        Image.fromarray(mask * 255).save(root / "masks_full" / f"{f:02d}.png")


def read_csv_rows(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


@pytest.mark.parametrize("seed", [0, 1])
def test_drone_classification_equals_the_reference_algorithm_and_writes_its_csv(tmp_path, seed):
    masks = realistic_masks(seed)
    write_drone(tmp_path, masks, intensities=(0.05, 1.0))
    cache = tmp_path / "cache"
    data = load_dataset("drone_classification", tmp_path, 1.0, tile_size=TILE, cache_dir=cache)
    expected = reference_binary_tiles(masks, TILE)
    header, rows = read_csv_rows(cache / f"dataset_tiles_{TILE}_72_0.01.csv")
    assert header == ["", "file name", "label", "tile_index"]
    assert [(r[1], int(r[2]), int(r[3])) for r in rows] == expected
    assert [int(r[0]) for r in rows] == list(range(len(rows)))
    # The dataset holds exactly those tiles (ids: full image and real row-major position), sorted.
    by_id = {f"{name[:2]}_{tile:05d}": label for name, label, tile in expected}
    assert data.ids == sorted(by_id) and data.targets.tolist() == [by_id[i] for i in data.ids]
    assert sum(data.targets == 0) == sum(data.targets == 1)
    # The same tiles at another intensity.
    other = load_dataset("drone_classification", tmp_path, 0.05, tile_size=TILE, cache_dir=cache)
    assert other.ids == data.ids


def test_drone_selection_differs_from_random_sample_where_the_reference_says_so(tmp_path):
    """Frames whose car count makes ``random.sample`` pick other tiles than the reference shuffle
    (N = 8–10 and 18–21 car tiles, M = 289 − N empty ones, 5 dropped): the loader follows the reference."""
    masks = []
    for n_car in (8, 9, 10, 18, 21, 39):
        mask = np.zeros((GRID[0] * TILE, GRID[1] * TILE), np.uint8)
        for t in range(n_car + 5):
            r, c = divmod(t, GRID[1])
            if t < n_car:
                mask[r * TILE:r * TILE + 4, c * TILE:(c + 1) * TILE] = 1  # 25 %: car
            else:
                mask[r * TILE, c * TILE] = 1  # 1 px = 0.4 %: neither class, dropped
        masks.append(mask)
    write_drone(tmp_path, masks)
    data = load_dataset("drone_classification", tmp_path, 1.0, tile_size=TILE)
    ours = {(int(i[:2]), int(i[3:])) for i in data.ids}
    reference = {(int(name[:2]), tile) for name, _, tile in reference_binary_tiles(masks, TILE)}
    old = sample_based(masks, TILE)
    assert ours == reference
    differing = sorted({f for f, _ in ours ^ old})
    assert differing == [0, 1, 2, 3, 4]  # all but the 39-car frame


def test_drone_published_counts_checked_on_full_size_frames(tmp_path, caplog):
    """12 frames of 3648 × 5472 with 548 segmentation and 465/465 classification tiles: no warning."""
    grid_h, grid_w = PUBLISHED_DRONE_FRAME_SHAPE[0] // 256, PUBLISHED_DRONE_FRAME_SHAPE[1] // 256
    cars = [39] * 9 + [38] * 3        # 465 car tiles
    between = [7] * 11 + [6]          # 83 tiles with 0 < car share ≤ 1 %: 465 + 83 = 548 segmentation tiles
    (tmp_path / "images_full" / "raw_scale100").mkdir(parents=True)
    (tmp_path / "masks_full").mkdir()
    for f in range(12):
        mask = np.zeros(PUBLISHED_DRONE_FRAME_SHAPE, np.uint8)
        for t in range(cars[f] + between[f]):
            r, c = divmod(t, grid_w)
            mask[r * 256:(r * 256) + (20 if t < cars[f] else 1), c * 256:c * 256 + 256] = 255
        Image.fromarray(mask).save(tmp_path / "masks_full" / f"{f:02d}.png")
        (tmp_path / "images_full" / "raw_scale100" / f"{f:02d}.tif").touch()  # selection reads masks only
    assert grid_h * grid_w == 294
    sources = drone_sources(tmp_path)
    selection = tile_selection(sources, tmp_path, 256, tmp_path / "cache")
    with caplog.at_level(logging.WARNING):
        assert check_drone(selection, 256, tmp_path) == []
    assert not caplog.records
    fewer = {**selection, "shapes": selection["shapes"][:11], "segmentation": selection["segmentation"][:-1]}
    with caplog.at_level(logging.WARNING):
        problems = check_drone(fewer, 256, tmp_path)
    assert any("11 full frames, published 12" in p for p in problems)
    assert any("547 segmentation tiles, published 548" in p for p in problems)
    assert "differs from the published Raw-Drone data" in caplog.text


def test_drone_float_tiffs_and_masks_named_by_containment(tmp_path, caplog):
    mask = np.zeros((2 * TILE, 2 * TILE), np.uint8)
    mask[:8, :8] = 1
    folder = tmp_path / "images_full" / "raw_scale100"
    folder.mkdir(parents=True)
    image = np.full(mask.shape, 1234.5, np.float32)  # float DN, not an integer: accepted as the reference does
    tifffile.imwrite(folder / "DSC01.tif", image)
    (tmp_path / "masks_full").mkdir()
    Image.fromarray(mask * 255).save(tmp_path / "masks_full" / "DSC01_mask.png")
    with caplog.at_level(logging.INFO):
        data = load_dataset("drone_segmentation", tmp_path, 1.0, tile_size=TILE)
    assert data.ids == ["00_00000"] and data.raw[0, 0, 0] == np.float32(1234.5 / 65535)
    assert "1 masks paired with their image by name containment" in caplog.text
    assert "1 float TIFFs with non-integer DN values" in caplog.text


# ------------------------------------------------------------------------------- microscopy


def write_microscopy(root, counts, *, extra_lines=(), unlabelled=0, side=2):
    folder = root / "images" / intensity_folder(1.0)
    folder.mkdir(parents=True, exist_ok=True)
    lines, k = [], 0
    for cls, n in counts.items():
        for _ in range(n):
            k += 1
            stem = microscopy_stem(1 + k // 100, k % 100, k)
            tifffile.imwrite(folder / f"{stem}.tiff", np.full((side, side), k, np.uint16))
            lines.append(f"{stem} {cls}")
    for u in range(unlabelled):
        tifffile.imwrite(folder / f"unlabelled_{u}.tiff", np.zeros((side, side), np.uint16))
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "Ma190c_annotations.dat").write_text("\n".join(lines + list(extra_lines)) + "\n")
    return lines


def test_microscopy_published_counts_and_lenient_label_file(tmp_path, caplog):
    extra = [f"Ma190c_lame9_zone{z}_composite_Mcropped_1 NGS" for z in range(12)]  # labels without an image
    extra += ["Ma190c_lame3_zone13_composite_Mcropped_2 LYT"]                    # the excluded file
    extra += ["some_cell XYZ"]                                                   # unknown class code
    write_microscopy(tmp_path, {**PUBLISHED_MICROSCOPY_COUNTS, "MYB": 4, "EBO": 5}, extra_lines=extra, unlabelled=3)
    with caplog.at_level(logging.INFO):
        data = load_dataset("microscopy", tmp_path, 1.0, check_published_counts=True)
    # EBO has 5 label lines (> 4) but the published data have no EBO: ours differ, and say so.
    assert data.classes == sorted([*PUBLISHED_MICROSCOPY_COUNTS, "EBO"]) and len(data.ids) == 945
    text = caplog.text
    assert "12 labels without an image ignored" in text
    assert "4 labels of classes with at most 4 samples ignored" in text
    assert "1 labels of the excluded file ignored" in text
    assert "1 labels with an unknown class code ignored" in text
    assert "3 images without a label ignored" in text
    assert "differs from the published Raw-Microscopy data" in text and "'EBO': (5, 0)" in text


def test_microscopy_published_counts_exact_no_warning(tmp_path, caplog):
    write_microscopy(tmp_path, PUBLISHED_MICROSCOPY_COUNTS)
    with caplog.at_level(logging.WARNING):
        data = load_dataset("microscopy", tmp_path, 1.0, check_published_counts=True)
    assert len(data.ids) == 940 and len(data.classes) == 9 and not caplog.records
    counts = {c: int((data.targets == k).sum()) for k, c in enumerate(data.classes)}
    assert counts == PUBLISHED_MICROSCOPY_COUNTS
    # A class reduced to 4 label lines (NGB: 8 → 4) is dropped with its images.
    lines = (tmp_path / "labels" / "Ma190c_annotations.dat").read_text().splitlines()
    ngb = [l for l in lines if l.endswith(" NGB")]
    (tmp_path / "labels" / "Ma190c_annotations.dat").write_text("\n".join([l for l in lines if not l.endswith(" NGB")] + ngb[:4]) + "\n")
    data = load_dataset("microscopy", tmp_path, 1.0)
    assert "NGB" not in data.classes and len(data.ids) == 932


def test_microscopy_class_counted_over_label_file_not_images(tmp_path):
    # 5 BAS label lines, only 3 images: the class is kept (the reference counts label lines).
    write_microscopy(tmp_path, {"BAS": 3, "LYT": 6}, extra_lines=[f"gone_{i} BAS" for i in range(2)])
    data = load_dataset("microscopy", tmp_path, 1.0)
    assert data.classes == ["BAS", "LYT"] and len(data.ids) == 9


# ------------------------------------------------------------------------------- pre-tiled drone


def write_tiled_drone(root, n_seg, n_cls, *, tile=8, intensities=(1.0,), float_tiles=False):
    for intensity in intensities:
        seg = root / f"images_tiles_{tile}" / intensity_folder(intensity)
        cls = root / "classification" / f"images_tiles_{tile}" / f"{intensity_folder(intensity)}_thr_0.01"
        seg.mkdir(parents=True, exist_ok=True)
        cls.mkdir(parents=True, exist_ok=True)
        for i in range(n_seg):
            value = np.float32(100 + i + 0.25) if float_tiles else np.uint16(100 + i)
            tifffile.imwrite(seg / f"{i // 50:02d}_{i % 50:05d}.tif", np.full((tile, tile), value))
        for i in range(n_cls):
            tifffile.imwrite(cls / f"{i // 80:02d}_{i % 80:05d}.tif", np.full((tile, tile), 5000 + i, np.uint16))
    masks = root / f"masks_tiles_{tile}"
    masks.mkdir(parents=True, exist_ok=True)
    for i in range(n_seg):
        m = np.zeros((tile, tile), bool)
        m[0, : 1 + i % tile] = True
        Image.fromarray(m).save(masks / f"{i // 50:02d}_{i % 50:05d}.png")
    with open(root / "classification" / f"dataset_tiles_{tile}_72_0.01.csv", "w") as fh:
        fh.write(",file name,label\n")
        for i in range(n_cls):
            fh.write(f"{i},{i // 80:02d}_{i % 80:05d},{i % 2}\n")


def test_pre_tiled_layout_with_published_counts(tmp_path, caplog):
    write_tiled_drone(tmp_path, 548, 930, float_tiles=True)
    with caplog.at_level(logging.WARNING):
        seg = load_dataset("drone_segmentation", tmp_path, 1.0, tile_size=8, check_published_counts=True)
        cls = load_dataset("drone_classification", tmp_path, 1.0, tile_size=8, check_published_counts=True)
    assert not caplog.records
    assert len(seg.ids) == 548 and seg.raw[3, 0, 0] == np.float32(103.25 / 65535)
    assert seg.targets[3].sum() == 4 and seg.targets.dtype == np.uint8
    assert len(cls.ids) == 930 and (cls.targets == 0).sum() == 465 and cls.ids == sorted(cls.ids)
    k = cls.ids.index("01_00003")  # row 83 of the CSV: label 1, value 5083
    assert cls.targets[k] == 1 and cls.raw[k, 0, 0] == np.float32(5083 / 65535)


def test_pre_tiled_layout_differences_warned_and_bad_input_named(tmp_path, caplog):
    write_tiled_drone(tmp_path, 20, 10)
    with caplog.at_level(logging.WARNING):
        load_dataset("drone_classification", tmp_path, 1.0, tile_size=8, check_published_counts=True)
    assert "published" in caplog.text and "'car': 5" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        load_dataset("drone_classification", tmp_path, 1.0, tile_size=8)  # synthetic / unchecked: silent
    assert not caplog.records
    with pytest.raises(InputError, match="images_tiles_16: .*found \\['images_tiles_8'\\]"):
        load_dataset("drone_segmentation", tmp_path, 1.0, tile_size=16)
    (tmp_path / "classification" / "images_tiles_8" / "raw_scale100_thr_0.01" / "00_00004.tif").unlink()
    with pytest.raises(InputError, match="00_00004.tif: listed in dataset_tiles_8_72_0.01.csv but missing"):
        load_dataset("drone_classification", tmp_path, 1.0, tile_size=8)


# ------------------------------------------------------------------------------- configs/paper.yaml


def test_paper_config_is_the_papers_setting():
    from pathlib import Path

    import jsonschema
    import yaml

    repo = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((repo / "configs" / "paper.yaml").read_text())
    schema = yaml.safe_load((repo / "schemas" / "config.schema.yaml").read_text())
    forensics = config["forensics"]
    # The paper's λ = 0.1 on a sum over a batch of 4 × 3 × 256 × 256 values, in our mean-MSE units.
    paper_lambda = 0.1 * forensics["batch_size"] * 3 * config["data"]["tile_size"] ** 2
    assert paper_lambda == pytest.approx(78643.2)
    assert any(lam == pytest.approx(paper_lambda) for lam in forensics["lambdas"])
    assert min(forensics["lambdas"]) == 0 and max(forensics["lambdas"]) > paper_lambda
    assert forensics["steps"] == 7 * (940 * 4 // 5 // forensics["batch_size"])  # 7 epochs × 188 batches
    assert config["training"]["segmentation"]["pretrained"] == "weights/resnet34-imagenet.pth"
    assert config["report"]["segmentation_headline"] == "iou_image"
    if "report" not in schema["properties"]:  # the key comes with the corruption/report branch
        config.pop("report")
    jsonschema.validate(config, schema)


def test_torchvision_resnet34_state_dict_initialises_the_unetplusplus_encoder(tmp_path):
    """The documented offline route: a torchvision ResNet-34 state dict file → U-Net++ encoder weights."""
    import torch
    import torchvision

    from lens2logit.models import build_model

    torch.manual_seed(0)
    state = torchvision.models.resnet34(weights=None).state_dict()
    torch.save(state, tmp_path / "resnet34-imagenet.pth")
    net = build_model("unetplusplus:resnet34", "segmentation", 1, pretrained=tmp_path / "resnet34-imagenet.pth")
    assert torch.equal(net.encoder.conv1.weight, state["conv1.weight"])
    assert torch.equal(net.encoder.layer4[2].bn2.running_var, state["layer4.2.bn2.running_var"])


def test_cli_info_on_the_pre_tiled_layout(tmp_path, monkeypatch, capsys):
    from test_synth import run_data_cli

    write_tiled_drone(tmp_path, 6, 4, intensities=(0.05, 1.0))
    assert run_data_cli(["data", "info", "drone", "--root", str(tmp_path), "--tile-size", "8"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "pre-tiled layout, tile size 8" in out
    assert "drone_segmentation: 6 samples at each of 2 intensities" in out
    assert "car: 2, no car: 2" in out
