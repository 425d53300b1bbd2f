"""The twelve views end to end against the reference pipeline, and the render API's contract."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import isp_reference as ref  # noqa: E402

from lens2logit import isp  # noqa: E402
import lens2logit.isp.color  # noqa: E402,F401  (isp.color, isp.filters, isp.demosaic below)
import lens2logit.isp.demosaic  # noqa: E402,F401
import lens2logit.isp.filters  # noqa: E402,F401
from lens2logit.isp import pipeline as render_module  # noqa: E402

# Raw ranges like the datasets' (reference-spec §3.4–3.5): offset near the black level, then signal.
CAMERA_RANGES = {"microscopy": (0.01, 0.6), "drone": (0.0625, 0.6)}


def photo_batch(camera, size=64, pattern=None):
    off, gain = CAMERA_RANGES[camera.name] if camera.name in CAMERA_RANGES else (0.05, 0.6)
    pattern = pattern or camera.pattern.value
    return np.stack([ref.photo_mosaic(n, size, pattern, offset=off, gain=gain) for n in ref.PHOTOS])


@pytest.mark.parametrize("camera_name", ["microscopy", "drone"])
@pytest.mark.parametrize("unsharp", ["paper", "2d"])
def test_all_views_match_reference(camera_name, unsharp):
    camera = isp.get_camera(camera_name)
    raw = photo_batch(camera)
    out = isp.render_views(torch.from_numpy(raw.astype(np.float32)), camera_name, unsharp=unsharp)
    assert list(out) == isp.VIEWS
    for i, name in enumerate(ref.PHOTOS):
        expected = ref.reference_views(raw[i], isp.VIEW_SPECS, camera, unsharp=unsharp)
        for label in isp.VIEWS:
            got = out[label][i].permute(1, 2, 0).numpy()
            psnr = ref.psnr_interior(got, expected[label])
            assert psnr >= 45, f"{camera_name} {unsharp} {name} {label}: {psnr:.1f} dB"


@pytest.mark.parametrize("pattern", ["BGGR", "GRBG", "GBRG"])
def test_views_for_other_bayer_patterns(pattern):
    camera = dataclasses.replace(isp.DRONE, name=f"drone-{pattern}", pattern=isp.BayerPattern(pattern))
    raw = ref.photo_mosaic("coffee", 48, pattern, offset=0.0625, gain=0.6)
    out = isp.render_views(torch.from_numpy(raw.astype(np.float32))[None], camera)
    expected = ref.reference_views(raw, isp.VIEW_SPECS, camera)
    for label in isp.VIEWS:
        assert ref.psnr_interior(out[label][0].permute(1, 2, 0).numpy(), expected[label]) >= 45, (pattern, label)


def test_paper_and_2d_unsharp_differ_only_for_unsharp_views():
    raw = torch.from_numpy(photo_batch(isp.DRONE, 32).astype(np.float32))
    paper = isp.render_views(raw, "drone")
    two_d = isp.render_views(raw, "drone", unsharp="2d")
    for spec in isp.VIEW_SPECS:
        same = torch.equal(paper[spec.label], two_d[spec.label])
        assert same == (spec.sharpen != "unsharp_masking"), spec.label


def test_render_matches_render_views_and_steps():
    raw = torch.rand(3, 16, 20) * 0.5 + 0.05
    all_views = isp.render_views(raw, "microscopy")
    for label in ("bi,s,me", "ma-u-ga", "me,s,ga"):
        one = isp.render(raw, label, "microscopy")
        spec = isp.get_view(label)
        torch.testing.assert_close(one, all_views[spec.label], atol=0, rtol=0)
        steps = isp.render_steps(raw, label, "microscopy")
        torch.testing.assert_close(steps["gamma"], one, atol=2e-5, rtol=0)
        assert list(steps) == list(isp.STAGES) == ["black_level", "demosaic", "white_balance", "colour_correction", "sharpen", "denoise", "clip", "gamma"]


def test_output_contract():
    raw = torch.rand(2, 12, 10)
    out = isp.render(raw, "me,u,me", "drone")
    assert out.shape == (2, 3, 12, 10) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    # numpy input, float64, a View object, a subset of views in the requested order
    views = isp.render_views(raw.double().numpy(), isp.MICROSCOPY, [isp.VIEW_SPECS[5], "bi-s-me"])
    assert list(views) == ["ma,s,ga", "bi,s,me"]


def test_batch_chunking_and_threads_do_not_change_results(monkeypatch):
    raw = torch.rand(7, 16, 16)
    whole = isp.render_views(raw, "drone", threads=1)
    monkeypatch.setattr(render_module, "CHUNK_PIXELS", 2 * 16 * 16)  # chunks of 2 tiles
    chunked = isp.render_views(raw, "drone", threads=2)
    for label in isp.VIEWS:
        torch.testing.assert_close(chunked[label], whole[label], atol=0, rtol=0)
        single = isp.render(raw[4:5], label, "drone")
        torch.testing.assert_close(single, whole[label][4:5], atol=0, rtol=0)


def test_views_are_distinct_and_deterministic():
    raw = torch.from_numpy(photo_batch(isp.DRONE, 32)[:1].astype(np.float32))
    a = isp.render_views(raw, "drone")
    b = isp.render_views(raw, "drone")
    for label in isp.VIEWS:
        assert torch.equal(a[label], b[label])
    labels = isp.VIEWS
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            assert not torch.equal(a[labels[i]], a[labels[j]]), (labels[i], labels[j])


def test_camera_constants_are_used():
    raw = torch.full((1, 8, 8), 0.3)
    out = isp.render(raw, "bi,s,ga", "drone")
    # Interior of a flat grey mosaic: sharpening and blur are identities there, so the output is
    # gamma(clip(M · diag(wb) · (0.3 − black level))) per channel.
    bl = np.array(isp.DRONE.black_level)[[0, 1, 3]]  # R, G (G1), B
    rgb = np.array(isp.DRONE.colour_matrix) @ (np.array(isp.DRONE.white_balance) * (0.3 - bl))
    expected = np.clip(rgb, 0, 1) ** (1 / 2.2)
    np.testing.assert_allclose(out[0, :, 3, 3].numpy(), expected, atol=2e-3)


@pytest.mark.parametrize(
    "raw, message",
    [
        (torch.rand(8, 8), "shape \\(N, H, W\\)"),
        (torch.rand(1, 1, 8, 8), "shape \\(N, H, W\\)"),
        (torch.rand(1, 7, 8), "even"),
        (torch.rand(1, 8, 9), "even"),
        (torch.rand(1, 2, 2), "at least 4"),
        (torch.tensor([[[0.1, float("nan")] * 2] * 4]), "NaN or infinite"),
        (torch.full((1, 4, 4), float("inf")), "NaN or infinite"),
        ([[0.0]], "tensor"),
    ],
)
def test_bad_raw_is_rejected(raw, message):
    with pytest.raises(ValueError, match=message):
        isp.render(raw, "bi,s,me", "drone")


def test_bad_options_are_rejected():
    raw = torch.rand(1, 8, 8)
    with pytest.raises(ValueError, match="unknown view 'bi,x,me'"):
        isp.render(raw, "bi,x,me", "drone")
    with pytest.raises(ValueError, match="unknown camera profile 'phone'"):
        isp.render(raw, "bi,s,me", "phone")
    with pytest.raises(ValueError, match="unknown unsharp mode"):
        isp.render(raw, "bi,s,me", "drone", unsharp="vertical")
    with pytest.raises(ValueError, match="no view"):
        isp.render_views(raw, "drone", [])


@pytest.mark.parametrize("size", [(4, 4), (4, 6), (6, 4), (8, 10)])
def test_tiny_images_match_reference_everywhere(size):
    # All-border images: every pixel is within reach of the border modes.
    rng = np.random.default_rng(sum(size))
    m = rng.random(size) * 0.5 + 0.07
    out = isp.render_views(torch.from_numpy(m.astype(np.float32))[None], "drone")
    expected = ref.reference_views(m, isp.VIEW_SPECS, isp.DRONE)
    for label in isp.VIEWS:
        np.testing.assert_allclose(out[label][0].permute(1, 2, 0).numpy(), expected[label], atol=1e-4, err_msg=label)


@pytest.mark.parametrize("camera", [isp.DRONE, isp.MICROSCOPY], ids=lambda c: c.name)
@pytest.mark.parametrize("pattern", list(isp.BayerPattern), ids=lambda p: p.value)
def test_fast_renderer_equals_the_composition_of_step_functions(camera, pattern):
    """render_views (fused) equals run_steps (step functions, literal YUV round trips), every view.

    Both are float32, so they differ by rounding of intermediates as large as ~10 (microscopy's
    gains): in linear light (before gamma) by a few 1e-6. The power law magnifies that without
    bound near black (slope 0.45·x^-0.55: 1e-7 at x = 0 becomes 7e-4), so after gamma the 1e-5
    bound is asserted where x ≥ 0.05 (slope ≤ 2.3).
    """
    cam = dataclasses.replace(camera, pattern=pattern)
    off, gain = CAMERA_RANGES[camera.name]
    photos = [ref.photo_mosaic(n, 32, pattern.value, offset=off, gain=gain) for n in ref.PHOTOS]
    noise = torch.rand(2, 32, 32, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.05
    raw = torch.cat([torch.from_numpy(np.stack(photos).astype(np.float32)), noise])
    fast = isp.render_views(raw, cam)
    for label in isp.VIEWS:
        steps = isp.render_steps(raw, label, cam)
        linear = steps["clip"].double()
        assert (fast[label].double() ** isp.color.GAMMA - linear).abs().max() <= 1e-5, label
        diff = (fast[label] - steps["gamma"]).abs()
        assert diff[linear >= 0.05].max() <= 1e-5, label


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda y: isp.filters.sharpen(y, "sharpening"), "unknown sharpening method 'sharpening'"),
        (lambda y: isp.filters.denoise(y, "bilateral"), "unknown denoising method 'bilateral'"),
        (lambda y: isp.demosaic.demosaic(y, "ahd", "RGGB"), "unknown demosaicing method 'ahd'"),
        (lambda y: isp.filters.sharpen(y, "unsharp_masking", unsharp="vertical"), "unknown unsharp mode"),
        (lambda y: isp.View("bilinear", "sharpening_filter", "wiener"), "unknown denoise method 'wiener'"),
        (lambda y: isp.View("bilinear", "laplacian", "median_denoising"), "unknown sharpen method 'laplacian'"),
    ],
)
def test_unknown_step_names_raise(call, message):
    """No step falls back to a default for a name it does not know."""
    with pytest.raises(ValueError, match=message):
        call(torch.rand(1, 8, 8))


def test_linear_demosaicers_equal_their_filter_form():
    """bilinear/Malvar given their fixed filters as tensors (the learnable form) equal the defaults."""
    raw = torch.rand(2, 12, 16)
    for pattern in isp.BayerPattern:
        for method, make_weight in isp.demosaic.DEMOSAIC_WEIGHTS.items():
            fn = isp.demosaic.DEMOSAICERS[method]
            torch.testing.assert_close(fn(raw, pattern, weight=make_weight()), fn(raw, pattern), atol=2e-6, rtol=0)
    y = torch.rand(2, 10, 12)
    k = isp.filters
    torch.testing.assert_close(k.sharpen_luma(y, k.K_SHARP), k.sharpen_luma(y), atol=2e-6, rtol=0)
    torch.testing.assert_close(k.gaussian_blur_luma(y, kernel=k.gaussian_kernel2d()), k.gaussian_blur_luma(y), atol=2e-6, rtol=0)
