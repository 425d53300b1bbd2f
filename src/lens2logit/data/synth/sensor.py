"""Sensor model of the embedded datasets: optics → colour filters → photons → electrons → DN.

The scene is linear RGB (display primaries, 1.0 = full reflectance/transmittance). Colour-filter
responses are solved by inverting the dataset's camera profile (``M @ diag(wb)`` of
reference-spec §1.4), so that the profile's own black level + WB + CCM + gamma renders the scene in
its intended colours. Signal chain per pixel, intensity ratio ``I``::

    electrons ~ Poisson(I · signal · 65535 / gain) + Normal(0, read_noise)
    DN = quantise(black + gain · electrons)   (12-bit left-justified or 16-bit)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lens2logit.data.layout import DN_SCALE

SUPERSAMPLE = 2  # scenes are drawn at 2× and box-averaged: the pixel aperture anti-aliases edges
PIXEL_CROSSTALK = 0.02  # fraction of a pixel's charge that leaks to each 4-neighbour


@dataclass(frozen=True)
class SensorModel:
    """Constants of one synthetic camera.

    Attributes:
        gain: DN (16-bit scale) per electron.
        black_level: DN (16-bit scale) added before quantisation.
        read_noise: electrons (standard deviation).
        bits: ADC bits; fewer than 16 are left-justified (DN16 = DN_n · 2^(16-n)).
        psf_sigma: Gaussian optics blur in output pixels.
        exposure: normalised signal (DN above black / 65535) of a unit scene at intensity 1.0, before
            the colour response.
        camera: name of the ``lens2logit.isp.camera`` profile the responses are solved for.
    """

    gain: float
    black_level: float
    read_noise: float
    bits: int
    psf_sigma: float
    exposure: float
    camera: str

    @property
    def step(self) -> int:
        """Quantisation step in 16-bit DN."""
        return 2 ** (16 - self.bits)

    @property
    def white(self) -> float:
        """Largest DN (16-bit scale)."""
        return float((2**self.bits - 1) * self.step)


# Microscopy: 16-bit camera, black level of the MICROSCOPY profile (≈0.64 DN).
MICROSCOPY_SENSOR = SensorModel(
    gain=2.0, black_level=9.834368023181512e-06 * DN_SCALE, read_noise=4.0, bits=16, psf_sigma=0.5,
    exposure=1.0, camera="microscopy",
)
# Drone: 12-bit left-justified, black 256 (12-bit) = 4096 DN16, 8.448 DN16 per electron.
DRONE_SENSOR = SensorModel(
    gain=8.448, black_level=4096.0, read_noise=2.5, bits=12, psf_sigma=0.5, exposure=1.1, camera="drone",
)


def colour_response(sensor: SensorModel) -> np.ndarray:
    """3×3 matrix: camera RGB (normalised signal above black) = R @ scene linear RGB.

    Solved as ``exposure · (M @ diag(wb))⁻¹`` of the camera profile, so the profile's WB and CCM
    map the sensor signal back to the scene; its off-diagonal terms are the filter cross-talk.
    """
    from lens2logit.isp.camera import get_camera

    profile = get_camera(sensor.camera)
    forward = np.asarray(profile.colour_matrix, dtype=np.float64) @ np.diag(profile.white_balance)
    return sensor.exposure * np.linalg.inv(forward)


def optics(scene_hr: np.ndarray, sensor: SensorModel) -> np.ndarray:
    """Supersampled linear scene ``(SH, SW, 3)`` → blurred, pixel-integrated ``(H, W, 3)``."""
    if scene_hr.ndim != 3 or scene_hr.shape[0] % SUPERSAMPLE or scene_hr.shape[1] % SUPERSAMPLE:
        raise ValueError(f"scene must be (H*{SUPERSAMPLE}, W*{SUPERSAMPLE}, 3), got {scene_hr.shape}")
    sigma = sensor.psf_sigma * SUPERSAMPLE
    blurred = ndimage.gaussian_filter(scene_hr, sigma=(sigma, sigma, 0), mode="reflect")
    h, w = scene_hr.shape[0] // SUPERSAMPLE, scene_hr.shape[1] // SUPERSAMPLE
    return blurred.reshape(h, SUPERSAMPLE, w, SUPERSAMPLE, 3).mean(axis=(1, 3))


def rggb_signal(camera_rgb: np.ndarray) -> np.ndarray:
    """Camera RGB ``(H, W, 3)`` → RGGB mosaic of the normalised signal, with charge cross-talk."""
    h, w, _ = camera_rgb.shape
    signal = np.empty((h, w), dtype=np.float64)
    signal[0::2, 0::2] = camera_rgb[0::2, 0::2, 0]
    signal[0::2, 1::2] = camera_rgb[0::2, 1::2, 1]
    signal[1::2, 0::2] = camera_rgb[1::2, 0::2, 1]
    signal[1::2, 1::2] = camera_rgb[1::2, 1::2, 2]
    signal = np.clip(signal, 0.0, None)  # out-of-gamut scene colours give no negative charge
    neighbours = ndimage.convolve(signal, np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], float), mode="reflect")
    return (1 - 4 * PIXEL_CROSSTALK) * signal + PIXEL_CROSSTALK * neighbours


def scene_to_signal(scene_hr: np.ndarray, sensor: SensorModel) -> np.ndarray:
    """Supersampled linear scene → expected normalised mosaic signal at intensity 1.0 ``(H, W)``."""
    camera_rgb = optics(scene_hr, sensor) @ colour_response(sensor).T
    return rggb_signal(camera_rgb)


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
