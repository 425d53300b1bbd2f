"""Physics details of the synthetic cameras and scenes (issue 17 item 4; derivations in docs/data.md):
drone PSF per colour band, microscopy clear-glass calibration against the measured field means,
biological cell diameters, a class-independent red-cell clear zone, per-site drone black levels, and
the original's zoom_blur factor lists."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_synth import slanted_edge_sigma

from lens2logit.data.layout import DN_SCALE, MICROSCOPY_CLASSES
from lens2logit.data.synth import microscopy as micro
from lens2logit.data.synth.sensor import (
    DRONE_SENSOR,
    MICROSCOPY_FIELD_MEANS,
    MICROSCOPY_PIXEL_UM,
    MICROSCOPY_SENSOR,
    expose,
    scene_to_signal,
)
from lens2logit.data.synth.shapes import grid

# The review's values for a diffraction-limited f/8 lens anchored at the 12.5 µm disc (σ = 0.42 λ N / 2.4 µm,
# λ ≈ 0.64 / 0.53 / 0.46 µm): an independent statement of what the model must give.
EXPECTED_DRONE_PSF = {"R": 0.90, "G": 0.75, "B": 0.65}
SITE_OFFSETS = [(0, 0), (0, 1), (1, 0), (1, 1)]  # R, G1 (red row), G2 (blue row), B


@pytest.mark.parametrize("channel, band", list(enumerate("RGB")))
def test_drone_psf_per_band_is_diffraction_limited(channel, band):
    """The configured σ and the σ measured on a slanted edge are within 10 % of 0.42 λN per band."""
    assert DRONE_SENSOR.psf_sigma[channel] == pytest.approx(EXPECTED_DRONE_PSF[band], rel=0.10)
    measured = np.sqrt(slanted_edge_sigma(DRONE_SENSOR, channel) ** 2 - 1 / 12)  # minus the pixel box
    assert measured == pytest.approx(EXPECTED_DRONE_PSF[band], rel=0.10)


def test_drone_psf_scales_with_wavelength():
    from lens2logit.data.synth.sensor import drone_band_wavelengths_um

    wavelengths = np.array(drone_band_wavelengths_um())
    assert wavelengths[0] == pytest.approx(12.5 / (2.44 * 8), rel=1e-6)  # implied by the measured disc
    ratios = np.array(DRONE_SENSOR.psf_sigma) / wavelengths
    assert np.allclose(ratios, ratios[0])


@pytest.mark.slow
def test_microscopy_field_means_match_the_measured_raw_means():
    """Synthetic 256-px fields (the real crops) with the published class mix, from a seed that the
    calibration did not use, have the measured per-channel raw field means within 2 %."""
    from lens2logit.data.synth.calibration import CALIBRATION_SIDE, class_shares

    means = np.zeros(3)
    for k, (cls, share) in enumerate(sorted(class_shares().items())):
        fields = []
        for i in range(8):  # 72 fields: standard error of the mean ≈ 0.5–0.8 % per band
            scene = micro.microscopy_scene(np.random.default_rng([77, k, i]), cls, CALIBRATION_SIDE)
            signal = scene_to_signal(scene, MICROSCOPY_SENSOR)
            fields.append([signal[dy::2, dx::2].mean() for dy, dx in ((0, 0), (0, 1), (1, 1))])
        means += share * np.mean(fields, axis=0)
    assert means == pytest.approx(np.array(MICROSCOPY_FIELD_MEANS), rel=0.02)


def test_clear_glass_is_brighter_than_the_field_mean():
    """Cells absorb: the clear-glass level of every capture lies above its measured field mean."""
    levels = np.diag(np.asarray(MICROSCOPY_SENSOR.response))
    assert np.all(levels > np.asarray(MICROSCOPY_FIELD_MEANS))


@pytest.mark.parametrize("cls", MICROSCOPY_CLASSES)
def test_cell_diameters_lie_in_their_haematology_ranges(cls):
    """The drawn cell body (nucleus + cytoplasm) measures within its class's µm range (±0.3 µm for the
    soft edge and the outline's wobble)."""
    low, high = micro.CELL_DIAMETER_UM[cls]
    y, x = grid(128, 128)
    for seed in range(4):
        rng = np.random.default_rng([seed, 3])
        conc = micro.leukocyte(rng, cls, y, x, 64.0, 64.0, micro.cell_radius_px(rng, cls))
        diameter_um = micro.cell_diameter_px(conc) * MICROSCOPY_PIXEL_UM
        assert low - 0.3 <= diameter_um <= high + 0.3, (cls, seed, diameter_um)


def test_lymphocytes_and_monocytes_have_their_biological_sizes():
    """Small lymphocytes ≈ 7–10 µm, monocytes ≈ 14–18 µm; the largest cell plus the centring jitter
    fits the default 128-px field (20.8 µm)."""
    assert 7.0 <= micro.CELL_DIAMETER_UM["LYT"][0] and micro.CELL_DIAMETER_UM["LYT"][1] <= 10.0
    assert 14.0 <= micro.CELL_DIAMETER_UM["MON"][0] and micro.CELL_DIAMETER_UM["MON"][1] <= 18.0
    largest = max(high for _, high in micro.CELL_DIAMETER_UM.values())
    assert largest + 2 * 0.8 <= 128 * MICROSCOPY_PIXEL_UM


