"""Training augmentation, drawn PER SAMPLE (the original drew once per batch, reference-spec §4.4, §6 item 16).

Regimes (constants from reference-spec §4.4):

* ``none``: identity.
* ``weak``: horizontal flip (p 0.5), vertical flip (p 0.5), rotation by ``k·90°``, ``k`` uniform in
  {0, 1, 2, 3} (for non-square images ``k`` ∈ {0, 2} so the shape is kept).
* ``strong``: ``weak``, then with p 0.5 a rotation by an angle uniform in ±90° (bilinear for the
  image, nearest for the mask, borders filled by reflection — the original filled zeros, which after
  standardisation is a fake mean-coloured frame), then image-only: with p 0.5 additive Gaussian noise
  (std 0.0005), with p 0.5 sharpness adjustment with factor 0.5 (torchvision's definition: blend with
  a 3×3 smoothed copy whose border pixels are left unchanged) — WITHOUT clamping, so standardised or
  out-of-range inputs are not truncated.

Geometric steps act identically on image and mask. All random numbers come from the given
``torch.Generator`` (a CPU generator, also for images on an accelerator: the draws are then
copied there): same generator state → same output on every device. Augmentation runs on the model input
before :class:`lens2logit.models.Standardize`, i.e. on ``[0, 1]`` RGB for static views.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lens2logit.errors import InputError
from lens2logit.schema import schema_choices

AUGMENTATIONS = schema_choices("augmentation")  # none, weak, strong: the regimes below
FLIP_PROBABILITY = 0.5
ROTATION_PROBABILITY = 0.5
MAX_ROTATION_DEGREES = 90.0
NOISE_PROBABILITY = 0.5
NOISE_STD = 0.0005
SHARPNESS_PROBABILITY = 0.5
SHARPNESS_FACTOR = 0.5
# torchvision's sharpness "degenerate" kernel.
_SMOOTH_KERNEL = torch.tensor([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0


def check_augmentation(name: str) -> str:
    """Return ``name`` if it is a known regime, else raise InputError naming the option."""
    if name not in AUGMENTATIONS:
        raise InputError(f"unknown augmentation {name!r} (option 'augmentation'); expected one of {AUGMENTATIONS}")
    return name


def _bernoulli(n: int, p: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) < p


def _flip(x: torch.Tensor, selected: torch.Tensor, dim: int) -> torch.Tensor:
    if not bool(selected.any()):
        return x
    out = x.clone()
    selected = selected.to(x.device)
    out[selected] = x[selected].flip(dim)
    return out


def _rot90(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    out = x
    for turns in (1, 2, 3):
        selected = k == turns
        if bool(selected.any()):
            if out is x:
                out = x.clone()
            selected = selected.to(x.device)
            out[selected] = torch.rot90(x[selected], turns, dims=(-2, -1))
    return out


def _rotation_grid(angles_deg: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sampling grid ``(n, H, W, 2)`` rotating each image about its centre by ``angles_deg``."""
    theta = angles_deg * (math.pi / 180.0)
    cos, sin = torch.cos(theta), torch.sin(theta)
    zero = torch.zeros_like(cos)
    # Normalised coordinates scale x by W/2 and y by H/2; the ratios keep the rotation rigid.
    matrix = torch.stack(
        [torch.stack([cos, -sin * height / width, zero], 1), torch.stack([sin * width / height, cos, zero], 1)], 1
    )
    return F.affine_grid(matrix, [angles_deg.numel(), 1, height, width], align_corners=False)


def _rotate(x: torch.Tensor, selected: torch.Tensor, grid: torch.Tensor, mode: str) -> torch.Tensor:
    if not bool(selected.any()):
        return x
    out = x.clone()
    selected = selected.to(x.device)
    source = x[selected]
    as_float = source.float() if not source.is_floating_point() else source
    rotated = F.grid_sample(as_float, grid, mode=mode, padding_mode="reflection", align_corners=False)
    out[selected] = rotated.to(x.dtype)
    return out


