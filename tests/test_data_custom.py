"""The custom dataset: a user's DNG files (any Bayer pattern) with labels.csv or masks/."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lens2logit.data import load_dataset
from lens2logit.errors import InputError

SHAPE = (32, 48)
BLACK, WHITE = 256, 4095


def write_dng(path, mosaic: np.ndarray, pattern: str = "GRBG"):
    """A DNG made from a real photograph's mosaic, as a camera would write it."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, CFAPattern, DNGVersion, PhotometricInterpretation

    tags = DNGTags()
    tags.set(Tag.ImageWidth, mosaic.shape[1])
    tags.set(Tag.ImageLength, mosaic.shape[0])
    tags.set(Tag.TileWidth, mosaic.shape[1])
    tags.set(Tag.TileLength, mosaic.shape[0])
    tags.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array)
    tags.set(Tag.SamplesPerPixel, 1)
    tags.set(Tag.BitsPerSample, 16)
    tags.set(Tag.CFARepeatPatternDim, [2, 2])
    tags.set(Tag.CFAPattern, getattr(CFAPattern, pattern))
    tags.set(Tag.BlackLevel, BLACK)
    tags.set(Tag.WhiteLevel, WHITE)
    tags.set(Tag.ColorMatrix1, [[1, 1], [0, 1], [0, 1], [0, 1], [1, 1], [0, 1], [0, 1], [0, 1], [1, 1]])
    tags.set(Tag.CalibrationIlluminant1, CalibrationIlluminant.D65)
    tags.set(Tag.AsShotNeutral, [[1, 2], [1, 1], [2, 3]])
    tags.set(Tag.Make, "lens2logit")
    tags.set(Tag.Model, "test")
    tags.set(Tag.DNGVersion, DNGVersion.V1_4)
    tags.set(Tag.DNGBackwardVersion, DNGVersion.V1_2)
    writer = RAW2DNG()
    writer.options(tags, path=str(path.parent), compress=False)
    writer.convert(mosaic, filename=path.stem)


def photo_mosaics(count):
    """Mosaics cut from a real photograph (skimage's astronaut), linearised, 12-bit."""
    from skimage import data

    photo = data.astronaut().astype(np.float64) / 255.0
    out = []
    for k in range(count):
        crop = photo[40 * k : 40 * k + SHAPE[0], 60 : 60 + SHAPE[1]] ** 2.2
        mosaic = crop[..., 1].copy()  # GRBG: G R / B G
        mosaic[0::2, 1::2] = crop[0::2, 1::2, 0]
        mosaic[1::2, 0::2] = crop[1::2, 0::2, 2]
        out.append((BLACK + mosaic * (WHITE - BLACK)).round().astype(np.uint16))
    return out


@pytest.fixture
def dng_folder(tmp_path):
    mosaics = photo_mosaics(3)
    for name, mosaic in zip(["a", "b", "c"], mosaics):
        write_dng(tmp_path / f"{name}.dng", mosaic)
    return tmp_path, mosaics


def test_classification_from_labels_csv(dng_folder):
    root, mosaics = dng_folder
    (root / "labels.csv").write_text("file,label\na.dng,cat\nb,dog\nc.dng,cat\n")
    data = load_dataset("custom", root, 1.0)
    assert data.kind == "classification" and data.ids == ["a", "b", "c"]
    assert data.classes == ["cat", "dog"] and data.targets.tolist() == [0, 1, 0]
    assert data.raw.shape == (3, *SHAPE) and data.raw.dtype == np.float32
    assert np.array_equal(data.raw[1], mosaics[1].astype(np.float32) / 65535)  # DN / 65535, bit-identical
    assert data.camera.pattern.value == "GRBG"
    assert data.camera.black_level[0] == pytest.approx(BLACK / 65535)


def test_segmentation_from_masks(dng_folder):
    root, _ = dng_folder
    (root / "masks").mkdir()
    for k, name in enumerate("abc"):
        mask = np.zeros(SHAPE, np.uint8)
        mask[k : k + 4, 2:9] = 255
        Image.fromarray(mask).save(root / "masks" / f"{name}.png")
    data = load_dataset("custom", root, 1.0)
    assert data.kind == "segmentation" and data.targets.shape == (3, *SHAPE)
    assert data.targets[2].sum() == 4 * 7 and data.targets[2][2, 2] == 1
    with pytest.raises(InputError, match="intensity"):
        load_dataset("custom", root, 0.5)


@pytest.mark.parametrize("breakage, expected", [
    ("label_for_missing", "zzz.dng"), ("image_without_label", "c.dng"), ("mask_size", "b.png"),
    ("both_targets", "exactly one"), ("not_a_dng", "b.dng"),
])
def test_custom_bad_input_names_the_file(dng_folder, breakage, expected):
    root, _ = dng_folder
    labels = "file,label\na.dng,cat\nb.dng,dog\nc.dng,cat\n"
    if breakage == "label_for_missing":
        labels += "zzz.dng,cat\n"
    elif breakage == "image_without_label":
        labels = "file,label\na.dng,cat\nb.dng,dog\n"
    elif breakage == "not_a_dng":
        (root / "b.dng").write_bytes(b"garbage")
    if breakage in ("mask_size", "both_targets"):
        (root / "masks").mkdir()
        for name in "abc":
            shape = (SHAPE[0], SHAPE[1] + 2) if name == "b" else SHAPE
            Image.fromarray(np.zeros(shape, np.uint8)).save(root / "masks" / f"{name}.png")
    if breakage != "mask_size":
        (root / "labels.csv").write_text(labels)
    with pytest.raises(InputError, match=expected):
        load_dataset("custom", root, 1.0)


