"""Each static-ISP step against the reference libraries and hand-checked values."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.color
import torch

sys.path.insert(0, str(Path(__file__).parent))
import isp_reference as ref  # noqa: E402

from lens2logit.isp import color, demosaic, filters  # noqa: E402
from lens2logit.isp.cfa import BayerPattern, mosaic  # noqa: E402

PATTERNS = [p.value for p in BayerPattern]
METHODS = list(demosaic.DEMOSAIC_METHODS)


def t(a) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def hwc(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).double().numpy()


@pytest.fixture(scope="module")
def photo_mosaics():
    return {(name, p): ref.photo_mosaic(name, 64, p) for name in ref.PHOTOS for p in PATTERNS}


# ---------------------------------------------------------------- demosaicing


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("method", METHODS)
def test_demosaic_matches_colour_demosaicing(photo_mosaics, method, pattern):
    for name in ref.PHOTOS:
        m = photo_mosaics[(name, pattern)]
        expected = ref.REFERENCE_DEMOSAIC[method](m, pattern)
        got = hwc(demosaic.DEMOSAICERS[method](t(m)[None], pattern)[0])
        assert ref.psnr_interior(got, expected) >= 45, (name, method, pattern)
        # Borders follow the reference's modes too: the whole image agrees.
        assert ref.psnr_interior(got, expected, border=0) >= 45, (name, method, pattern)
        if method != "menon2007":  # linear methods: no decisions, so agreement is to float32 rounding
            np.testing.assert_allclose(got, expected, atol=2e-6)


@pytest.mark.parametrize("method", METHODS)
def test_demosaic_float64_is_exact_where_no_ties(method):
    # chelsea has no flat regions, so Menon's direction decisions have no ties: exact agreement.
    for pattern in ("RGGB", "GBRG"):
        m = ref.photo_mosaic("chelsea", 32, pattern)
        got = hwc(demosaic.DEMOSAICERS[method](torch.from_numpy(m)[None], pattern)[0])
        np.testing.assert_allclose(got, ref.REFERENCE_DEMOSAIC[method](m, pattern), atol=1e-12)


def test_menon_without_refining_matches():
    m = ref.photo_mosaic("coffee", 32, "GRBG")
    got = hwc(demosaic.demosaic_menon2007(torch.from_numpy(m)[None], "GRBG", refining_step=False)[0])
    np.testing.assert_allclose(got, ref.REFERENCE_DEMOSAIC["menon2007"](m, "GRBG", refining_step=False), atol=1e-12)
    refined = hwc(demosaic.demosaic_menon2007(torch.from_numpy(m)[None], "GRBG")[0])
    assert np.abs(refined - got).max() > 1e-4  # the refining step does something


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_constant_mosaic_stays_constant(method, pattern):
    raw = torch.full((2, 10, 12), 0.3)
    out = demosaic.DEMOSAICERS[method](raw, pattern)
    assert out.shape == (2, 3, 10, 12)
    # Interior: constant. Border: whatever the reference's border modes give (bilinear dims it).
    torch.testing.assert_close(out[..., 3:-3, 3:-3], torch.full_like(out[..., 3:-3, 3:-3], 0.3), atol=1e-6, rtol=0)
    expected = ref.REFERENCE_DEMOSAIC[method](np.full((10, 12), 0.3), pattern)
    np.testing.assert_allclose(hwc(out[1]), expected, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_grey_image_is_reconstructed_in_the_interior(method):
    # A smooth grey ramp is the same in every channel: mosaicking loses nothing a demosaicer needs.
    y, x = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    grey = (0.1 + 0.02 * x + 0.01 * y).expand(3, 16, 16)
    for pattern in PATTERNS:
        out = demosaic.DEMOSAICERS[method](mosaic(grey, pattern)[None], pattern)[0]
        # Border effects of Menon's chained 1-D filters reach 5 pixels in.
        torch.testing.assert_close(out[:, 5:-5, 5:-5], grey[:, 5:-5, 5:-5], atol=1e-5, rtol=0)


def test_bilinear_hand_computed_4x4():
    # RGGB 4×4 with values 1..16 row-major: R at even/even, B at odd/odd sites.
    #    1  2  3  4
    #    5  6  7  8
    #    9 10 11 12
    #   13 14 15 16
    raw = torch.arange(1.0, 17.0).view(1, 4, 4)
    out = demosaic.demosaic_bilinear(raw, "RGGB")[0]
    # G at B(1,1) = mean of its 4 green neighbours (2, 5, 7, 10).
    assert out[1, 1, 1].item() == pytest.approx((2 + 5 + 7 + 10) / 4)
    # R at B(1,1) = mean of the 4 diagonal reds (1, 3, 9, 11).
    assert out[0, 1, 1].item() == pytest.approx((1 + 3 + 9 + 11) / 4)
    # R at G(2,1) (red row, rows 1 and 3 hold no red) = mean of left/right reds (9, 11).
    assert out[0, 2, 1].item() == pytest.approx((9 + 11) / 2)
    # B at G(1,2) (blue row) = mean of left/right blues (6, 8); B at G(2,1) = mean of above/below (6, 14).
    assert out[2, 1, 2].item() == pytest.approx((6 + 8) / 2)
    assert out[2, 2, 1].item() == pytest.approx((6 + 14) / 2)
    # Known samples pass through (away from the border).
    assert out[0, 2, 2].item() == 11.0 and out[2, 1, 1].item() == 6.0 and out[1, 1, 2].item() == 7.0
    # ... but not at the border: R at R(0,0) also collects its own reflected copies:
    # 1 + 2/4·1 [above] + 2/4·1 [left] + 1/4·1 [above-left].
    assert out[0, 0, 0].item() == pytest.approx(2.25)
    # Borders, scipy 'reflect' (row −1 = row 0) on the sparse planes:
    # G at R(0,0): (0 [above = own zero] + 5 [below] + 0 [left = own zero] + 2 [right]) / 4.
    assert out[1, 0, 0].item() == pytest.approx((5 + 2) / 4)
    # R at G(0,1): (1 + 3)/2 from the row, plus the reflected row above adds (1 + 3)/4.
    assert out[0, 0, 1].item() == pytest.approx((1 + 3) / 2 + (1 + 3) / 4)


def test_demosaic_rejects_bad_input():
    with pytest.raises(ValueError, match="even"):
        demosaic.demosaic_bilinear(torch.zeros(1, 5, 6))
    with pytest.raises(ValueError, match="floating"):
        demosaic.demosaic_malvar2004(torch.zeros(1, 6, 6, dtype=torch.int32))
    with pytest.raises(ValueError, match="pattern"):
        demosaic.demosaic_menon2007(torch.zeros(1, 6, 6), "RGBG")
    with pytest.raises(ValueError, match="demosaicing method"):
        demosaic.demosaic(torch.zeros(1, 6, 6), "ahd")


# ---------------------------------------------------------------- colour


def test_black_level_per_site_for_every_pattern():
    raw = torch.zeros(1, 4, 4)
    for pattern in PATTERNS:
        out = color.apply_black_level(raw, (1.0, 2.0, 3.0, 4.0), pattern)[0]
        expected = -ref.ref_black_level(np.zeros((4, 4)), (1.0, 2.0, 3.0, 4.0), pattern)
        np.testing.assert_array_equal(-out.numpy(), expected)
        p = BayerPattern(pattern)
        (ry, rx), (by, bx) = p.offset(0), p.offset(2)
        assert out[ry, rx] == -1.0 and out[by, bx] == -4.0
        assert out[ry, 1 - rx] == -2.0 and out[by, 1 - bx] == -3.0


def test_white_balance_and_colour_correction():
    rgb = torch.rand(2, 3, 4, 5)
    wb = (2.0, 1.0, -0.5)
    m = ((1.0, 2.0, 3.0), (0.0, 1.0, 0.0), (-1.0, 0.5, 2.0))
    out = color.apply_colour_correction(color.apply_white_balance(rgb, wb), m)
    expected = np.einsum("kc,nchw->nkhw", np.array(m), rgb.double().numpy() * np.array(wb)[:, None, None])
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="colour matrix"):
        color.apply_colour_correction(rgb, ((1.0, 0.0), (0.0, 1.0)))
    with pytest.raises(ValueError, match="RGB"):
        color.apply_white_balance(torch.rand(4, 5), wb)


def test_yuv_matches_scikit_image():
    rgb = np.random.default_rng(1).random((6, 7, 3))
    yuv = color.rgb_to_yuv(t(rgb).permute(2, 0, 1))
    np.testing.assert_allclose(hwc(yuv), skimage.color.rgb2yuv(rgb), atol=1e-6)
    np.testing.assert_allclose(hwc(color.yuv_to_rgb(yuv)), rgb, atol=1e-6)
    np.testing.assert_allclose(color.luma(t(rgb).permute(2, 0, 1)).numpy(), skimage.color.rgb2yuv(rgb)[..., 0], atol=1e-6)
    # A pure luma change maps to LUMA_TO_RGB in RGB (what the fast renderer relies on).
    delta = color.yuv_to_rgb(torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1))[:, 0, 0]
    torch.testing.assert_close(delta, color.LUMA_TO_RGB)


def test_gamma():
    x = torch.tensor([-1.0, 0.0, 0.25, 0.5, 1.0, 3.0])
    out = color.gamma_correct(x)
    expected = np.clip(x.double().numpy(), 0, 1) ** (1 / 2.2)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-7)
    assert out[4].item() == 1.0 and out[5].item() == 1.0
    assert x[2].item() == 0.25  # not in place


# ---------------------------------------------------------------- luma filters


@pytest.fixture(scope="module")
def lumas():
    out = []
    for name in ref.PHOTOS[:3]:
        m = ref.photo_mosaic(name, 48, "RGGB")
        out.append(skimage.color.rgb2yuv(ref.REFERENCE_DEMOSAIC["bilinear"](m))[..., 0])
    return out


def test_sharpen_matches_convolve2d_zero_fill(lumas):
    for y in lumas:
        np.testing.assert_allclose(filters.sharpen_luma(t(y)).numpy(), ref.ref_sharpen(y), atol=2e-6)


def test_sharpen_hand_computed():
    y = torch.zeros(1, 3, 3)
    y[0, 1, 1] = 1.0
    out = filters.sharpen_luma(y)[0]
    torch.testing.assert_close(out, torch.tensor([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]))
    # Zero fill: a constant image loses 1 per missing neighbour at the border.
    ones = filters.sharpen_luma(torch.ones(4, 4))
    assert ones[0, 0].item() == 3.0 and ones[0, 1].item() == 2.0 and ones[1, 1].item() == 1.0


@pytest.mark.parametrize("mode", ["paper", "2d"])
def test_unsharp_matches_reference(lumas, mode):
    for y in lumas:
        got = filters.unsharp_mask_luma(t(y), mode=mode).numpy()
        np.testing.assert_allclose(got, ref.ref_unsharp(y, mode), atol=3e-6)


def test_unsharp_paper_is_vertical_only():
    # A pattern that varies only along rows (constant in each row) is changed by the vertical blur;
    # one that varies only along columns is left alone by "paper" but not by "2d".
    stripes_h = torch.zeros(8, 8)
    stripes_h[::2] = 1.0
    stripes_v = stripes_h.T.contiguous()
    assert not torch.allclose(filters.unsharp_mask_luma(stripes_h), stripes_h)
    torch.testing.assert_close(filters.unsharp_mask_luma(stripes_v, mode="paper"), stripes_v)
    assert not torch.allclose(filters.unsharp_mask_luma(stripes_v, mode="2d"), stripes_v)
    with pytest.raises(ValueError, match="unsharp mode"):
        filters.unsharp_mask_luma(stripes_v, mode="horizontal")


def test_median_matches_scipy_exactly(lumas):
    rng = np.random.default_rng(2)
    for y in [*lumas, rng.random((9, 14)), rng.integers(0, 3, (10, 10)).astype(float)]:
        np.testing.assert_array_equal(filters.median3x3(t(y)).numpy(), ndi.median_filter(y.astype(np.float32), size=3))


def test_median_hand_computed():
    y = torch.tensor([[1.0, 2, 3], [4, 100, 6], [7, 8, 9]])
    out = filters.median3x3(y)
    assert out[1, 1].item() == 6.0  # median of 1,2,3,4,6,7,8,9,100
    # corner (0,0) with 'reflect': window rows (0,0,1), cols (0,0,1) → 1,1,2,1,1,2,4,4,100 → 2
    assert out[0, 0].item() == 2.0


def test_gaussian_matches_scipy(lumas):
    for y in lumas:
        np.testing.assert_allclose(filters.gaussian_blur_luma(t(y)).numpy(), ndi.gaussian_filter(y, 0.5), atol=2e-6)


def test_gaussian_kernel_matches_paper_constants():
    taps = filters.gaussian_kernel1d(0.5)
    assert taps.shape == (5,)
    k2 = torch.outer(taps, taps)
    # reference-spec §2.1: centre 0.61869, 1-off 0.083731, diagonal 0.011332, 2-off 2.0755e-4.
    assert k2[2, 2].item() == pytest.approx(0.61869, abs=1e-5)
    assert k2[2, 3].item() == pytest.approx(0.083731, abs=1e-6)
    assert k2[1, 1].item() == pytest.approx(0.011332, abs=1e-6)
    assert k2[2, 4].item() == pytest.approx(2.0755e-4, abs=1e-8)
    assert filters.gaussian_kernel1d(1.0).shape == (9,)  # truncate 4 → radius 4
    with pytest.raises(ValueError, match="sigma"):
        filters.gaussian_kernel1d(0.0)


@pytest.mark.parametrize("mode", filters.BORDER_MODES)
def test_pad2d_matches_numpy(mode):
    x = np.arange(20.0).reshape(4, 5)
    np_mode = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "constant": "constant"}[mode]
    np.testing.assert_array_equal(filters.pad2d(t(x), 2, 3, mode).numpy(), np.pad(x, ((2, 2), (3, 3)), mode=np_mode))


def test_filters_keep_leading_dims_and_reject_bad_input():
    y = torch.rand(2, 3, 8, 10)
    for fn in (filters.sharpen_luma, filters.unsharp_mask_luma, filters.median3x3, filters.gaussian_blur_luma):
        out = fn(y)
        assert out.shape == y.shape
        torch.testing.assert_close(out[1, 2], fn(y[1, 2]))
        with pytest.raises(ValueError, match="H, W"):
            fn(torch.rand(5))


# ---------------------------------------------------------------- sub-lattice machinery


@pytest.mark.parametrize("mode", filters.BORDER_MODES)
def test_sub_lattice_reads_match_full_resolution_padding(mode):
    """The demosaicers' sub-lattice reads equal strided reads of the padded full-resolution plane,
    including sub-lattices declared empty (only their padding frame is non-zero)."""
    from lens2logit.isp.demosaic import _Lattice

    rng = np.random.default_rng(3)
    h, w = 10, 12
    np_mode = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "constant": "constant"}[mode]
    taps = [(dy, dx, float(rng.normal())) for dy in range(-2, 3) for dx in range(-2, 3)]
    sites = [(0, 0), (0, 1), (1, 0), (1, 1)]
    for present in ([(0, 0), (0, 1), (1, 0), (1, 1)], [(1, 0)], [(0, 1), (1, 0)]):
        x = np.zeros((h, w))
        for py, px in present:
            x[py::2, px::2] = rng.random((h // 2, w // 2))
        padded = np.pad(x, 2, mode=np_mode)
        planes = {(py, px): torch.from_numpy(x[None, py::2, px::2].copy()) for py, px in present}
        lattice = _Lattice.of_sites(planes, torch.zeros(1, h // 2, w // 2, dtype=torch.float64), mode)
        for sy, sx in sites:
            expected = sum(wt * padded[2 + sy + dy :: 2, 2 + sx + dx :: 2][: h // 2, : w // 2] for dy, dx, wt in taps)
            np.testing.assert_allclose(lattice.correlate((sy, sx), taps)[0].numpy(), expected, atol=1e-12, err_msg=f"{present} {sy, sx}")
