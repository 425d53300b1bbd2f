"""Embedded synthetic datasets: physics of the sensor model, class balance, masks, determinism, layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from scipy import ndimage

from lens2logit.data import INTENSITIES, load_dataset
from lens2logit.data.layout import DN_SCALE, MANIFEST, MICROSCOPY_CLASSES, intensity_folder
from lens2logit.data.synth import synthesize
from lens2logit.data.synth.sensor import DRONE_SENSOR, MICROSCOPY_SENSOR, colour_response, expose
from lens2logit.errors import InputError

MICRO_N, MICRO_SIZE = 5, 32
DRONE_N, DRONE_TILE = 2, 32


@pytest.fixture(scope="module")
def micro_root(tmp_path_factory):
    return synthesize("microscopy", tmp_path_factory.mktemp("syn") / "microscopy", seed=5, n=MICRO_N, size=MICRO_SIZE)


@pytest.fixture(scope="module")
def drone_root(tmp_path_factory):
    return synthesize("drone", tmp_path_factory.mktemp("syn") / "drone", seed=5, n=DRONE_N, size=DRONE_TILE)


@pytest.mark.parametrize("sensor", [DRONE_SENSOR, MICROSCOPY_SENSOR], ids=["drone", "microscopy"])
def test_variance_follows_shot_noise_line_with_configured_gain(sensor):
    rng = np.random.default_rng(0)
    levels = np.array([0.02, 0.05, 0.1, 0.2, 0.35, 0.5])
    means, variances = [], []
    for level in levels:
        dn = expose(np.full((256, 256), level), 1.0, sensor, rng).astype(np.float64)
        means.append(dn.mean() - sensor.black_level)
        variances.append(dn.var())
    slope, intercept = np.polyfit(means, variances, 1)
    assert slope == pytest.approx(sensor.gain, rel=0.04)
    assert np.allclose(means, levels * DN_SCALE, rtol=0.01)


def test_dark_frame_holds_read_and_quantisation_noise():
    dn = expose(np.zeros((512, 512)), 1.0, DRONE_SENSOR, np.random.default_rng(2)).astype(np.float64)
    expected = (DRONE_SENSOR.gain * DRONE_SENSOR.read_noise) ** 2 + DRONE_SENSOR.step**2 / 12
    assert dn.mean() == pytest.approx(DRONE_SENSOR.black_level, abs=2)
    assert dn.var() == pytest.approx(expected, rel=0.1)


def test_drone_codes_are_12_bit_left_justified():
    dn = expose(np.full((64, 64), 0.3), 1.0, DRONE_SENSOR, np.random.default_rng(1))
    assert dn.dtype == np.uint16 and np.all(dn % 16 == 0)
    assert abs(float(np.median(dn)) - (4096 + 0.3 * DN_SCALE)) < 200


@pytest.mark.parametrize("dataset", ["microscopy", "drone"])
def test_mean_signal_above_black_scales_with_intensity(dataset, micro_root, drone_root):
    if dataset == "microscopy":
        folder, pattern, sensor = micro_root / "images", "*.tiff", MICROSCOPY_SENSOR
    else:
        folder, pattern, sensor = drone_root / "images_full", "*.tif", DRONE_SENSOR

    def mean_above_black(intensity):
        files = sorted((folder / intensity_folder(intensity)).glob(pattern))
        return np.mean([tifffile.imread(f).astype(np.float64).mean() for f in files]) - sensor.black_level

    reference = mean_above_black(1.0)
    assert reference > 2000
    for intensity in INTENSITIES[:-1]:
        # Clipping of read noise at zero biases only the darkest level (microscopy black ≈ 0.6 DN).
        tolerance = 0.08 if intensity == 0.01 else 0.02
        assert mean_above_black(intensity) / reference == pytest.approx(intensity, rel=tolerance)


def test_microscopy_classes_balanced_and_loadable(micro_root):
    data = load_dataset("microscopy", micro_root, 0.25)
    assert data.classes == list(MICROSCOPY_CLASSES)
    assert np.bincount(data.targets).tolist() == [MICRO_N] * 9
    labels = (micro_root / "labels" / "Ma190c_annotations.dat").read_text().split()
    assert len(labels) == 2 * 9 * MICRO_N


def test_microscopy_class_counts_configurable(tmp_path):
    counts = {"LYT": 7, "NGS": 5, "BAS": 2}
    root = synthesize("microscopy", tmp_path / "m", seed=1, size=32, class_counts=counts)
    data = load_dataset("microscopy", root, 1.0)
    # BAS has ≤ 4 samples and is dropped, as the reference loader does.
    assert data.classes == ["LYT", "NGS"]
    assert np.bincount(data.targets).tolist() == [7, 5]
    assert data.raw.shape == (12, 32, 32) and data.raw.dtype == np.float32
    assert 0.0 <= data.raw.min() and data.raw.max() <= 1.0


def test_microscopy_background_renders_in_profile_colours(micro_root):
    """The MICROSCOPY profile (black level, negative-red WB, fitted CCM, gamma) renders the background
    near its documented mean colour: the colour response was solved by inverting that profile."""
    from lens2logit.isp.camera import MICROSCOPY

    data = load_dataset("microscopy", micro_root, 1.0)
    sites = data.raw.reshape(len(data.raw), MICRO_SIZE // 2, 2, MICRO_SIZE // 2, 2)
    # Background = brightest quartile of red sites (no cell, no red blood cell).
    red = sites[:, :, 0, :, 0]
    bright = red > np.quantile(red, 0.75)
    camera = np.array([red[bright].mean(), sites[:, :, 0, :, 1][bright].mean(), sites[:, :, 1, :, 1][bright].mean()])
    camera -= MICROSCOPY.black_level[0]
    linear = np.array(MICROSCOPY.colour_matrix) @ (np.array(MICROSCOPY.white_balance) * camera)
    display = np.clip(linear, 0, 1) ** (1 / 2.2)
    assert np.allclose(display, [0.91, 0.84, 0.94], atol=0.07)
    # Sensor responses are those of the profile's inverse (cross-talk included).
    assert np.allclose(np.linalg.inv(colour_response(MICROSCOPY_SENSOR)),
                       np.array(MICROSCOPY.colour_matrix) @ np.diag(MICROSCOPY.white_balance), rtol=1e-9)


def test_drone_masks_match_drawn_cars():
    from lens2logit.data.synth.drone import drone_scene

    scene = drone_scene(np.random.default_rng(3), DRONE_TILE)
    assert scene.cars, "the scene model placed no car"
    labels, count = ndimage.label(scene.mask)
    assert count == len(scene.cars)  # one connected footprint per car, none merged
    for car in scene.cars:
        component = labels[int(car.cy), int(car.cx)]
        assert component > 0
        area = (labels == component).sum()
        assert abs(area - car.length * car.width) <= car.length + car.width + 2  # pixelisation of the outline
        assert car.length <= 15 * DRONE_TILE / 64 + 1


def test_drone_written_masks_are_the_scene_masks_and_load(drone_root):
    from lens2logit.data.synth import _scene_rng
    from lens2logit.data.synth.drone import drone_scene
    from PIL import Image

    for index in range(DRONE_N):
        expected = drone_scene(_scene_rng(5, "drone", index), DRONE_TILE).mask
        written = np.asarray(Image.open(drone_root / "masks_full" / f"{index:02d}.png")) > 0
        assert np.array_equal(written, expected.astype(bool))
    seg = load_dataset("drone_segmentation", drone_root, 0.5, tile_size=DRONE_TILE)
    cls = load_dataset("drone_classification", drone_root, 0.5, tile_size=DRONE_TILE)
    assert seg.task == "segmentation" and seg.targets.shape == seg.raw.shape and len(seg.ids) > 0
    assert all(t.any() for t in seg.targets)
    assert cls.classes == ["car", "no car"]
    assert np.bincount(cls.targets, minlength=2)[0] == np.bincount(cls.targets, minlength=2)[1] > 0


def test_same_seed_same_bytes_other_seed_differs(tmp_path, micro_root):
    again = synthesize("microscopy", tmp_path / "a" / "microscopy", seed=5, n=MICRO_N, size=MICRO_SIZE)
    assert (again / MANIFEST).read_bytes() == (micro_root / MANIFEST).read_bytes()
    other = synthesize("microscopy", tmp_path / "b" / "microscopy", seed=6, n=MICRO_N, size=MICRO_SIZE)
    assert (other / MANIFEST).read_bytes() != (micro_root / MANIFEST).read_bytes()


def test_rerun_is_noop_and_partial_state_is_not_trusted(tmp_path):
    root = tmp_path / "microscopy"
    synthesize("microscopy", root, seed=2, n=1, size=16)
    stamp = (root / MANIFEST).stat().st_mtime_ns
    assert synthesize("microscopy", root, seed=2, n=1, size=16) == root
    assert (root / MANIFEST).stat().st_mtime_ns == stamp
    # A killed run: manifest missing → regenerated, leftovers of the partial folder replaced.
    (root / MANIFEST).unlink()
    partial = tmp_path / ".partial-microscopy"
    partial.mkdir()
    (partial / "junk").write_text("x")
    synthesize("microscopy", root, seed=2, n=1, size=16)
    assert (root / MANIFEST).is_file() and not partial.exists()
    assert json.loads((root / "synth.json").read_text())["seed"] == 2
    # Not ours: refuse to replace.
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.txt").write_text("user data")
    with pytest.raises(InputError, match="foreign"):
        synthesize("microscopy", foreign, seed=2, n=1, size=16)
    assert (foreign / "data.txt").read_text() == "user data"


@pytest.mark.parametrize("kwargs, field", [
    ({"dataset": "custom"}, "dataset"), ({"size": 15}, "size"), ({"n": 0}, "n"), ({"seed": -1}, "seed"),
])
def test_bad_arguments_name_the_option(tmp_path, kwargs, field):
    args = {"dataset": "microscopy", "seed": 0, "n": 1, "size": 16} | kwargs
    with pytest.raises(InputError, match=f"^{field}"):
        synthesize(args.pop("dataset"), tmp_path / "x", **args)
    assert not (tmp_path / "x").exists()


def run_data_cli(argv, monkeypatch):
    import lens2logit.cli as cli

    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("lens2logit.cli.data",))  # only this module's commands
    return cli.main(argv)


def test_cli_synth_info_verify(tmp_path, monkeypatch, capsys):
    root = tmp_path / "microscopy"
    assert run_data_cli(["data", "synth", "microscopy", "--root", str(root), "--seed", "3", "--n", "5", "--size", "16"], monkeypatch) == 0
    assert run_data_cli(["data", "info", "microscopy", "--root", str(root)], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "45 samples at each of 7 intensities" in out and "NGS: 5" in out
    assert run_data_cli(["data", "verify", "microscopy", "--root", str(root)], monkeypatch) == 0
    victim = sorted((root / "images" / "raw_scale050").glob("*.tiff"))[0]
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x01")
    assert run_data_cli(["data", "verify", "microscopy", "--root", str(root)], monkeypatch) == 1
    assert f"changed: images/raw_scale050/{victim.name}" in capsys.readouterr().err
    assert run_data_cli(["data", "synth", "drone", "--root", str(tmp_path / "d"), "--seed", "1", "--size", "7"], monkeypatch) == 2
    assert "size" in capsys.readouterr().err