def test_cli_info_on_custom_data(dng_folder, monkeypatch, capsys):
    from test_synth import run_data_cli

    root, _ = dng_folder
    (root / "labels.csv").write_text("file,label\na,cat\nb,dog\nc,cat\n")
    assert run_data_cli(["data", "info", "custom", "--root", str(root)], monkeypatch) == 0
    assert "custom (classification, GRBG): 3 samples at each of 1 intensities [1]; cat: 2, dog: 1" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ registry + workflow


def test_registry_entries_load_and_describe_every_dataset(dng_folder):
    from lens2logit.data.layout import DATASETS
    from lens2logit.data.registry import REGISTRY, check_datasets, dataset_kind, dataset_root

    assert tuple(REGISTRY) == DATASETS
    import yaml
    from pathlib import Path

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml").read_text())
    assert tuple(schema["properties"]["datasets"]["items"]["enum"]) == tuple(REGISTRY)  # the config offers every entry
    assert {n: e.kind for n, e in REGISTRY.items()} == {
        "microscopy": "classification", "drone_segmentation": "segmentation",
        "drone_classification": "classification", "custom": None}
    from lens2logit.isp.camera import CAMERAS

    assert all(e.camera in CAMERAS for e in REGISTRY.values() if e.camera is not None)
    root, _ = dng_folder
    (root / "labels.csv").write_text("file,label\na,cat\nb,dog\nc,cat\n")
    config = {"datasets": ["custom"], "data": {"source": "path", "root": "x", "custom": {"root": str(root), "kind": "classification"}},
              "intensity_drift": {"enabled": False}}
    check_datasets(config)
    assert dataset_kind("custom", config) == "classification" and dataset_root("custom", config) == str(root)
    assert dataset_root("drone_classification", config) == "x/drone"
    with pytest.raises(InputError, match="data.custom.kind: 'segmentation', but .* holds classification data"):
        load_dataset("custom", root, 1.0, kind="segmentation")
    with pytest.raises(InputError, match="^intensity_drift.intensities: 0.05 is not in the custom data"):
        check_datasets({**config, "intensity_drift": {"enabled": True, "intensities": [0.05, 1.0]}})
    with pytest.raises(InputError, match="^data.custom.kind"):
        check_datasets({**config, "data": {"source": "path", "root": "x", "custom": {"root": str(root)}}})
    with pytest.raises(InputError, match="^data.custom.root"):
        check_datasets({**config, "data": {"source": "path", "root": "x"}})
    with pytest.raises(InputError, match="^dataset: unknown name 'cells'"):
        check_datasets({"datasets": ["cells"]})


@pytest.mark.slow
def test_custom_dngs_through_the_workflow(tmp_path):
    """A folder of GRBG DNGs with labels.csv, selected in the config (datasets: [custom]), run by Snakemake."""
    import json
    import subprocess

    import pandas as pd
    import yaml
    from conftest import SNAKEMAKE, TEST_CONFIG, copy_workflow
    from conftest import WORKFLOW_ENV as ENV

    dngs = tmp_path / "my_camera"
    dngs.mkdir()
    names = [f"img{k}" for k in range(10)]
    for name, mosaic in zip(names, photo_mosaics(10)):
        write_dng(dngs / f"{name}.dng", mosaic, pattern="GRBG")
    (dngs / "labels.csv").write_text("file,label\n" + "".join(f"{n}.dng,{'cat' if k % 2 else 'dog'}\n" for k, n in enumerate(names)))
    work = copy_workflow(tmp_path / "wf")
    config = {  # configs/test.yaml with the custom dataset, two views and the drift experiment only
        **TEST_CONFIG, "datasets": ["custom"], "views": TEST_CONFIG["views"][:2],
        "data": {"source": "path", "root": "data/unused", "custom": {"root": str(dngs), "kind": "classification"}},
        "drift": {"folds": 2, "augmentations": ["none"]},
        "corruptions": {"enabled": False}, "intensity_drift": {"enabled": False},
        "forensics": {"enabled": False}, "customization": {"enabled": False},
    }
    (work / "configs" / "custom.yaml").write_text(yaml.safe_dump(config))
    cmd = ["nice", "-n", "10", str(SNAKEMAKE), "--configfile", "configs/custom.yaml", "--cores", "2", "results/drift/custom/matrix.csv", "results/summary.md"]
    proc = subprocess.run(cmd, cwd=work, env=ENV, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    meta = json.loads((work / "results/data/custom/100/meta.json").read_text())
    assert meta["ids"] == names and meta["classes"] == ["cat", "dog"] and meta["kind"] == "classification"
    assert meta["camera"]["pattern"] == "GRBG"
    raw = np.load(work / "results/data/custom/100/raw.npy")
    assert raw.shape == (10, *SHAPE)
    matrix = pd.read_csv(work / "results/drift/custom/matrix.csv")
    assert set(matrix["metric"]) >= {"accuracy", "f1"} and (matrix["n"] == 2).all()
    assert "custom" in (work / "results/summary.md").read_text()
