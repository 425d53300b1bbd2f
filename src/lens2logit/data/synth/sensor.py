"""The two synthetic cameras: optics → colour sampling → photons → electrons → DN.

Every constant comes from the instruments' description (``docs/data.md`` holds the table with
each derivation). Signal chain of one image at light-intensity ratio ``I``::

    scene (linear, drawn at SUPERSAMPLE×)  → Gaussian PSF per channel (σ from the measured PSF)
    → box integration over the pixel (the pixel aperture) → camera channels (``colour_response``)
    → RGGB sampling (``rggb_signal``; each site keeps its own channel, nothing else)
    → electrons ~ Poisson(I · signal · 65535 / gain) + Normal(0, read_noise)
    → DN = quantise(black + gain · electrons)   (16-bit, or 12-bit left-justified)

Raw-Microscopy: three separate narrowband captures (620 / 525 / 450 nm), each rescaled to its own
level, then pixels discarded to form the Bayer pattern — a diagonal response with zero cross-talk.
Raw-Drone: a real RGGB sensor whose (overlapping, non-negative) filter responses are those of its
camera profile, with a PSF per colour band (diffraction-limited f/8), black levels per site as in the
profile, and each frame's exposure set by an averaging meter (:func:`meter`). Lower intensities
scale the photon count of the same noiseless signal and draw matching shot and read noise (what the
authors' calibrated sensor-noise tool does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lens2logit.data.layout import DN_SCALE

SUPERSAMPLE = 2  # scenes are drawn at 2× the pixel grid; 2×2 averaging = box integration over the pixel

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))  # 2.3548
# Gaussian fit to the widefield Airy pattern: σ ≈ 0.21 λ/NA = 0.42 λN (Zhang, Zerubia & Olivo-Marin 2007).
AIRY_SIGMA_PER_LAMBDA_OVER_NA = 0.21
AIRY_DIAMETER_PER_LAMBDA_N = 2.44  # first dark ring: diameter 2.44 λN (= 1.22 λ/NA radius)

# ---- Raw-Microscopy instrument (docs/data.md, "Microscopy camera") ----------------------------
MICROSCOPY_PIXEL_PITCH_UM = 6.5  # pco.edge 5.5
MICROSCOPY_MAGNIFICATION = 40.0  # UPLXAPO40X
MICROSCOPY_PIXEL_UM = MICROSCOPY_PIXEL_PITCH_UM / MICROSCOPY_MAGNIFICATION  # 0.1625 µm at the sample
MICROSCOPY_NA = 0.95
MICROSCOPY_PSF_FWHM_UM = 0.450  # measured with 100 nm nanospheres
MICROSCOPY_PSF_WAVELENGTH_UM = 0.450  # band of that measurement (assumed: the blue capture)
MICROSCOPY_BANDS_UM = (0.620, 0.525, 0.450)  # R, G, B narrowband captures
MICROSCOPY_FULL_WELL_E = 30_000.0  # pco.edge 5.5 (16-bit range spans the full well)
MICROSCOPY_READ_NOISE_E = 1.4  # pco.edge 5.5: ≈1–1.5 e⁻; rms value (the model draws a Gaussian)
# Raw per-channel means of the real mosaics over whole 256-px crops (reference-spec §1.4, "mosaic
# normalisation"): field means, cells included, after the authors' independent rescaling per capture.
MICROSCOPY_FIELD_MEANS = (0.5663, 0.1401, 0.0731)
# Clear-glass level of each capture (DN above black / 65535) that gives those field means on synthetic
# 256-px fields with the published class mix: calibration.calibrate_capture_levels() (one-off; rerun
# when the scene model changes, tests/test_synth_physics.py checks it).
MICROSCOPY_CAPTURE_LEVELS = (0.5846, 0.1600, 0.0812)

# ---- Raw-Drone instrument (docs/data.md, "Drone camera") ---------------------------------------
DRONE_PIXEL_UM = 2.4  # Sony IMX183
DRONE_F_NUMBER = 8.0
DRONE_PSF_DIAMETER_UM = 12.5  # measured PSF circle diameter (an Airy disc: diffraction-limited)
# Effective wavelength of each colour band (R, G, B), µm. R: the wavelength the measured disc implies at
# f/8, 12.5 / (2.44 · 8) = 0.640 µm (the measurement is read as the red band's, the widest); G, B:
# centroids of a typical RGB Bayer filter's pass bands (assumption: no filter curves are given).
DRONE_BAND_G_UM, DRONE_BAND_B_UM = 0.530, 0.460
DRONE_GAIN_DN16_PER_E = 0.528 * 16  # 0.528 DN12/e⁻ at ISO 200, left-justified to 16 bits
DRONE_READ_NOISE_E = 2.5  # not given by the authors; IMX183 at low gain: 2–3 e⁻
DRONE_CLIP_DN16 = (2**12 - 1) * 16  # 12-bit full scale, left-justified: 65520
# Exposure: f/8 and ISO 200 are given, the shutter time is not, so it is the camera's meter that sets
# it. ISO 12232 (saturation-based speed S = 78 / H_sat) puts the metered mid-tone exposure H = 10 / S at
# 10/78 of saturation; an averaging meter takes the frame's own mean as that mid-tone. So each frame's
# mean green signal lands at 10/78 of the range above black, whatever the scene's reflectances.
ISO12232_MIDTONE_FRACTION = 10.0 / 78.0


def diffraction_sigma_um(wavelength_um: float, na: float) -> float:
    """σ of the Gaussian closest to the widefield Airy pattern, in µm."""
    return AIRY_SIGMA_PER_LAMBDA_OVER_NA * wavelength_um / na


def microscopy_psf_sigma_px(wavelength_um: float) -> float:
    """PSF σ (pixels) of the microscope in one narrow band.

    The measured FWHM (at ``MICROSCOPY_PSF_WAVELENGTH_UM``) is split in quadrature into the
    diffraction part at that wavelength and a wavelength-independent rest (aberrations, focus);
    the diffraction part is then rescaled to ``wavelength_um``.
    """
    measured = MICROSCOPY_PSF_FWHM_UM / FWHM_PER_SIGMA
    rest_sq = measured**2 - diffraction_sigma_um(MICROSCOPY_PSF_WAVELENGTH_UM, MICROSCOPY_NA) ** 2
    return math.sqrt(rest_sq + diffraction_sigma_um(wavelength_um, MICROSCOPY_NA) ** 2) / MICROSCOPY_PIXEL_UM


def drone_band_wavelengths_um() -> tuple[float, float, float]:
    """Effective wavelengths (R, G, B) in µm; R is the one the measured Airy disc implies at f/8."""
    red = DRONE_PSF_DIAMETER_UM / (AIRY_DIAMETER_PER_LAMBDA_N * DRONE_F_NUMBER)  # 0.640 µm
    return red, DRONE_BAND_G_UM, DRONE_BAND_B_UM


def drone_psf_sigma_px(wavelength_um: float) -> float:
    """PSF σ (pixels) of the diffraction-limited f/8 drone lens at ``wavelength_um``: σ = 0.42 λN / pitch."""
    return 2 * AIRY_SIGMA_PER_LAMBDA_OVER_NA * wavelength_um * DRONE_F_NUMBER / DRONE_PIXEL_UM


def profile_black_dn16(black_level: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A camera profile's black level per site (R, G1, G2, B; normalised) in 16-bit DN."""
    return tuple(float(v) * DN_SCALE for v in black_level)