def test_red_cell_clear_zone_does_not_depend_on_the_class(monkeypatch):
    """Given the drawn cell's radius, the red cells of a field are the same whatever the class: the
    clear zone follows the drawn cell, not its class's range."""
    monkeypatch.setattr(micro, "cell_radius_px", lambda rng, cls: micro.um(12.0) / 2)
    red = {cls: micro.scene_concentrations(np.random.default_rng(11), cls, 128)["rbc"] for cls in ("LYT", "MON", "NGS")}
    assert red["LYT"].sum() > 0
    assert np.array_equal(red["LYT"], red["MON"]) and np.array_equal(red["LYT"], red["NGS"])


def test_red_cells_stay_out_of_the_drawn_cell():
    """No red-cell centre lies inside the drawn white cell: its clear zone is at least its radius."""
    rng = np.random.default_rng(5)
    radius = micro.um(8.0) / 2
    assert all(micro.clear_zone_px(rng, radius) >= radius for _ in range(50))
    y, x = grid(128, 128)
    conc = micro.red_cells(np.random.default_rng(6), y, x, 64.0, 64.0, radius, 128)
    # Red-cell centres keep 0.85 of their radius outside the zone: their discs reach at most ≈0.2 of a
    # red-cell radius into it.
    inner = np.hypot(y - 64.0, x - 64.0) < radius - 0.3 * micro.um(micro.RBC_DIAMETER_UM[1]) / 2
    assert conc.sum() > 0 and conc[inner].max() == 0.0


def test_drone_black_level_per_site_is_the_profile_s():
    """A dark drone frame reads the DRONE profile's black level at each site (0.0625 / 0.0626), so the
    ISP's own black subtraction leaves every site at zero on average."""
    from lens2logit.isp.camera import DRONE
    from lens2logit.isp.color import apply_black_level

    dark = expose(np.zeros((256, 256)), 1.0, DRONE_SENSOR, np.random.default_rng(0)).astype(np.float64)
    for profile_black, (dy, dx) in zip(DRONE.black_level, SITE_OFFSETS):
        assert dark[dy::2, dx::2].mean() == pytest.approx(profile_black * DN_SCALE, abs=1.0)
    subtracted = apply_black_level(torch.from_numpy(dark / DN_SCALE), DRONE.black_level).numpy() * DN_SCALE
    for dy, dx in SITE_OFFSETS:
        assert abs(subtracted[dy::2, dx::2].mean()) < 1.0  # DN16; a flat 4096 left G1 and B 6.5 DN below zero


def test_microscopy_black_level_is_the_profile_s():
    from lens2logit.isp.camera import MICROSCOPY

    assert np.allclose(MICROSCOPY_SENSOR.black_level, np.array(MICROSCOPY.black_level) * DN_SCALE)


@pytest.mark.parametrize("severity, count, last", [(1, 7, 1.06), (2, 12, 1.11), (3, 16, 1.15), (5, 26, 1.25)])
def test_zoom_blur_uses_the_original_factor_lists(severity, count, last, monkeypatch):
    """Exactly ``np.arange(1, 1.06 | 1.11 | 1.16 | 1.21 | 1.26, 0.01)``: the float step lets 1.06 and
    1.11 in at severities 1 and 2; the mean is over the image and one zoom per factor."""
    from lens2logit.corruptions import benchmark as C

    used = []
    original = C._clipped_zoom
    monkeypatch.setattr(C, "_clipped_zoom", lambda image, factor: used.append(factor) or original(image, factor))
    image = np.random.default_rng(0).random((32, 32, 3))
    out = C.zoom_blur(image, C.PAPER_CONSTANTS["zoom_blur"][severity - 1], np.random.default_rng(0))
    assert len(used) == count and used[0] == 1.0 and used[-1] == pytest.approx(last, abs=1e-9)
    assert np.allclose(np.diff(used), 0.01)
    expected = (image + sum(original(image, f) for f in used)) / (count + 1)
    assert np.allclose(out, expected)


def test_drone_frames_are_metered_to_the_iso_12232_midtone():
    """Each frame's mean green signal lands at 10/78 of the range above black, whatever the scene's
    reflectance: a dark and a bright version of the same scene give the same raw green mean."""
    from lens2logit.data.synth.sensor import DRONE_CLIP_DN16

    rng = np.random.default_rng(3)
    scene = rng.uniform(0.02, 0.12, (64, 64, 3)).repeat(2, axis=0).repeat(2, axis=1)
    target = (10 / 78) * (DRONE_CLIP_DN16 - np.mean(DRONE_SENSOR.black_level[1:3])) / DN_SCALE
    for gain in (1.0, 3.0):
        signal = scene_to_signal(gain * scene, DRONE_SENSOR)
        green = 0.5 * (signal[0::2, 1::2].mean() + signal[1::2, 0::2].mean())
        assert green == pytest.approx(target, rel=1e-9)
        dn = expose(signal, 1.0, DRONE_SENSOR, np.random.default_rng(1)).astype(np.float64)
        raw_green = 0.5 * (dn[0::2, 1::2].mean() + dn[1::2, 0::2].mean()) - np.mean(DRONE_SENSOR.black_level[1:3])
        assert raw_green / DN_SCALE == pytest.approx(target, rel=0.01)
