"""Issue 21: synthetic data at the paper's sizes (reduced counts here; the full-size run is a
measurement, docs/paper-scale.md) and the rehearsal config, which plans the paper's rule set."""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import numpy as np
import pytest
import tifffile
import yaml
from PIL import Image

from conftest import REPO, SNAKEMAKE, WORKFLOW_ENV, copy_workflow
from lens2logit.data.drone import load_drone, tile_origins
from lens2logit.data.layout import (
    INTENSITIES,
    MICROSCOPY_LABELS,
    PUBLISHED_DRONE_FRAME_SHAPE,
    PUBLISHED_DRONE_FRAMES,
    PUBLISHED_MICROSCOPY_COUNTS,
    PUBLISHED_TILE_SIZE,
    SYNTH_PARAMS,
    drone_image_path,
    drone_mask_path,
    microscopy_image_path,
)
from lens2logit.data.synth import PRESETS, synthesize
from lens2logit.data.synth.limits import synth_footprint
from lens2logit.errors import InputError

# instruments.md: the published class shares of the 940 microscopy images, in per cent.
PUBLISHED_SHARES_PERCENT = {"BAS": 1.91, "EOS": 5.74, "KSC": 17.34, "LYA": 3.19, "LYT": 24.47, "MON": 20.32,
                            "NGB": 0.85, "NGS": 22.98, "UNC": 3.19}
