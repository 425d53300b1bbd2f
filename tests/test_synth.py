"""Embedded synthetic datasets: physics of the camera models (PSF, cross-talk, photon transfer), true
pixel scale of the scenes, class balance, masks, determinism, layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from scipy import ndimage, optimize, special

from lens2logit.data import INTENSITIES, load_dataset
from lens2logit.data.layout import DN_SCALE, MANIFEST, MICROSCOPY_CLASSES, intensity_folder
from lens2logit.data.synth import synthesize
from lens2logit.data.synth.sensor import (
    DRONE_SENSOR,
    MICROSCOPY_SENSOR,
    SUPERSAMPLE,
    colour_response,
    expose,
    optics,
    scene_to_signal,
)
from lens2logit.data.synth.shapes import grid
from lens2logit.errors import InputError

MICRO_N, MICRO_SIZE = 5, 32
DRONE_N, DRONE_TILE = 2, 64
SENSORS = pytest.mark.parametrize("sensor", [DRONE_SENSOR, MICROSCOPY_SENSOR], ids=["drone", "microscopy"])
SITES = {0: [(0, 0)], 1: [(0, 1), (1, 0)], 2: [(1, 1)]}  # RGGB: the sites of each channel


@pytest.fixture(scope="module")
def micro_root(tmp_path_factory):
    return synthesize("microscopy", tmp_path_factory.mktemp("syn") / "microscopy", seed=5, n=MICRO_N, size=MICRO_SIZE)


@pytest.fixture(scope="module")
def drone_root(tmp_path_factory):
    return synthesize("drone", tmp_path_factory.mktemp("syn") / "drone", seed=5, n=DRONE_N, size=DRONE_TILE)


def slanted_edge_sigma(sensor, channel: int, angle_deg: float = 5.0, side: int = 96) -> float:
    """σ of the system's line spread, measured from a slanted edge imaged by ``optics``.

    The edge is a half-plane sampled on the supersampled grid; output pixel centres are projected on
    the edge normal and an error-function edge is fitted (its σ is the line spread's).
    """
    angle = np.radians(angle_deg)
    y, x = grid(side, side)
    scene = np.zeros((*y.shape, 3))
    scene[..., channel] = ((x - side / 2) * np.cos(angle) + (y - side / 2) * np.sin(angle)) > 0
    image = optics(scene, sensor)[..., channel]
    yc, xc = np.mgrid[0:side, 0:side] + 0.5
    distance = (xc - side / 2) * np.cos(angle) + (yc - side / 2) * np.sin(angle)
    keep = (np.abs(distance) < 8) & (yc > 16) & (yc < side - 16)

    def esf(d, sigma, shift):
        return 0.5 * (1 + special.erf((d - shift) / (np.sqrt(2) * sigma)))

    (sigma, _), _ = optimize.curve_fit(esf, distance[keep], image[keep], p0=(1.0, 0.1))
    return float(abs(sigma))


@SENSORS
@pytest.mark.parametrize("channel", [0, 1, 2], ids=["R", "G", "B"])
def test_slanted_edge_reproduces_the_configured_psf(sensor, channel):
    """The optics blur an edge by the configured PSF: measured line spread² = PSF² + 1/12 px², the
    variance of the pixel's box aperture (point samples of the drawing grid averaged over the pixel)."""
    measured = slanted_edge_sigma(sensor, channel)
    psf = np.sqrt(measured**2 - 1 / 12)
    assert psf == pytest.approx(sensor.psf_sigma[channel], rel=0.10)


def test_psf_widths_follow_the_instruments():
    """Drone: diffraction-limited, σ ∝ λ, the red band the measured disc (≈0.9 px); microscopy: wider
    than the drone in pixels and growing with wavelength (diffraction part ∝ λ), 620 > 525 > 450 nm."""
    d_red, d_green, d_blue = DRONE_SENSOR.psf_sigma
    assert 0.85 <= d_red <= 0.9 and d_red > d_green > d_blue
    red, green, blue = MICROSCOPY_SENSOR.psf_sigma
    assert red > green > blue > d_red
    assert blue * MICROSCOPY_SENSOR.pixel_um * 2.3548 == pytest.approx(0.450, rel=1e-3)  # the measured FWHM


@pytest.mark.parametrize("band", [0, 1, 2], ids=["620nm", "525nm", "450nm"])
def test_microscopy_narrow_band_reaches_only_its_own_sites(band):
    """Three separate narrowband captures mosaicked by discarding pixels: light in one band gives
    signal at that channel's sites and exactly none elsewhere (no filter or charge cross-talk)."""
    rng = np.random.default_rng(band)
    scene = np.zeros((64 * SUPERSAMPLE, 64 * SUPERSAMPLE, 3))
    scene[..., band] = rng.uniform(0.2, 1.0, scene.shape[:2])
    signal = scene_to_signal(scene, MICROSCOPY_SENSOR)
    for channel, sites in SITES.items():
        for dy, dx in sites:
            values = signal[dy::2, dx::2]
            if channel == band:
                assert values.min() > 0
            else:
                assert np.all(values == 0)


def test_colour_responses_are_physical():
    """No negative response anywhere; microscopy diagonal (independent captures), drone with the
    overlapping (all positive) filter responses of a real RGGB sensor."""
    micro, drone = colour_response(MICROSCOPY_SENSOR), colour_response(DRONE_SENSOR)
    assert np.all(micro >= 0) and np.all(drone >= 0)
    assert np.count_nonzero(micro - np.diag(np.diag(micro))) == 0
    assert np.all(drone > 0)


@SENSORS
def test_variance_follows_shot_noise_line_with_configured_gain(sensor):
    rng = np.random.default_rng(0)
    levels = np.array([0.02, 0.05, 0.1, 0.2, 0.35, 0.5])
    means, variances = [], []
    for level in levels:
        dn = expose(np.full((256, 256), level), 1.0, sensor, rng).astype(np.float64)
        means.append(dn.mean() - sensor.mean_black)
        variances.append(dn.var())
    slope, intercept = np.polyfit(means, variances, 1)
    assert slope == pytest.approx(sensor.gain, rel=0.04)
    assert np.allclose(means, levels * DN_SCALE, rtol=0.01)


def test_dark_frame_holds_read_and_quantisation_noise():
    dn = expose(np.zeros((512, 512)), 1.0, DRONE_SENSOR, np.random.default_rng(2)).astype(np.float64)
    expected = (DRONE_SENSOR.gain * DRONE_SENSOR.read_noise) ** 2 + DRONE_SENSOR.step**2 / 12
    for black, (dy, dx) in zip(DRONE_SENSOR.black_level, [(0, 0), (0, 1), (1, 0), (1, 1)]):
        site = dn[dy::2, dx::2]
        assert site.mean() == pytest.approx(black, abs=2)
        assert site.var() == pytest.approx(expected, rel=0.1)


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
        return np.mean([tifffile.imread(f).astype(np.float64).mean() for f in files]) - sensor.mean_black

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


def test_microscopy_clear_glass_reads_the_capture_levels_and_field_means_render_near_the_profile_mean():
    """Clear glass (no stain) reads each capture's own level at its sites; the measured raw field means
    (what the clear-glass levels are calibrated to) render near the MICROSCOPY profile's documented mean
    (black level, negative-red WB, fitted CCM, gamma), and clear glass renders brighter than that."""
    from lens2logit.data.synth.sensor import MICROSCOPY_FIELD_MEANS
    from lens2logit.isp.camera import MICROSCOPY

    scene = np.ones((32 * SUPERSAMPLE, 32 * SUPERSAMPLE, 3))
    signal = scene_to_signal(scene, MICROSCOPY_SENSOR)
    levels = np.diag(colour_response(MICROSCOPY_SENSOR))
    assert np.allclose([signal[0::2, 0::2].mean(), signal[0::2, 1::2].mean(), signal[1::2, 1::2].mean()], levels)

    def render(raw_means):
        linear = np.array(MICROSCOPY.colour_matrix) @ (np.array(MICROSCOPY.white_balance) * np.asarray(raw_means))
        return np.clip(linear, 0, 1) ** (1 / 2.2)

    assert np.allclose(render(MICROSCOPY_FIELD_MEANS), MICROSCOPY.mean, atol=0.05)
    assert np.all(render(levels) >= render(MICROSCOPY_FIELD_MEANS))


@pytest.mark.parametrize("cls", MICROSCOPY_CLASSES)
def test_leukocytes_are_drawn_at_their_real_size(cls):
    """At 0.1625 µm per pixel a cell's measured diameter is its drawn one (its haematology range:
    tests/test_synth_physics.py), and a smaller field is a crop of the same cell, not a rescaled one."""
    from lens2logit.data.synth.microscopy import cell_diameter_px, cell_radius_px, leukocyte

    for seed in range(3):
        sizes = []
        for side in (128, 256):
            y, x = grid(side, side)
            rng = np.random.default_rng([seed, 7])
            radius = cell_radius_px(rng, cls)
            conc = leukocyte(rng, cls, y, x, side / 2, side / 2, radius)
            sizes.append(cell_diameter_px(conc))
        assert sizes[1] == pytest.approx(2 * radius, rel=0.05), (cls, seed, sizes)  # KSC: ragged outline
        assert sizes[0] == pytest.approx(sizes[1], abs=0.5)


def test_drone_cars_have_their_size_at_6cm_gsd():
    """Cars are 3.8–5 m × 1.5–2.1 m on the ground: ≈63–83 × 25–35 px at 6 cm per pixel, at any tile size."""
    from lens2logit.data.synth.drone import GSD_M, drone_scene

    lengths = []
    for tile in (64, 128):
        scene = drone_scene(np.random.default_rng([4, tile]), tile)
        labels, count = ndimage.label(scene.mask)
        assert count >= 1
        for k in range(1, count + 1):
            yy, xx = np.nonzero(labels == k)
            if yy.min() == 0 or xx.min() == 0 or yy.max() == labels.shape[0] - 1 or xx.max() == labels.shape[1] - 1:
                continue  # cut by the image border
            # A rectangle's second moments: variance L²/12 along its length, W²/12 across.
            major, minor = np.sqrt(12 * np.linalg.eigvalsh(np.cov(np.stack([yy, xx]))))[::-1]
            assert 3.7 <= major * GSD_M <= 5.1 and 1.4 <= minor * GSD_M <= 2.2, (major, minor)
            lengths.append(major)
    assert lengths and 70 <= np.median(lengths) <= 80  # 4.4 m median car, ≈ 75 px


def test_drone_masks_match_drawn_cars():
    from lens2logit.data.synth.drone import drone_scene

    scene = drone_scene(np.random.default_rng(3), DRONE_TILE)
    assert scene.cars, "the scene model placed no car"
    labels, count = ndimage.label(scene.mask)
    assert count == len(scene.cars)  # one connected footprint per car, none merged
    inside = 0
    for car in scene.cars:
        component = labels[int(car.cy), int(car.cx)]
        assert component > 0
        reach = np.hypot(car.length, car.width) / 2
        if not (reach < car.cy < labels.shape[0] - reach and reach < car.cx < labels.shape[1] - reach):
            continue  # possibly cut by the image border
        inside += 1
        area = (labels == component).sum()
        assert abs(area - car.length * car.width) <= car.length + car.width + 2  # pixelisation of the outline
    assert inside > 0


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
    assert seg.kind == "segmentation" and seg.targets.shape == seg.raw.shape and len(seg.ids) > 0
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