@dataclass(frozen=True)
class SensorModel:
    """Constants of one synthetic camera.

    Attributes:
        gain: DN (16-bit scale) per electron.
        black_level: DN (16-bit scale) added before quantisation, per RGGB site (R, G1, G2, B), as in
            the camera profiles.
        read_noise: electrons (standard deviation).
        bits: ADC bits; fewer than 16 are left-justified (DN16 = DN_n · 2^(16-n)).
        psf_sigma: Gaussian optics blur in output pixels, per channel (R, G, B).
        response: 3×3 matrix, camera signal (DN above black / 65535 at intensity 1) = response @ scene.
        pixel_um: pixel size in the object plane (µm) — microscopy 0.1625 µm, drone 60 000 µm (6 cm GSD).
        metered_level: ``None`` (fixed exposure: ``response`` is absolute) or the mean green signal
            (normalised, above black) that an averaging meter gives every frame (:func:`meter`).
    """

    gain: float
    black_level: tuple[float, float, float, float]
    read_noise: float
    bits: int
    psf_sigma: tuple[float, float, float]
    response: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
    pixel_um: float
    metered_level: float | None = None

    @property
    def step(self) -> int:
        """Quantisation step in 16-bit DN."""
        return 2 ** (16 - self.bits)

    @property
    def mean_black(self) -> float:
        """Mean black level over the four sites (DN, 16-bit scale)."""
        return float(np.mean(self.black_level))

    def black_mosaic(self, shape: tuple[int, int]) -> np.ndarray:
        """Black level of every pixel of an RGGB mosaic of ``shape`` (even sides), DN16 ``(H, W)``."""
        if shape[0] % 2 or shape[1] % 2:
            raise ValueError(f"an RGGB mosaic needs even sides, got {shape}")
        r, g1, g2, b = self.black_level
        return np.tile(np.array([[r, g1], [g2, b]], dtype=np.float64), (shape[0] // 2, shape[1] // 2))

    @property
    def white(self) -> float:
        """Largest DN (16-bit scale)."""
        return float((2**self.bits - 1) * self.step)


def _drone_response() -> np.ndarray:
    """``(M @ diag(wb))⁻¹`` of the DRONE profile, scaled so that a perfect white diffuser gives 1 in G.

    All entries are ≥ 0 (overlapping filters). The profile's WB + CCM map the sensor signal back to
    the scene's linear sRGB. The exposure is set per frame by the meter (:func:`meter`).
    """
    from lens2logit.isp.camera import DRONE

    forward = np.asarray(DRONE.colour_matrix, dtype=np.float64) @ np.diag(DRONE.white_balance)
    inverse = np.linalg.inv(forward)
    return inverse / float(inverse[1].sum())


def _drone_metered_level() -> float:
    """Mean green signal (normalised, above black) of a metered drone frame: 10/78 of the clip."""
    from lens2logit.isp.camera import DRONE

    green_black = np.mean(profile_black_dn16(DRONE.black_level)[1:3])
    return ISO12232_MIDTONE_FRACTION * (DRONE_CLIP_DN16 - green_black) / DN_SCALE


def _profile_black(name: str) -> tuple[float, float, float, float]:
    from lens2logit.isp.camera import CAMERAS

    return profile_black_dn16(CAMERAS[name].black_level)


MICROSCOPY_SENSOR = SensorModel(
    gain=DN_SCALE / MICROSCOPY_FULL_WELL_E,
    black_level=_profile_black("microscopy"),  # 9.834e-6 · 65535 = 0.64 DN at every site
    read_noise=MICROSCOPY_READ_NOISE_E,
    bits=16,
    psf_sigma=tuple(microscopy_psf_sigma_px(w) for w in MICROSCOPY_BANDS_UM),
    response=tuple(tuple(float(v) for v in row) for row in np.diag(MICROSCOPY_CAPTURE_LEVELS)),
    pixel_um=MICROSCOPY_PIXEL_UM,
)
DRONE_SENSOR = SensorModel(
    gain=DRONE_GAIN_DN16_PER_E,
    black_level=_profile_black("drone"),  # 0.0625 / 0.0626 per site: 4096 / 4102.5 DN16
    read_noise=DRONE_READ_NOISE_E,
    bits=12,
    psf_sigma=tuple(drone_psf_sigma_px(w) for w in drone_band_wavelengths_um()),
    response=tuple(tuple(float(v) for v in row) for row in _drone_response()),
    pixel_um=60_000.0,
    metered_level=_drone_metered_level(),
)


def colour_response(sensor: SensorModel) -> np.ndarray:
    """The sensor's 3×3 response matrix (camera signal = R @ linear scene)."""
    return np.asarray(sensor.response, dtype=np.float64)


def optics(scene_hr: np.ndarray, sensor: SensorModel) -> np.ndarray:
    """Supersampled linear scene ``(H·s, W·s, 3)`` → blurred, pixel-integrated ``(H, W, 3)``.

    Each channel is blurred with its own Gaussian PSF (σ in output pixels), then averaged over
    ``SUPERSAMPLE × SUPERSAMPLE`` blocks: the box integration of a 100 %-fill-factor pixel.
    """
    s = SUPERSAMPLE
    if scene_hr.ndim != 3 or scene_hr.shape[2] != 3 or scene_hr.shape[0] % s or scene_hr.shape[1] % s:
        raise ValueError(f"scene must be (H*{s}, W*{s}, 3), got {scene_hr.shape}")
    blurred = np.empty_like(scene_hr, dtype=np.float64)
    for c, sigma in enumerate(sensor.psf_sigma):
        ndimage.gaussian_filter(scene_hr[..., c], sigma * s, mode="reflect", output=blurred[..., c], truncate=4.0)
    h, w = scene_hr.shape[0] // s, scene_hr.shape[1] // s
    return blurred.reshape(h, s, w, s, 3).mean(axis=(1, 3))


def rggb_signal(camera_rgb: np.ndarray) -> np.ndarray:
    """Camera channels ``(H, W, 3)`` → RGGB mosaic ``(H, W)``: each site keeps only its own channel.

    No charge is shared between sites and a response below zero (impossible for a photodiode) is
    clipped to zero.
    """
    h, w, _ = camera_rgb.shape
    signal = np.empty((h, w), dtype=np.float64)
    signal[0::2, 0::2] = camera_rgb[0::2, 0::2, 0]
    signal[0::2, 1::2] = camera_rgb[0::2, 1::2, 1]
    signal[1::2, 0::2] = camera_rgb[1::2, 0::2, 1]
    signal[1::2, 1::2] = camera_rgb[1::2, 1::2, 2]
    return np.clip(signal, 0.0, None)


def meter(signal: np.ndarray, level: float) -> np.ndarray:
    """Averaging auto-exposure: scale an RGGB signal ``(H, W)`` so that its mean over the G sites is ``level``."""
    green = 0.5 * (signal[0::2, 1::2].mean() + signal[1::2, 0::2].mean())
    if green <= 0:
        raise ValueError("meter: a frame without green signal cannot be metered")
    return signal * (level / green)


def scene_to_signal(scene_hr: np.ndarray, sensor: SensorModel) -> np.ndarray:
    """Supersampled linear scene → expected normalised mosaic signal at intensity 1.0 ``(H, W)``.

    With ``sensor.metered_level`` the frame is exposed by the meter (:func:`meter`); the signal then
    depends on the scene's reflectances only relative to its own mean.
    """
    signal = rggb_signal(optics(scene_hr, sensor) @ colour_response(sensor).T)
    return signal if sensor.metered_level is None else meter(signal, sensor.metered_level)


def expose(signal: np.ndarray, intensity: float, sensor: SensorModel, rng: np.random.Generator) -> np.ndarray:
    """Expected normalised signal → uint16 DN mosaic at light ``intensity`` (shot + read noise, ADC).

    The mean DN above black is ``intensity · signal · 65535``; its variance is ``gain`` times that
    (shot noise) plus ``(gain · read_noise)²`` and the quantisation variance ``step² / 12``.
    """
    if not 0 < intensity <= 1:
        raise ValueError(f"intensity must be in (0, 1], got {intensity}")
    mean_electrons = np.clip(intensity * signal, 0.0, None) * DN_SCALE / sensor.gain
    electrons = rng.poisson(mean_electrons).astype(np.float64)
    electrons += rng.normal(0.0, sensor.read_noise, size=electrons.shape)
    dn = sensor.black_mosaic(signal.shape) + sensor.gain * electrons
    codes = np.clip(np.round(dn / sensor.step), 0, 2**sensor.bits - 1)
    return (codes * sensor.step).astype(np.uint16)
