"""Drawing primitives on a supersampled grid; coordinates and lengths are in output pixels."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from lens2logit.data.synth.sensor import SUPERSAMPLE

EDGE_WIDTH = 0.35  # output pixels: soft edge of drawn shapes (sub-pixel, the optics blur the rest)


def grid(height: int, width: int, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """(y, x) centres of the supersampled pixels, in output-pixel units, shape ``(H·s, W·s)``."""
    ys = ((np.arange(height * SUPERSAMPLE) + 0.5) / SUPERSAMPLE).astype(dtype)
    xs = ((np.arange(width * SUPERSAMPLE) + 0.5) / SUPERSAMPLE).astype(dtype)
    return np.meshgrid(ys, xs, indexing="ij")


def soft(distance_inside: np.ndarray) -> np.ndarray:
    """Coverage in [0, 1] from a signed distance (positive inside)."""
    return np.clip(0.5 + distance_inside / (2 * EDGE_WIDTH), 0.0, 1.0)


def rotate(y, x, cy, cx, angle):
    """Coordinates relative to (cy, cx) in a frame rotated by ``angle`` (u along the angle, v across)."""
    dy, dx = y - cy, x - cx
    c, s = np.cos(angle), np.sin(angle)
    return dx * c + dy * s, -dx * s + dy * c


def ellipse(y, x, cy, cx, ry, rx, angle=0.0) -> np.ndarray:
    """Signed distance-like field (positive inside), approximately in pixels near the edge."""
    u, v = rotate(y, x, cy, cx, angle)
    r = np.sqrt((u / rx) ** 2 + (v / ry) ** 2)
    return (1.0 - r) * min(rx, ry)


def rectangle(y, x, cy, cx, half_length, half_width, angle) -> np.ndarray:
    """Signed distance (positive inside) of a rotated rectangle, long side along ``angle``."""
    u, v = rotate(y, x, cy, cx, angle)
    return np.minimum(half_length - np.abs(u), half_width - np.abs(v))


def segment_distance(y, x, y0, x0, y1, x1) -> np.ndarray:
    """Distance to the segment (y0, x0)–(y1, x1)."""
    dy, dx = y1 - y0, x1 - x0
    t = np.clip(((y - y0) * dy + (x - x0) * dx) / max(dy * dy + dx * dx, 1e-12), 0.0, 1.0)
    return np.hypot(y - (y0 + t * dy), x - (x0 + t * dx))


def smooth_noise(rng: np.random.Generator, shape, sigma_px: float, anisotropy: float = 1.0, angle: float = 0.0) -> np.ndarray:
    """Zero-mean, unit-std Gaussian random field with correlation length ``sigma_px`` (output pixels).

    ``anisotropy`` > 1 stretches the correlation along ``angle`` (streaks).
    """
    sigma = sigma_px * SUPERSAMPLE
    if anisotropy == 1.0 and sigma > 6:
        # Large correlation lengths: filter a coarse field and interpolate (same statistics, far cheaper).
        factor = int(sigma // 3)
        coarse = rng.standard_normal((-(-shape[0] // factor) + 1, -(-shape[1] // factor) + 1))
        coarse = ndimage.gaussian_filter(coarse, sigma / factor, mode="wrap")
        field = ndimage.zoom(coarse, (shape[0] / coarse.shape[0], shape[1] / coarse.shape[1]), order=1)
        field = field[: shape[0], : shape[1]]
        return (field - field.mean()) / (field.std() or 1.0)
    field = rng.standard_normal(shape)
    if anisotropy == 1.0:
        field = ndimage.gaussian_filter(field, sigma, mode="wrap")
    else:
        field = ndimage.rotate(field, np.degrees(angle), reshape=False, mode="wrap", order=1)
        field = ndimage.gaussian_filter(field, (sigma, sigma * anisotropy), mode="wrap")
        field = ndimage.rotate(field, -np.degrees(angle), reshape=False, mode="wrap", order=1)
    std = field.std()
    return (field - field.mean()) / (std if std > 0 else 1.0)


def fractal_noise(rng: np.random.Generator, shape, base_sigma_px: float, octaves: int = 4) -> np.ndarray:
    """Sum of smooth-noise octaves (halving the scale, weight ∝ scale): natural textures."""
    total = np.zeros(shape)
    for k in range(octaves):
        total += 0.6**k * smooth_noise(rng, shape, max(base_sigma_px / 2**k, 0.3))
    return total / total.std()


def splat(shape, ys, xs, sigma_px: float, weights=None) -> np.ndarray:
    """Gaussian dots of peak ≈ weight at output-pixel positions (ys, xs)."""
    field = np.zeros(shape)
    iy = np.clip((np.asarray(ys) * SUPERSAMPLE).astype(int), 0, shape[0] - 1)
    ix = np.clip((np.asarray(xs) * SUPERSAMPLE).astype(int), 0, shape[1] - 1)
    np.add.at(field, (iy, ix), 1.0 if weights is None else weights)
    sigma = sigma_px * SUPERSAMPLE
    return ndimage.gaussian_filter(field, sigma, mode="constant") * (2 * np.pi * sigma * sigma)


def points_in(rng: np.random.Generator, inside: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random output-pixel positions where the supersampled boolean map ``inside`` holds."""
    iy, ix = np.nonzero(inside)
    if len(iy) == 0 or count <= 0:
        return np.zeros(0), np.zeros(0)
    pick = rng.integers(0, len(iy), size=count)
    jitter = rng.random((2, count))
    return (iy[pick] + jitter[0]) / SUPERSAMPLE, (ix[pick] + jitter[1]) / SUPERSAMPLE
