"""Spatial filters of the ISP: border padding, luma sharpening, unsharp masking, denoising.

Kernels are fixed constants (fast paths reading the taps as numbers) or, where the differentiable
ISP learns them, tensors passed in (``kernel=``), through :func:`correlate2d_kernel`.

All filters act on the last two axes of a float tensor ``(*, H, W)`` and return the same shape.
Border modes follow SciPy's names, because the reference pipeline is SciPy (reference-spec §1.2):

* ``"reflect"``  half-sample symmetric  ``d c b a | a b c d | d c b a`` (scipy.ndimage default),
* ``"mirror"``   whole-sample symmetric ``d c b | a b c d | c b a`` (= torch ``reflect``),
* ``"nearest"``  edge replication,
* ``"constant"`` zero fill (``scipy.signal.convolve2d(mode='same')``).

Kernels are applied as *correlations* (``out[i] = Σ_k w[k] · x[i + k - r]``); every kernel the
pipeline uses is symmetric, so this equals SciPy's convolution.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from lens2logit.isp.methods import DENOISE_METHODS, SHARPEN_METHODS  # :func:`sharpen`, :func:`denoise` dispatch on them

# 3×3 luma sharpening kernel (reference-spec §1.2 step 5).
K_SHARP = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])
# Bilinear demosaicing kernels (reference-spec §1.2 step 2, §2.1).
K_BILINEAR_G = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4
K_BILINEAR_RB = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4

# Defaults of the reference pipeline (reference-spec §1.1).
UNSHARP_RADIUS = 1.0
UNSHARP_AMOUNT = 1.0
DENOISE_GAUSSIAN_SIGMA = 0.5
GAUSSIAN_TRUNCATE = 4.0

UNSHARP_MODES = ("paper", "2d")
BORDER_MODES = ("reflect", "mirror", "nearest", "constant")


def gaussian_kernel1d(sigma: float, truncate: float = GAUSSIAN_TRUNCATE) -> torch.Tensor:
    """Normalised 1-D Gaussian taps as SciPy builds them (radius ``int(truncate·σ + 0.5)``).

    Returns:
        float32 tensor ``(2·radius + 1,)``.
    """
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"gaussian_kernel1d: sigma must be a positive finite number, got {sigma!r}")
    radius = int(truncate * float(sigma) + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 * (x / sigma) ** 2)
    return (taps / taps.sum()).to(torch.float32)


@functools.lru_cache(maxsize=None)
def _gaussian_taps(sigma: float, truncate: float = GAUSSIAN_TRUNCATE) -> tuple[float, ...]:
    """:func:`gaussian_kernel1d` as Python floats, built once per (σ, truncate)."""
    return tuple(gaussian_kernel1d(sigma, truncate).tolist())


def pad2d(x: torch.Tensor, rows: int, cols: int, mode: str) -> torch.Tensor:
    """Pad the last two axes by ``rows`` above and below and ``cols`` left and right.

    Args:
        x: ``(*, H, W)``.
        mode: one of :data:`BORDER_MODES` (SciPy names).

    Returns:
        ``(*, H + 2·rows, W + 2·cols)``.
    """
    if mode not in BORDER_MODES:
        raise ValueError(f"unknown border mode {mode!r}; expected one of {BORDER_MODES}")
    h, w = x.shape[-2:]
    if rows > h or cols > w or (mode == "mirror" and (rows >= h or cols >= w)):
        raise ValueError(f"cannot pad a {h}×{w} image by ({rows}, {cols}) in mode {mode!r} (image too small)")
    if mode == "reflect":
        # Half-sample symmetric: concatenate flipped edge strips (torch has no such padding mode).
        if rows:
            x = torch.cat([x[..., :rows, :].flip(-2), x, x[..., h - rows :, :].flip(-2)], dim=-2)
        if cols:
            x = torch.cat([x[..., :cols].flip(-1), x, x[..., w - cols :].flip(-1)], dim=-1)
        return x
    torch_mode = {"constant": "constant", "mirror": "reflect", "nearest": "replicate"}[mode]
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, h, w)
    out = F.pad(flat, (cols, cols, rows, rows), mode=torch_mode)
    return out.reshape(*lead, h + 2 * rows, w + 2 * cols)


def correlate_rows(x: torch.Tensor, taps, mode: str) -> torch.Tensor:
    """1-D correlation along each row (horizontal), ``(*, H, W) → (*, H, W)``; ``taps``: 1-D tensor or floats."""
    taps = _as_floats(taps)
    r = (len(taps) - 1) // 2
    xp = pad2d(x, 0, r, mode)
    w = x.shape[-1]
    return _sum_shifted(xp, [((0, k), t) for k, t in enumerate(taps)], x.shape[-2], w)


def correlate_cols(x: torch.Tensor, taps, mode: str) -> torch.Tensor:
    """1-D correlation along each column (vertical), ``(*, H, W) → (*, H, W)``; ``taps``: 1-D tensor or floats."""
    taps = _as_floats(taps)
    r = (len(taps) - 1) // 2
    xp = pad2d(x, r, 0, mode)
    return _sum_shifted(xp, [((k, 0), t) for k, t in enumerate(taps)], x.shape[-2], x.shape[-1])


def _as_floats(taps) -> list[float]:
    return taps.tolist() if isinstance(taps, torch.Tensor) else list(taps)


def _sum_shifted(xp: torch.Tensor, terms, h: int, w: int) -> torch.Tensor:
    """``Σ t · xp[dy : dy + h, dx : dx + w]`` over ``terms = [((dy, dx), t), ...]``; zero taps skipped."""
    out = None
    for (dy, dx), t in terms:
        if t == 0.0:
            continue
        view = xp[..., dy : dy + h, dx : dx + w]
        if out is None:
            out = view * t
        else:
            out.add_(view, alpha=t)
    if out is None:
        return xp.new_zeros(*xp.shape[:-2], h, w)
    return out


def correlate2d_kernel(x: torch.Tensor, kernel: torch.Tensor, mode: str) -> torch.Tensor:
    """2-D correlation with a kernel *tensor*, differentiable in both ``x`` and ``kernel``.

    The form used when a kernel is a learnable parameter (the fixed kernels of the static ISP are
    applied by :func:`_sum_shifted` with their taps as Python numbers, faster but without gradient).

    Args:
        x: ``(*, H, W)``.
        kernel: ``(kh, kw)`` odd sizes.
        mode: border mode (SciPy names).

    Returns:
        ``(*, H, W)``.
    """
    if not isinstance(kernel, torch.Tensor) or kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ValueError(f"kernel: expected a 2-D tensor with odd sizes, got {getattr(kernel, 'shape', kernel)}")
    kh, kw = kernel.shape
    h, w = x.shape[-2:]
    padded = pad2d(x.reshape(-1, 1, h, w), (kh - 1) // 2, (kw - 1) // 2, mode)
    out = F.conv2d(padded, kernel.to(x.dtype).view(1, 1, kh, kw))
    return out.reshape(x.shape)


def check_image(x: torch.Tensor, name: str) -> None:
    """``x`` must be a floating-point tensor ``(*, H, W)``; ValueError naming the function ``name`` otherwise."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(f"{name}: expected shape (*, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating-point tensor, got {x.dtype}")


def sharpen_luma(y: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
    """Sharpen with a 3×3 kernel, zero fill at the border (``convolve2d(mode='same')``).

    Args:
        y: luma ``(*, H, W)``.
        kernel: ``(3, 3)`` kernel tensor (e.g. learnable; differentiable in it), or ``None`` for
            :data:`K_SHARP` computed as ``5·y − up − down − left − right`` (same values, faster).

    Returns:
        ``(*, H, W)``.

    Example:
        >>> sharpen_luma(torch.ones(1, 3, 3))[0, 1, 1].item()
        1.0
    """
    check_image(y, "sharpen_luma")
    if kernel is not None:
        return correlate2d_kernel(y, kernel, "constant")
    p = F.pad(y, (1, 1, 1, 1))
    h, w = y.shape[-2:]
    out = p[..., 0:h, 1 : w + 1] + p[..., 2 : h + 2, 1 : w + 1]
    out += p[..., 1 : h + 1, 0:w]
    out += p[..., 1 : h + 1, 2 : w + 2]
    # 5·y − neighbours, in place (fresh large buffers cost page faults).
    return out.neg_().add_(y, alpha=5.0)


def gaussian_kernel2d(sigma: float = DENOISE_GAUSSIAN_SIGMA, truncate: float = GAUSSIAN_TRUNCATE) -> torch.Tensor:
    """The 2-D kernel of :func:`gaussian_blur_luma`: outer product of the 1-D taps, ``(k, k)``."""
    taps = gaussian_kernel1d(sigma, truncate)
    return torch.outer(taps, taps)


def gaussian_blur_luma(
    y: torch.Tensor,
    sigma: float = DENOISE_GAUSSIAN_SIGMA,
    truncate: float = GAUSSIAN_TRUNCATE,
    *,
    kernel: torch.Tensor | None = None,
) -> torch.Tensor:
    """Gaussian blur (the paper's denoiser), SciPy ``gaussian_filter`` semantics (border ``reflect``).

    Args:
        y: ``(*, H, W)``.
        sigma: standard deviation in pixels (σ = 0.5 is the paper's denoiser: 5×5 support).
        kernel: a ``(k, k)`` 2-D kernel tensor replacing the Gaussian (e.g. the learnable blur,
            initialised to :func:`gaussian_kernel2d`; differentiable in it), or ``None`` for the
            separable Gaussian of ``sigma`` (same values as its 2-D kernel, faster).

    Returns:
        ``(*, H, W)``.
    """
    check_image(y, "gaussian_blur_luma")
    if kernel is not None:
        return correlate2d_kernel(y, kernel, "reflect")
    taps = _gaussian_taps(float(sigma), float(truncate))
    return correlate_rows(correlate_cols(y, taps, "reflect"), taps, "reflect")


def unsharp_mask_luma(
    y: torch.Tensor,
    radius: float = UNSHARP_RADIUS,
    amount: float = UNSHARP_AMOUNT,
    *,
    mode: str = "paper",
) -> torch.Tensor:
    """Unsharp masking ``y + amount·(y − blur(y))`` without clipping.

    Two blurs, named explicitly:

    * ``"paper"`` (default): a 1-D Gaussian along the *vertical* axis only, as the published data
      were made (scikit-image ≤ 0.19 treated the columns of the 2-D luma as channels;
      reference-spec §1.2 step 5).
    * ``"2d"``: the intended isotropic 2-D Gaussian.

    Gaussian of standard deviation ``radius``, border ``reflect``, truncate 4.

    Args:
        y: luma ``(*, H, W)``.

    Returns:
        ``(*, H, W)``.
    """
    check_image(y, "unsharp_mask_luma")
    if mode not in UNSHARP_MODES:
        raise ValueError(f"unknown unsharp mode {mode!r}; expected one of {UNSHARP_MODES}")
    taps = _gaussian_taps(float(radius))
    blurred = correlate_cols(y, taps, "reflect")
    if mode == "2d":
        blurred = correlate_rows(blurred, taps, "reflect")
    # y + a·(y − b) = (1 + a)·y − a·b, in place on the blurred copy
    return blurred.mul_(-amount).add_(y, alpha=1.0 + amount)


def median3x3(y: torch.Tensor) -> torch.Tensor:
    """3×3 median filter, border ``reflect`` (SciPy ``median_filter(size=3)``).

    Uses the separable sorting network: sort every vertical triple once (shared by three
    output columns), then median(max of minima, median of medians, min of maxima) over the
    three columns equals the median of the nine values.

    Args:
        y: ``(*, H, W)``.

    Returns:
        ``(*, H, W)``.
    """
    check_image(y, "median3x3")
    h, w = y.shape[-2:]
    # Border 'reflect' with a 1-pixel pad is edge replication (a single fast padding op).
    p = pad2d(y, 1, 1, "nearest")
    above, centre_row, below = p[..., 0:h, :], p[..., 1 : h + 1, :], p[..., 2 : h + 2, :]
    # Sort each vertical triple (a 3-input sorting network); reuse buffers: fresh large
    # allocations cost page faults that dominate these cheap element-wise ops.
    lo = torch.minimum(above, centre_row)
    hi = torch.maximum(above, centre_row)
    mid = torch.minimum(hi, below)
    torch.maximum(hi, below, out=hi)
    spare = torch.maximum(lo, mid)
    torch.minimum(lo, mid, out=lo)
    mid, spare = spare, mid
    left, centre, right = slice(0, w), slice(1, w + 1), slice(2, w + 2)
    max_lo = torch.maximum(lo[..., left], lo[..., centre])
    torch.maximum(max_lo, lo[..., right], out=max_lo)
    min_hi = torch.minimum(hi[..., left], hi[..., centre])
    torch.minimum(min_hi, hi[..., right], out=min_hi)
    del lo, hi
    # median of three = max(min(a, b), min(max(a, b), c))
    med_mid = torch.minimum(mid[..., left], mid[..., centre])
    upper = torch.maximum(mid[..., left], mid[..., centre])
    torch.minimum(upper, mid[..., right], out=upper)
    torch.maximum(med_mid, upper, out=med_mid)
    out = torch.minimum(max_lo, med_mid)
    torch.maximum(max_lo, med_mid, out=max_lo)
    torch.minimum(max_lo, min_hi, out=max_lo)
    return torch.maximum(out, max_lo, out=out)


def sharpen(y: torch.Tensor, method: str, *, unsharp: str = "paper") -> torch.Tensor:
    """The sharpening step of a view: :func:`sharpen_luma` or :func:`unsharp_mask_luma`.

    Args:
        y: luma ``(*, H, W)``.
        method: one of :data:`SHARPEN_METHODS`.
        unsharp: blur of unsharp masking, one of :data:`UNSHARP_MODES`.

    Returns:
        ``(*, H, W)``.

    Raises:
        ValueError: unknown ``method`` or ``unsharp`` (no fallback).
    """
    if method == "sharpening_filter":
        return sharpen_luma(y)
    if method == "unsharp_masking":
        return unsharp_mask_luma(y, mode=unsharp)
    raise ValueError(f"unknown sharpening method {method!r}; expected one of {SHARPEN_METHODS}")


def denoise(y: torch.Tensor, method: str) -> torch.Tensor:
    """The denoising step of a view: :func:`median3x3` or :func:`gaussian_blur_luma`.

    Args:
        y: luma ``(*, H, W)``.
        method: one of :data:`DENOISE_METHODS`.

    Returns:
        ``(*, H, W)``.

    Raises:
        ValueError: unknown ``method`` (no fallback).
    """
    if method == "median_denoising":
        return median3x3(y)
    if method == "gaussian_denoising":
        return gaussian_blur_luma(y)
    raise ValueError(f"unknown denoising method {method!r}; expected one of {DENOISE_METHODS}")
