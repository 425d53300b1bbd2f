"""Plan-time checks that agree with what the jobs will read (issue 19, defects D1 and D2).

D1: a config with one view is refused before any job (the drift matrix has no other view to test
on; it used to train everything and then crash in aggregation). D2: both drone layouts (full
frames, the reference code's pre-tiled folders) work with ``data.source: path``: the plan-time
check, the content fingerprint and the loader read the same files.
"""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pytest
import tifffile
import yaml

from conftest import TEST_CONFIG, copy_workflow, snakemake
from lens2logit.workflow.config import check_config
from lens2logit.data import load_dataset
from lens2logit.data.manifest import branch_files, branch_fingerprint
from lens2logit.data.synth import synthesize
from lens2logit.errors import InputError
from test_data_paper import write_tiled_drone

TILE = 16  # a multiple of small_unet's 4 and of the Bayer period
DRONE = ["drone_segmentation", "drone_classification"]


def config(**changes) -> dict:
    """configs/test.yaml with top-level ``changes``; forensics/customization off (checked elsewhere)."""
    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["forensics"] = {"enabled": False}
    cfg["customization"] = {"enabled": False}
    cfg.update(changes)
    return cfg


def path_config(root, tile=TILE) -> dict:
    return config(datasets=DRONE, data={"source": "path", "root": str(root), "tile_size": tile})


# ---------------------------------------------------------------------------------------- D1


def test_one_view_is_refused_at_plan_time_naming_the_option():
    check_config(config(views=["bi,s,ga", "ma,s,ga"]))  # two are enough
    with pytest.raises(InputError, match=r"^config views: \['bi,s,ga'\] — the drift matrix .* at least 2 views"):
        check_config(config(views=["bi,s,ga"]))


# ---------------------------------------------------------------------------------------- D2


@pytest.fixture
def tiled(tmp_path):
    """A data root whose drone/ holds only the pre-tiled layout at 5 % and full light."""
    write_tiled_drone(tmp_path / "drone", 6, 8, tile=TILE, intensities=(0.05, 1.0))
    return tmp_path


def test_pre_tiled_drone_data_pass_the_plan_time_check(tiled):
    check_config(path_config(tiled))


def test_pre_tiled_problems_name_the_missing_folder_or_the_tile_size(tiled):
    shutil.rmtree(tiled / "drone" / f"classification/images_tiles_{TILE}/raw_scale005_thr_0.01")
    with pytest.raises(InputError) as err:
        check_config(path_config(tiled))
    message = str(err.value)
    assert f"config intensity_drift.intensities[0]: 0.05 — {tiled}/drone/classification/images_tiles_{TILE}/raw_scale005_thr_0.01 not found" in message
    assert "images_tiles_16/raw_scale005 " not in message  # the segmentation tiles are complete
    with pytest.raises(InputError, match=rf"config data.tile_size: 32 — .*masks_tiles_32 not found .*found \['images_tiles_{TILE}'\]"):
        check_config(path_config(tiled, tile=32))


def test_pre_tiled_fingerprint_covers_the_files_the_loader_reads(tiled, tmp_path):
    root = tiled / "drone"
    files = set(branch_files("drone", root, 0.05, tile_size=TILE))
    seg = load_dataset("drone_segmentation", root, 0.05, tile_size=TILE)
    cls = load_dataset("drone_classification", root, 0.05, tile_size=TILE)
    assert {f"images_tiles_{TILE}/raw_scale005/{i}.tif" for i in seg.ids} | {f"masks_tiles_{TILE}/{i}.png" for i in seg.ids} <= files
    assert {f"classification/images_tiles_{TILE}/raw_scale005_thr_0.01/{i}.tif" for i in cls.ids} <= files
    assert f"classification/dataset_tiles_{TILE}_72_0.01.csv" in files
    assert not any("raw_scale100" in f for f in files)  # another intensity is another branch

    cache = tmp_path / "hashes"
    before = {i: branch_fingerprint("drone", root, i, tile_size=TILE, cache_dir=cache) for i in (0.05, 1.0)}
    tile = root / f"classification/images_tiles_{TILE}/raw_scale005_thr_0.01/00_00001.tif"
    tifffile.imwrite(tile, np.full((TILE, TILE), 7, np.uint16))
    assert branch_fingerprint("drone", root, 0.05, tile_size=TILE, cache_dir=cache) != before[0.05]
    assert branch_fingerprint("drone", root, 1.0, tile_size=TILE, cache_dir=cache) == before[1.0]
    csv = root / f"classification/dataset_tiles_{TILE}_72_0.01.csv"
    csv.write_text(csv.read_text().replace(",00_00001,1", ",00_00001,0"))
    assert branch_fingerprint("drone", root, 1.0, tile_size=TILE, cache_dir=cache) != before[1.0]


def test_full_frame_drone_data_check_and_fingerprint(tmp_path):
    root = synthesize("drone", tmp_path / "drone", seed=2, n=1, size=TILE)
    check_config(path_config(tmp_path))
    files = set(branch_files("drone", root, 0.05, tile_size=TILE))
    assert files == {p.relative_to(root).as_posix() for p in [*(root / "images_full/raw_scale005").iterdir(), *(root / "masks_full").iterdir()]}
    shutil.rmtree(root / "images_full/raw_scale005")
    with pytest.raises(InputError, match=r"config intensity_drift.intensities\[0\]: 0.05 — .*images_full/raw_scale005 not found"):
        check_config(path_config(tmp_path))


@pytest.mark.slow
def test_pre_tiled_drone_data_prepared_by_the_workflow(tiled, tmp_path):
    """Snakemake plans (fingerprint, manifest-free check) and prepares both drone datasets from tiles."""
    import json

    work = copy_workflow(tmp_path / "wf")
    (work / "configs" / "tiled.yaml").write_text(yaml.safe_dump(path_config(tiled)))
    targets = [f"results/data/{d}/100/meta.json" for d in DRONE]
    snakemake(work, *targets, config="configs/tiled.yaml")
    assert json.loads((work / targets[0]).read_text())["ids"] == [f"00_{k:05d}" for k in range(6)]
    assert len(json.loads((work / targets[1]).read_text())["ids"]) == 8
    tile = tiled / "drone" / f"images_tiles_{TILE}/raw_scale100/00_00002.tif"
    tifffile.imwrite(tile, np.full((TILE, TILE), 9, np.uint16))
    planned = snakemake(work, *targets, "-n", config="configs/tiled.yaml").stdout
    assert "prepare_dataset" in planned and "dataset=drone_segmentation" in planned
