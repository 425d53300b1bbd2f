"""Structural similarity (Wang et al. 2004) and the forensics regularisers built on it.

The paper's SSIM: 11×11 Gaussian window with σ 1.5, per channel, zero padding, C1 = 0.01²,
C2 = 0.03² (data range 1), mean over the SSIM map (reference-spec §4.5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lens2logit.errors import InputError
from lens2logit.isp.filters import gaussian_kernel1d

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2


def ssim_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Local SSIM of two image batches, per channel.

    Args:
        x, y: ``(N, C, H, W)`` images with data range 1.

    Returns:
        ``(N, C, H, W)`` SSIM map (zero padding at the border, as the paper's implementation).
    """
    if x.shape != y.shape or x.ndim != 4:
        raise InputError(f"ssim needs two (N, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    n, c, h, w = x.shape
    radius = SSIM_WINDOW // 2
    # truncate chosen so that the kernel has exactly `radius` taps each side (11 in all)
    taps = gaussian_kernel1d(SSIM_SIGMA, truncate=(radius + 0.25) / SSIM_SIGMA).to(dtype=x.dtype, device=x.device)
    window = torch.outer(taps, taps).expand(5 * c, 1, SSIM_WINDOW, SSIM_WINDOW)
    # One grouped convolution over the five moment images (measured faster on CPU than two
    # separable passes, whose single-channel convolutions take a slow path).
    moments = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    local = F.conv2d(moments, window, padding=radius, groups=5 * c).reshape(n, 5, c, h, w)
    mu_x, mu_y, xx, yy, xy = local.unbind(dim=1)
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    return ((2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)) / ((mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2))


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of two image batches: ``(N, C, H, W) × (N, C, H, W) → ()``; 1 for identical images.

    Example:
        >>> img = torch.rand(1, 3, 16, 16)
        >>> round(ssim(img, img).item(), 6)
        1.0
    """
    return ssim_map(x, y).mean()


def mse_distance(reference: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """Mean squared error (a mean, not the paper's sum: λ does not scale with batch or image size)."""
    return F.mse_loss(output, reference)


def ssim_distance(reference: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """``1 − SSIM``: 0 for identical images, growing as they differ (the paper minimised +SSIM)."""
    return 1.0 - ssim(reference, output)


REGULARIZERS = {"mse": mse_distance, "ssim": ssim_distance}


def get_regularizer(name: str):
    """Distance ``R(reference, output) -> scalar`` by name (``mse`` or ``ssim``)."""
    try:
        return REGULARIZERS[name]
    except KeyError:
        raise InputError(f"unknown regularizer {name!r} (option 'regularizers'); expected one of {sorted(REGULARIZERS)}") from None
