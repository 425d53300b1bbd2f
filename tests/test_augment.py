import pytest
import torch

from lens2logit.errors import InputError
from lens2logit.training.augment import adjust_sharpness, augment


def _pair(batch=16, size=32, seed=0):
    """Binary random blobs: channel 0 of the image equals the mask, so alignment is checkable."""
    g = torch.Generator().manual_seed(seed)
    coarse = (torch.rand(batch, 1, size // 4, size // 4, generator=g) > 0.5).float()
    mask = torch.nn.functional.interpolate(coarse, scale_factor=4.0, mode="nearest")[:, 0]
    image = torch.stack([mask, torch.rand(batch, size, size, generator=g), 1 - mask], dim=1)
    return image, mask.to(torch.uint8)


def test_none_is_identity():
    image, mask = _pair()
    out, out_mask = augment(image, mask, mode="none", generator=torch.Generator())
    assert torch.equal(out, image) and torch.equal(out_mask, mask)


def test_weak_keeps_image_and_mask_aligned_exactly():
    image, mask = _pair()
    out, out_mask = augment(image, mask, mode="weak", generator=torch.Generator().manual_seed(1))
    assert out_mask.dtype == torch.uint8 and out_mask.shape == mask.shape
    assert torch.equal(out[:, 0], out_mask.float())
    assert not torch.equal(out, image)  # something moved


def test_strong_keeps_image_and_mask_aligned():
    image, mask = _pair(batch=32, size=64)
    out, out_mask = augment(image, mask, mode="strong", generator=torch.Generator().manual_seed(2))
    # bilinear image vs nearest mask differ only along blob edges
    agreement = ((out[:, 0] > 0.5) == (out_mask > 0)).float().mean()
    assert agreement > 0.97


def test_rotation_fills_borders_by_reflection_not_zeros():
    ones = torch.ones(32, 3, 32, 32)
    out, out_mask = augment(ones, torch.ones(32, 32, 32), mode="strong", generator=torch.Generator().manual_seed(3))
    # zero fill would leave black corners on every rotated sample
    assert (out - 1).abs().max() < 0.01
    assert bool((out_mask == 1).all())


def test_parameters_are_drawn_per_sample():
    image = torch.rand(1, 3, 16, 16).expand(32, -1, -1, -1).contiguous()
    out, _ = augment(image, mode="weak", generator=torch.Generator().manual_seed(0))
    distinct = {tuple(o.flatten()[:8].tolist()) for o in out}
    assert len(distinct) > 2


def test_deterministic_given_generator_state():
    image, mask = _pair()
    a = augment(image, mask, mode="strong", generator=torch.Generator().manual_seed(5))
    b = augment(image, mask, mode="strong", generator=torch.Generator().manual_seed(5))
    c = augment(image, mask, mode="strong", generator=torch.Generator().manual_seed(6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_strong_does_not_clamp_out_of_range_values():
    image = torch.randn(64, 3, 16, 16) * 2  # standardised-looking input
    out, _ = augment(image, mode="strong", generator=torch.Generator().manual_seed(0))
    assert out.min() < -1 and out.max() > 1


def test_adjust_sharpness_definition():
    constant = torch.full((1, 3, 8, 8), 0.7)
    assert torch.allclose(adjust_sharpness(constant, 0.5), constant)
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 13.0
    out = adjust_sharpness(x, 0.5)
    # centre: 0.5*13 + 0.5*(5*13/13) = 9; neighbour: 0.5*0 + 0.5*1 = 0.5; border pixels unchanged
    assert out[0, 0, 2, 2].item() == pytest.approx(9.0)
    assert out[0, 0, 1, 2].item() == pytest.approx(0.5)
    assert torch.equal(out[0, 0, 0], x[0, 0, 0])


def test_non_square_images_keep_their_shape():
    image = torch.rand(8, 3, 16, 24)
    mask = torch.zeros(8, 16, 24)
    out, out_mask = augment(image, mask, mode="strong", generator=torch.Generator().manual_seed(0))
    assert out.shape == image.shape and out_mask.shape == mask.shape


def test_bad_input():
    with pytest.raises(InputError, match="augmentation"):
        augment(torch.rand(1, 3, 8, 8), mode="medium", generator=torch.Generator())
    with pytest.raises(InputError, match="masks"):
        augment(torch.rand(2, 3, 8, 8), torch.zeros(2, 8, 9), mode="weak", generator=torch.Generator())
