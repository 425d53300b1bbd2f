"""Colour steps of the ISP: black level, white balance, colour correction, YUV, luma filtering, clip, gamma.

Every constant may be given as numbers (the static ISP) or as tensors (the learnable constants of
:class:`~lens2logit.isp.parametrized.ParametrizedISP`); the steps are differentiable in both.

Shapes: raw mosaics ``(*, H, W)``, RGB images ``(*, 3, H, W)``, luma ``(*, H, W)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from lens2logit.isp.cfa import BayerPattern

# scikit-image's RGB→YUV matrix (reference-spec §1.2 step 5) and its exact inverse.
_RGB_TO_YUV_64 = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.14714119, -0.28886916, 0.43601035],
        [0.61497538, -0.51496512, -0.10001026],
    ]
)
RGB_TO_YUV = torch.tensor(_RGB_TO_YUV_64, dtype=torch.float32)
YUV_TO_RGB = torch.tensor(np.linalg.inv(_RGB_TO_YUV_64), dtype=torch.float32)
# RGB change caused by a unit change of luma alone (first column of YUV_TO_RGB, ≈ (1, 1, 1)):
# a luma-only filter can update RGB directly, without a full YUV round trip.
LUMA_TO_RGB = YUV_TO_RGB[:, 0].clone()
GAMMA = 2.2
SMALLEST_NORMAL = float(torch.finfo(torch.float32).tiny)
# Lower clip before the power law in the paper's differentiable ISP (reference-spec §2.3, step 7).
PAPER_GAMMA_FLOOR = 1e-5


def _as_tensor(values, like: torch.Tensor, shape: tuple[int, ...], name: str) -> torch.Tensor:
    """Constants (numbers) or parameters (tensors, gradients kept) on ``like``'s dtype and device."""
    if isinstance(values, torch.Tensor):
        t = values.to(dtype=like.dtype, device=like.device)
    else:
        t = torch.as_tensor(values, dtype=like.dtype, device=like.device)
    if tuple(t.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {tuple(t.shape)}")
    return t


def _check_rgb(rgb: torch.Tensor, name: str) -> None:
    if not isinstance(rgb, torch.Tensor) or rgb.ndim < 3 or rgb.shape[-3] != 3:
        shape = tuple(rgb.shape) if isinstance(rgb, torch.Tensor) else type(rgb).__name__
        raise ValueError(f"{name}: expected an RGB tensor (*, 3, H, W), got {shape}")


def black_level_map(black_level, pattern: BayerPattern | str, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """The 2×2 cell of per-site black levels.

    Args:
        black_level: 4 values in the order R, G1 (red row), G2 (blue row), B: numbers, or a
            ``(4,)`` tensor (e.g. a learnable parameter; the cell is differentiable in it).
        pattern: Bayer layout.

    Returns:
        ``(2, 2)`` tensor; ``cell[r, c]`` is subtracted at sites ``(r::2, c::2)``.
    """
    pattern = BayerPattern.parse(pattern)
    if isinstance(black_level, torch.Tensor):
        bl = black_level.to(dtype=dtype, device=device).flatten()
    else:
        bl = torch.as_tensor(black_level, dtype=torch.float64).flatten().to(dtype=dtype, device=device)
    if bl.numel() != 4:
        raise ValueError(f"black_level: expected 4 values (R, G1, G2, B), got {bl.numel()}")
    site_of_cell = [[0, 0], [0, 0]]
    for site, (r, c) in enumerate(pattern.site_order()):
        site_of_cell[r][c] = site
    return bl[torch.tensor(site_of_cell, device=bl.device)]


def apply_black_level(raw: torch.Tensor, black_level, pattern: BayerPattern | str = BayerPattern.RGGB) -> torch.Tensor:
    """Subtract a per-CFA-site black level; no clipping (negative values survive to the final clip).

    Args:
        raw: mosaic ``(*, H, W)`` with even H, W.
        black_level: 4 values (numbers or a ``(4,)`` tensor), order R, G1 (red row), G2 (blue row), B.
        pattern: Bayer layout of ``raw``.

    Returns:
        ``(*, H, W)``.
    """
    if not isinstance(raw, torch.Tensor) or raw.ndim < 2 or raw.shape[-1] % 2 or raw.shape[-2] % 2:
        raise ValueError(f"apply_black_level: expected a mosaic (*, H, W) with even H, W, got {getattr(raw, 'shape', raw)}")
    cell = black_level_map(black_level, pattern, dtype=raw.dtype, device=raw.device)
    h, w = raw.shape[-2:]
    return raw - cell.repeat(h // 2, w // 2)


def apply_white_balance(rgb: torch.Tensor, white_balance) -> torch.Tensor:
    """Multiply each channel by its gain (applied as-is, no normalisation to green).

    ``white_balance``: 3 numbers or a ``(3,)`` tensor (differentiable).
    ``(*, 3, H, W) → (*, 3, H, W)``.
    """
    _check_rgb(rgb, "apply_white_balance")
    wb = _as_tensor(white_balance, rgb, (3,), "white_balance")
    return rgb * wb.view(3, 1, 1)


def apply_colour_correction(rgb: torch.Tensor, matrix) -> torch.Tensor:
    """Per-pixel ``out = M @ rgb`` with a row-major 3×3 matrix (nested numbers or a ``(3, 3)`` tensor).

    ``(*, 3, H, W) → (*, 3, H, W)``.
    """
    _check_rgb(rgb, "apply_colour_correction")
    m = _as_tensor(matrix, rgb, (3, 3), "colour matrix")
    return torch.einsum("kc,...chw->...khw", m, rgb)


def rgb_to_yuv(rgb: torch.Tensor) -> torch.Tensor:
    """scikit-image ``rgb2yuv``: ``(*, 3, H, W) → (*, 3, H, W)`` (Y, U, V)."""
    _check_rgb(rgb, "rgb_to_yuv")
    return apply_colour_correction(rgb, RGB_TO_YUV.to(rgb))


def yuv_to_rgb(yuv: torch.Tensor) -> torch.Tensor:
    """scikit-image ``yuv2rgb``: ``(*, 3, H, W) → (*, 3, H, W)``."""
    _check_rgb(yuv, "yuv_to_rgb")
    return apply_colour_correction(yuv, YUV_TO_RGB.to(yuv))


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """The Y of :func:`rgb_to_yuv`: ``(*, 3, H, W) → (*, H, W)``."""
    _check_rgb(rgb, "luma")
    return torch.einsum("c,...chw->...hw", RGB_TO_YUV[0].to(rgb), rgb)


def filter_luma(rgb: torch.Tensor, luma_filter: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Apply a filter to the luma only, through a full YUV round trip (as the reference does).

    ``rgb → YUV``, ``Y ← luma_filter(Y)`` (``(*, H, W) → (*, H, W)``), ``→ RGB``; chroma untouched.

    ``(*, 3, H, W) → (*, 3, H, W)``.
    """
    yuv = rgb_to_yuv(rgb)
    filtered = luma_filter(yuv[..., 0, :, :])
    return yuv_to_rgb(torch.cat([filtered.unsqueeze(-3), yuv[..., 1:, :, :]], dim=-3))


def clip(rgb: torch.Tensor) -> torch.Tensor:
    """Clip to [0, 1]: ``(*, 3, H, W) → (*, 3, H, W)``."""
    return rgb.clamp(0.0, 1.0)


def gamma_correct_(rgb: torch.Tensor, gamma: float = GAMMA) -> torch.Tensor:
    """In-place :func:`gamma_correct` (for buffers the caller owns, not for autograd); returns ``rgb``.

    The same operations in the same order as :func:`gamma_correct`, so both give identical bits.
    """
    if not gamma > 0:
        raise ValueError(f"gamma_correct: gamma must be positive, got {gamma!r}")
    # exp(log(x) / γ) is ~3× faster than torch.pow with a fractional exponent on the CPU. The
    # lower clip is the smallest normal float32 instead of 0 because log(0) takes a ~30× slower
    # path; black therefore maps to ≤ 6e-18 instead of 0 (1 maps to exactly 1).
    return rgb.clamp_(SMALLEST_NORMAL, 1.0).log_().mul_(1.0 / gamma).exp_()


def gamma_correct(rgb: torch.Tensor, gamma: "float | torch.Tensor" = GAMMA, *, floor: float = SMALLEST_NORMAL) -> torch.Tensor:
    """Clip to [floor, 1], then ``x ** (1 / gamma)`` (plain power law, no sRGB toe).

    Inputs ≤ 0 give ≤ 6e-18 with the default ``floor`` (see :func:`gamma_correct_`), inputs ≥ 1
    give exactly 1. The learnable ISP passes the paper's ``floor`` :data:`PAPER_GAMMA_FLOOR`
    (1e-5): the derivative ``x^(1/γ − 1)/γ`` of the power law is then at most ≈ 240 instead of
    ≈ 1e20 just above the smallest normal float, so gradients at near-black pixels stay bounded.
    ``gamma``: a positive number, or a 0-d tensor (a learnable exponent: differentiable in it and
    in ``rgb``, with no NaN gradient at black; a tensor is not checked for positivity, so that an
    unconstrained learned exponent behaves as the paper's did).

    ``(*, 3, H, W) → (*, 3, H, W)`` (any shape works).
    """
    if not isinstance(gamma, torch.Tensor) and not gamma > 0:
        raise ValueError(f"gamma_correct: gamma must be positive, got {gamma!r}")
    return rgb.clamp(floor, 1.0).log().mul(1.0 / gamma).exp()