def adjust_sharpness(images: torch.Tensor, factor: float) -> torch.Tensor:
    """torchvision-style sharpness adjustment without clamping.

    ``out = factor·x + (1 − factor)·smooth(x)``, where ``smooth`` is the 3×3 kernel
    [[1,1,1],[1,5,1],[1,1,1]]/13 on interior pixels and the identity on the 1-pixel border.

    Shapes: ``(B, C, H, W) → (B, C, H, W)``.
    """
    channels = images.shape[1]
    kernel = _SMOOTH_KERNEL.to(images).expand(channels, 1, 3, 3)
    smooth = images.clone()
    smooth[..., 1:-1, 1:-1] = F.conv2d(images, kernel, groups=channels)
    return factor * images + (1.0 - factor) * smooth


def augment(
    images: torch.Tensor, masks: torch.Tensor | None = None, *, mode: str, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Augment a batch with independent random parameters per sample.

    Args:
        images: ``(B, C, H, W)`` float images.
        masks: optional ``(B, H, W)`` or ``(B, 1, H, W)`` masks (any dtype); receive the same
            geometric transforms as their images.
        mode: ``"none"``, ``"weak"`` or ``"strong"``.
        generator: source of all random numbers.

    Returns:
        ``(images, masks)`` with the input shapes and dtypes (``masks`` None if not given).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x, m = augment(torch.rand(4, 3, 8, 8), torch.zeros(4, 8, 8), mode="weak", generator=g)
        >>> x.shape, m.shape
        (torch.Size([4, 3, 8, 8]), torch.Size([4, 8, 8]))
    """
    check_augmentation(mode)
    if images.ndim != 4 or not images.is_floating_point():
        raise InputError(f"augment: images must be float (B, C, H, W), got {images.dtype} {tuple(images.shape)}")
    batch, _, height, width = images.shape
    squeeze_mask = False
    if masks is not None:
        if masks.ndim == 3:
            masks, squeeze_mask = masks.unsqueeze(1), True
        if masks.ndim != 4 or masks.shape[0] != batch or masks.shape[-2:] != images.shape[-2:]:
            raise InputError(f"augment: masks {tuple(masks.shape)} do not match images {tuple(images.shape)}")
    if mode == "none" or batch == 0:
        return images, (masks.squeeze(1) if squeeze_mask else masks)

    hflip = _bernoulli(batch, FLIP_PROBABILITY, generator)
    vflip = _bernoulli(batch, FLIP_PROBABILITY, generator)
    turns = torch.randint(0, 4, (batch,), generator=generator)
    if height != width:
        turns = turns & 2  # only 0° / 180° keep a non-square shape
    images = _rot90(_flip(_flip(images, hflip, -1), vflip, -2), turns)
    if masks is not None:
        masks = _rot90(_flip(_flip(masks, hflip, -1), vflip, -2), turns)

    if mode == "strong":
        rotate = _bernoulli(batch, ROTATION_PROBABILITY, generator)
        angles = (torch.rand(batch, generator=generator) * 2.0 - 1.0) * MAX_ROTATION_DEGREES
        add_noise = _bernoulli(batch, NOISE_PROBABILITY, generator)
        noise = torch.randn(images.shape, generator=generator, dtype=images.dtype).to(images.device)
        sharpen = _bernoulli(batch, SHARPNESS_PROBABILITY, generator)
        if bool(rotate.any()):
            grid = _rotation_grid(angles[rotate], height, width).to(device=images.device, dtype=images.dtype)
            images = _rotate(images, rotate, grid, "bilinear")
            if masks is not None:
                masks = _rotate(masks, rotate, grid, "nearest")
        images = images + NOISE_STD * noise * add_noise.to(device=images.device, dtype=images.dtype).view(-1, 1, 1, 1)
        if bool(sharpen.any()) and height >= 3 and width >= 3:
            images = torch.where(
                sharpen.to(images.device).view(-1, 1, 1, 1), adjust_sharpness(images, SHARPNESS_FACTOR), images
            )
    return images, (masks.squeeze(1) if squeeze_mask else masks)
