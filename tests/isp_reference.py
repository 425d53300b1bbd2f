"""Reference static ISP for tests and benchmarks, built from the reference libraries.

colour-demosaicing + SciPy + scikit-image, float64, one (H, W) mosaic at a time — the structure
of the original research code (reference-spec §1.2), with the behaviour it had:

* unsharp masking ``paper``: the 1-D vertical Gaussian the published data were made with
  (scikit-image ≤ 0.19 treated image columns as channels); built here with
  ``scipy.ndimage.gaussian_filter1d(axis=0, mode='reflect', truncate=4)`` because
  scikit-image 0.26 no longer has that quirk. ``2d``: ``skimage.filters.unsharp_mask``.

Also: real photographs from ``skimage.data``, linearised and mosaicked, as test inputs.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.ndimage as ndi
import scipy.signal
import skimage.color
import skimage.data
import skimage.filters

with warnings.catch_warnings():
    # colour-demosaicing 0.2.7 imports from the deprecated scipy.ndimage.filters namespace.
    warnings.simplefilter("ignore", DeprecationWarning)
    from colour_demosaicing import (
        demosaicing_CFA_Bayer_bilinear,
        demosaicing_CFA_Bayer_Malvar2004,
        demosaicing_CFA_Bayer_Menon2007,
    )

REFERENCE_DEMOSAIC = {
    "bilinear": demosaicing_CFA_Bayer_bilinear,
    "malvar2004": demosaicing_CFA_Bayer_Malvar2004,
    "menon2007": demosaicing_CFA_Bayer_Menon2007,
}
SHARP_KERNEL = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64)
PHOTOS = ("astronaut", "chelsea", "coffee", "immunohistochemistry")


def site_order(pattern: str) -> list[tuple[int, int]]:
    """(row, col) of R, G1 (red row), G2 (blue row), B in the 2×2 cell of ``pattern``."""
    cell = {(r, c): pattern[2 * r + c] for r in range(2) for c in range(2)}
    (rr, rc), = [s for s, ch in cell.items() if ch == "R"]
    (br, bc), = [s for s, ch in cell.items() if ch == "B"]
    return [(rr, rc), (rr, 1 - rc), (br, 1 - bc), (br, bc)]


def ref_black_level(mosaic: np.ndarray, black_level, pattern: str = "RGGB") -> np.ndarray:
    out = np.array(mosaic, dtype=np.float64, copy=True)
    for value, (r, c) in zip(black_level, site_order(pattern)):
        out[r::2, c::2] -= value
    return out


def ref_luma_filter(rgb: np.ndarray, fn) -> np.ndarray:
    yuv = skimage.color.rgb2yuv(rgb)
    yuv[..., 0] = fn(yuv[..., 0])
    return skimage.color.yuv2rgb(yuv)


def ref_sharpen(y: np.ndarray) -> np.ndarray:
    return scipy.signal.convolve2d(y, SHARP_KERNEL, mode="same")


def ref_unsharp(y: np.ndarray, mode: str = "paper") -> np.ndarray:
    if mode == "paper":
        return y + (y - ndi.gaussian_filter1d(y, 1.0, axis=0, mode="reflect", truncate=4.0))
    return skimage.filters.unsharp_mask(y, radius=1.0, amount=1.0, preserve_range=True)


def ref_median(y: np.ndarray) -> np.ndarray:
    return ndi.median_filter(y, size=3)


def ref_gaussian(y: np.ndarray) -> np.ndarray:
    return ndi.gaussian_filter(y, sigma=0.5)


def reference_view(mosaic: np.ndarray, view, camera, *, unsharp: str = "paper") -> np.ndarray:
    """One view of one mosaic ``(H, W)`` → ``(H, W, 3)`` float64 in [0, 1].

    ``view`` is a :class:`lens2logit.isp.View` (only its three option names are used);
    ``camera`` a :class:`lens2logit.isp.CameraProfile` (constants + pattern).
    """
    pattern = camera.pattern.value
    img = ref_black_level(mosaic, camera.black_level, pattern)
    img = REFERENCE_DEMOSAIC[view.demosaic](img, pattern)
    img = img * np.asarray(camera.white_balance)
    img = np.einsum("kc,hwc->hwk", np.asarray(camera.colour_matrix), img)
    if view.sharpen == "sharpening_filter":
        img = ref_luma_filter(img, ref_sharpen)
    else:
        img = ref_luma_filter(img, lambda y: ref_unsharp(y, unsharp))
    img = ref_luma_filter(img, ref_median if view.denoise == "median_denoising" else ref_gaussian)
    return np.clip(img, 0.0, 1.0) ** (1 / 2.2)


def reference_views(mosaic: np.ndarray, views, camera, *, unsharp: str = "paper") -> dict[str, np.ndarray]:
    """All requested views of one mosaic, each computed from scratch as the original code did."""
    return {v.label: reference_view(mosaic, v, camera, unsharp=unsharp) for v in views}


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer function, ``[0, 1] → [0, 1]``."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def mosaic_rgb(rgb: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """Sample ``(H, W, 3)`` with a Bayer filter → ``(H, W)``."""
    channel = {"R": 0, "G": 1, "B": 2}
    out = np.empty(rgb.shape[:2], dtype=rgb.dtype)
    for r in range(2):
        for c in range(2):
            out[r::2, c::2] = rgb[r::2, c::2, channel[pattern[2 * r + c]]]
    return out


def photo_mosaic(name: str, size: int = 96, pattern: str = "RGGB", *, offset: float = 0.0, gain: float = 1.0) -> np.ndarray:
    """A real photograph: centre crop ``size×size``, linearised, mosaicked, ``offset + gain·linear``.

    Returns float64 ``(size, size)``.
    """
    img = getattr(skimage.data, name)()[..., :3].astype(np.float64) / 255.0
    h, w = img.shape[:2]
    top, left = (h - size) // 2 // 2 * 2, (w - size) // 2 // 2 * 2
    crop = srgb_to_linear(img[top : top + size, left : left + size])
    return offset + gain * mosaic_rgb(crop, pattern)


def psnr_interior(a: np.ndarray, b: np.ndarray, border: int = 4, *, channel_axis: int = -1) -> float:
    """PSNR (peak 1) over the interior: ``border`` pixels dropped on every side of the two image axes."""
    a = np.moveaxis(np.asarray(a, dtype=np.float64), channel_axis, -1) if a.ndim == 3 else np.asarray(a, np.float64)
    b = np.moveaxis(np.asarray(b, dtype=np.float64), channel_axis, -1) if b.ndim == 3 else np.asarray(b, np.float64)
    sl = (slice(border, a.shape[0] - border), slice(border, a.shape[1] - border))
    mse = float(np.mean((a[sl] - b[sl]) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)