REDUCTION = 40  # CI writes 1/40 of the paper's microscopy images (at least one per class)
# A drone frame of 1/8 the paper's side, tiled at 1/4 the paper's tile: as the real 3648 × 5472 frames
# (14.25 × 21.375 tiles of 256), it is no multiple of the tile, so the tiler must drop a remainder.
SMALL_FRAME, SMALL_TILE = (PUBLISHED_DRONE_FRAME_SHAPE[0] // 8, PUBLISHED_DRONE_FRAME_SHAPE[1] // 8), PUBLISHED_TILE_SIZE // 4


def test_paper_preset_is_the_published_data():
    micro, drone = PRESETS["paper"]["microscopy"], PRESETS["paper"]["drone"]
    assert sum(micro["class_counts"].values()) == 940 and micro["size"] == 256
    for cls, count in micro["class_counts"].items():
        assert 100 * count / 940 == pytest.approx(PUBLISHED_SHARES_PERCENT[cls], abs=0.005), cls
    assert drone == {"n": 12, "size": 256, "frame": (3648, 5472)}
    # The real frames hold 14 × 21 whole tiles of 256 (the remainder of 0.25 / 0.375 tile is dropped).
    assert len(tile_origins(*drone["frame"], drone["size"])) == 14 * 21


def test_rehearsal_config_asks_for_the_paper_sizes():
    reh = yaml.safe_load((REPO / "configs" / "rehearsal.yaml").read_text())
    synth = reh["data"]["synthetic"]
    assert synth["microscopy"]["class_counts"] == PUBLISHED_MICROSCOPY_COUNTS and synth["microscopy"]["size"] == 256
    assert synth["drone"]["n"] == PUBLISHED_DRONE_FRAMES and tuple(synth["drone"]["frame"]) == PUBLISHED_DRONE_FRAME_SHAPE
    assert reh["data"]["source"] == "synthetic"


@pytest.fixture(scope="module")
def reduced_microscopy(tmp_path_factory):
    counts = {c: max(1, round(n / REDUCTION)) for c, n in PUBLISHED_MICROSCOPY_COUNTS.items()}
    root = synthesize("microscopy", tmp_path_factory.mktemp("paper") / "microscopy", seed=3,
                      size=PRESETS["paper"]["microscopy"]["size"], class_counts=counts)
    return root, counts


def test_microscopy_at_paper_size_counts_shapes_classes(reduced_microscopy):
    root, counts = reduced_microscopy
    labels = dict(line.split() for line in (root / MICROSCOPY_LABELS).read_text().splitlines())
    assert Counter(labels.values()) == Counter(counts)
    for stem in list(labels)[:3]:
        for intensity in INTENSITIES:
            image = tifffile.imread(root / microscopy_image_path(stem, intensity))
            assert image.shape == (256, 256) and image.dtype == np.uint16
    n_files = len(list((root / "images").rglob("*.tiff")))
    assert n_files == sum(counts.values()) * len(INTENSITIES)


@pytest.fixture(scope="module")
def full_frame_drone(tmp_path_factory):
    return synthesize("drone", tmp_path_factory.mktemp("paper") / "drone", seed=3, n=2, size=SMALL_TILE, frame=SMALL_FRAME)


def test_drone_full_frame_layout_and_tiling(full_frame_drone, tmp_path):
    root = full_frame_drone
    assert json.loads((root / SYNTH_PARAMS).read_text())["frame"] == list(SMALL_FRAME)
    for index in range(2):
        mask = np.asarray(Image.open(root / drone_mask_path(index)))
        assert mask.shape == SMALL_FRAME
        for intensity in INTENSITIES:
            image = tifffile.imread(root / drone_image_path(index, intensity))
            assert image.shape == SMALL_FRAME and image.dtype == np.uint16
    seg = load_drone(root, 1.0, kind="segmentation", tile_size=SMALL_TILE, cache_dir=tmp_path / "tiles")
    per_frame = len(tile_origins(*SMALL_FRAME, SMALL_TILE))
    assert per_frame == (SMALL_FRAME[0] // SMALL_TILE) * (SMALL_FRAME[1] // SMALL_TILE) == 7 * 10
    assert 0 < len(seg.ids) <= 2 * per_frame
    assert seg.raw.shape[1:] == (SMALL_TILE, SMALL_TILE)
    cls = load_drone(root, 1.0, kind="classification", tile_size=SMALL_TILE, cache_dir=tmp_path / "tiles")
    assert Counter(cls.targets.tolist())[0] == Counter(cls.targets.tolist())[1] > 0  # balanced car / no car


@pytest.mark.parametrize("frame", [(3648,), (3647, 5472), [16, "a"]])
def test_bad_frame_is_refused(tmp_path, frame):
    with pytest.raises(InputError, match="frame"):
        synthesize("drone", tmp_path / "d", seed=1, n=1, frame=frame)


def test_frame_is_drone_only(tmp_path):
    with pytest.raises(InputError, match="frame: only for drone"):
        synthesize("microscopy", tmp_path / "m", seed=1, n=5, frame=(64, 64))


def test_paper_footprint_on_disk():
    """The paper-size raw data: 940 × 256² × 2 B × 7 intensities; 12 frames × 20 MP × (2 B × 7 + 1 B mask)."""
    micro, drone = PRESETS["paper"]["microscopy"], PRESETS["paper"]["drone"]
    assert synth_footprint("microscopy", 0, micro["size"], micro["class_counts"])[1] == 940 * 256 * 256 * 2 * 7
    assert synth_footprint("drone", drone["n"], drone["size"], None, drone["frame"])[1] == 12 * 3648 * 5472 * 15


def _planned_rules(workdir, *configfiles) -> set[str]:
    proc = subprocess.run([str(SNAKEMAKE), "--configfile", *configfiles, "-n", "--cores", "8", "--quiet", "rules"],
                          cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = proc.stdout.split("Job stats:")[1].split("total")[0]
    return {line.split()[0] for line in table.splitlines()[3:] if line.strip()}


def test_rehearsal_plans_every_rule_of_the_paper(tmp_path):
    """Same rule set as configs/paper.yaml (data absent: synthesize_data stands for download_data)."""
    workdir = copy_workflow(tmp_path / "wf")
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    weights = workdir / paper["training"]["segmentation"]["pretrained"]
    weights.parent.mkdir(parents=True, exist_ok=True)
    weights.write_bytes(b"")  # planning only checks that the user's ImageNet file is there
    paper_rules = _planned_rules(workdir, "configs/paper.yaml")
    rehearsal_rules = _planned_rules(workdir, "configs/paper.yaml", "configs/rehearsal.yaml")
    assert "download_data" in paper_rules and "synthesize_data" in rehearsal_rules
    assert rehearsal_rules - {"synthesize_data"} == paper_rules - {"download_data"}


def test_cli_preset_refuses_explicit_sizes(tmp_path, capsys):
    from lens2logit.cli import main

    assert main(["data", "synth", "drone", "--root", str(tmp_path / "d"), "--seed", "1", "--preset", "paper", "--n", "2"]) == 2
    assert "--preset paper" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
