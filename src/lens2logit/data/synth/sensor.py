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
camera profile. Lower intensities scale the photon count of the same noiseless signal and draw
matching shot and read noise (what the authors' calibrated sensor-noise tool does).
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
MICROSCOPY_BLACK_DN = 9.834368023181512e-06 * DN_SCALE  # the MICROSCOPY profile's black level (0.64 DN)
# Clear-glass level of each capture (DN above black / 65535): the raw per-channel means of the real
# mosaics (reference-spec §1.4, "mosaic normalisation"), i.e. the authors' independent rescaling.
MICROSCOPY_CAPTURE_LEVELS = (0.5663, 0.1401, 0.0731)

# ---- Raw-Drone instrument (docs/data.md, "Drone camera") ---------------------------------------
DRONE_PIXEL_UM = 2.4  # Sony IMX183
DRONE_F_NUMBER = 8.0
DRONE_PSF_DIAMETER_UM = 12.5  # measured PSF circle diameter (an Airy disc: diffraction-limited)
DRONE_GAIN_DN16_PER_E = 0.528 * 16  # 0.528 DN12/e⁻ at ISO 200, left-justified to 16 bits
DRONE_BLACK_DN16 = 256 * 16  # 12-bit black 256 = 0.0625 of 65535: the DRONE profile's black level
DRONE_READ_NOISE_E = 2.5  # not given by the authors; IMX183 at low gain: 2–3 e⁻
# ISO 12232 saturation-based exposure: an 18 % grey lands at 10/78 of clipping, so a perfect white
# diffuser reaches 0.128 / 0.18 = 0.71 of the range above black (141 % highlight headroom).
ISO12232_WHITE_FRACTION = (10.0 / 78.0) / 0.18


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


def drone_psf_sigma_px() -> float:
    """PSF σ (pixels) of the drone camera: Gaussian equivalent of the measured Airy disc."""
    wavelength_times_n = DRONE_PSF_DIAMETER_UM / AIRY_DIAMETER_PER_LAMBDA_N  # λN implied by the disc
    return 2 * AIRY_SIGMA_PER_LAMBDA_OVER_NA * wavelength_times_n / DRONE_PIXEL_UM


@dataclass(frozen=True)
class SensorModel:
    """Constants of one synthetic camera.

    Attributes:
        gain: DN (16-bit scale) per electron.
        black_level: DN (16-bit scale) added before quantisation.
        read_noise: electrons (standard deviation).
        bits: ADC bits; fewer than 16 are left-justified (DN16 = DN_n · 2^(16-n)).
        psf_sigma: Gaussian optics blur in output pixels, per channel (R, G, B).
        response: 3×3 matrix, camera signal (DN above black / 65535 at intensity 1) = response @ scene.
        pixel_um: pixel size in the object plane (µm) — microscopy 0.1625 µm, drone 60 000 µm (6 cm GSD).
    """

    gain: float
    black_level: float
    read_noise: float
    bits: int
    psf_sigma: tuple[float, float, float]
    response: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
    pixel_um: float

    @property
    def step(self) -> int:
        """Quantisation step in 16-bit DN."""
        return 2 ** (16 - self.bits)

    @property
    def white(self) -> float:
        """Largest DN (16-bit scale)."""
        return float((2**self.bits - 1) * self.step)


def _drone_response() -> np.ndarray:
    """``exposure · (M @ diag(wb))⁻¹`` of the DRONE profile (all entries ≥ 0: overlapping filters).

    The profile's WB + CCM map the sensor signal back to the scene's linear sRGB; the exposure puts a
    perfect white diffuser at the ISO 12232 level in the green channel.
    """
    from lens2logit.isp.camera import DRONE

    forward = np.asarray(DRONE.colour_matrix, dtype=np.float64) @ np.diag(DRONE.white_balance)
    inverse = np.linalg.inv(forward)
    clip_above_black = ((2**12 - 1) * 16 - DRONE_BLACK_DN16) / DN_SCALE
    exposure = ISO12232_WHITE_FRACTION * clip_above_black / float(inverse[1].sum())
    return exposure * inverse


MICROSCOPY_SENSOR = SensorModel(
    gain=DN_SCALE / MICROSCOPY_FULL_WELL_E,
    black_level=MICROSCOPY_BLACK_DN,
    read_noise=MICROSCOPY_READ_NOISE_E,
    bits=16,
    psf_sigma=tuple(microscopy_psf_sigma_px(w) for w in MICROSCOPY_BANDS_UM),
    response=tuple(tuple(float(v) for v in row) for row in np.diag(MICROSCOPY_CAPTURE_LEVELS)),
    pixel_um=MICROSCOPY_PIXEL_UM,
)
DRONE_SENSOR = SensorModel(
    gain=DRONE_GAIN_DN16_PER_E,
    black_level=float(DRONE_BLACK_DN16),
    read_noise=DRONE_READ_NOISE_E,
    bits=12,
    psf_sigma=(drone_psf_sigma_px(),) * 3,
    response=tuple(tuple(float(v) for v in row) for row in _drone_response()),
    pixel_um=60_000.0,
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


def scene_to_signal(scene_hr: np.ndarray, sensor: SensorModel) -> np.ndarray:
    """Supersampled linear scene → expected normalised mosaic signal at intensity 1.0 ``(H, W)``."""
    return rggb_signal(optics(scene_hr, sensor) @ colour_response(sensor).T)


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
    dn = sensor.black_level + sensor.gain * electrons
    codes = np.clip(np.round(dn / sensor.step), 0, 2**sensor.bits - 1)
    return (codes * sensor.step).astype(np.uint16)
