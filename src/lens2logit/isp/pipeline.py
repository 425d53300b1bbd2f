"""The ISP as a composition of step functions, and the fast renderer of the twelve static views.

One definition (reference-spec §1.2–1.3): per view, the :data:`STAGES` black level → demosaic →
white balance → colour correction → luma sharpening → luma denoising → clip → gamma 1/2.2, with
YUV round trips around each luma filter. :func:`run_steps` is that composition of the step
functions of :mod:`~lens2logit.isp.color`, :mod:`~lens2logit.isp.filters` and
:mod:`~lens2logit.isp.demosaic`; :func:`render_steps` runs it for a static view, and
:class:`~lens2logit.isp.parametrized.ParametrizedISP` runs it with learnable constants.

:func:`render_views` (behind :func:`render`, which makes the workflow's views) is an optimisation
of the same composition, tested equal to it (``tests/test_isp_render.py``, every view, camera and
Bayer layout, max abs difference ≤ 1e-5). It calls the step functions :func:`apply_black_level`,
:func:`~lens2logit.isp.demosaic.demosaic`, :func:`~lens2logit.isp.filters.sharpen` and
:func:`~lens2logit.isp.filters.denoise` as they are, and fuses the rest:

* black level, white balance and colour correction fold into one affine map per pixel
  (``A = M·diag(wb)``), and the luma of the corrected image is one dot product ``(Yᵀ·A)·rgb``;
* the YUV round trips are never formed: a luma-only filter turning Y into Y' changes RGB by
  ``(Y' − Y)·LUMA_TO_RGB`` (the first column of the inverse YUV matrix), so every view is
  ``gamma(A·rgb + (denoise(sharpen(Y)) − Y)·LUMA_TO_RGB)``;
* clip and gamma run in place on the output buffer (:func:`gamma_correct_`, the same operations
  as :func:`gamma_correct`; its lower clip also does the clip step's, as every pixel is then in
  range);
* views that share a demosaicer share the demosaiced image, its corrected RGB and luma; views
  that also share a sharpener share the sharpened luma;
* batches are processed in chunks small enough for the per-core caches.
"""

from __future__ import annotations

import concurrent.futures
import math
import mmap
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from lens2logit.isp.camera import CameraProfile, get_camera
from lens2logit.isp.cfa import BayerPattern
from lens2logit.isp.color import (
    GAMMA,
    LUMA_TO_RGB,
    RGB_TO_YUV,
    SMALLEST_NORMAL,
    apply_black_level,
    apply_colour_correction,
    apply_white_balance,
    clip,
    filter_luma,
    gamma_correct,
    gamma_correct_,
)
from lens2logit.isp.demosaic import demosaic
from lens2logit.isp.filters import UNSHARP_MODES, denoise, sharpen
from lens2logit.isp.views import VIEWS, View, get_view

STAGES: tuple[str, ...] = (
    "black_level",
    "demosaic",
    "white_balance",
    "colour_correction",
    "sharpen",
    "denoise",
    "clip",
    "gamma",
)
"""The ISP's steps in order; the keys of :func:`run_steps`, :func:`render_steps` and
``ParametrizedISP(..., return_stages=True)`` (which may add ``"additive"``)."""

LumaFilter = Callable[[torch.Tensor], torch.Tensor]


def run_steps(
    raw: torch.Tensor,
    pattern: "BayerPattern | str",
    *,
    black_level,
    demosaic: Callable[[torch.Tensor], torch.Tensor],
    white_balance,
    colour_matrix,
    sharpen: LumaFilter,
    denoise: LumaFilter,
    gamma: "float | torch.Tensor" = GAMMA,
    gamma_floor: float = SMALLEST_NORMAL,
) -> dict[str, torch.Tensor]:
    """The ISP as the composition of its step functions, keeping every intermediate.

    Constants are numbers or tensors (learnable parameters: the result is differentiable in them);
    the spatial steps are callables, so that a caller binds the method and its parameters.

    Args:
        raw: mosaics ``(N, H, W)``.
        pattern: Bayer layout (black level per site).
        black_level: 4 values, order R, G1, G2, B (:func:`~lens2logit.isp.color.apply_black_level`).
        demosaic: ``(N, H, W) → (N, 3, H, W)``.
        white_balance: 3 gains; colour_matrix: 3×3.
        sharpen, denoise: luma filters ``(N, H, W) → (N, H, W)``, each applied through a YUV round
            trip (:func:`~lens2logit.isp.color.filter_luma`).
        gamma: exponent of :func:`~lens2logit.isp.color.gamma_correct`; gamma_floor: its lower clip.

    Returns:
        ``{stage: tensor}`` in :data:`STAGES` order; ``black_level`` is ``(N, H, W)``, the rest
        ``(N, 3, H, W)``; each stage is the input of the next (gradients can be taken at any).
    """
    stages: dict[str, torch.Tensor] = {}
    stages["black_level"] = x = apply_black_level(raw, black_level, pattern)
    stages["demosaic"] = x = demosaic(x)
    stages["white_balance"] = x = apply_white_balance(x, white_balance)
    stages["colour_correction"] = x = apply_colour_correction(x, colour_matrix)
    stages["sharpen"] = x = filter_luma(x, sharpen)
    stages["denoise"] = x = filter_luma(x, denoise)
    stages["clip"] = x = clip(x)
    stages["gamma"] = gamma_correct(x, gamma, floor=gamma_floor)
    return stages

# Pixels per chunk for a single worker (two 256×256 tiles): 0.5 MB float32 planes keep a chunk's
# working set near the 2 MB per-core L2 cache (measured: 2 tiles beat 1 and 4 tiles by ~8 %).
CHUNK_PIXELS = 1 << 17
# With several worker threads, chunks this many times larger: every torch op releases and retakes
# the GIL, so two workers hand it over hundreds of times per tile; twice fewer (larger) ops per
# tile outweigh the cache misses (measured on 2 idle cores: 138 vs 124 tiles/s).
PARALLEL_CHUNK_SCALE = 2


# Outputs at least this large are backed by transparent huge pages where the OS offers them.
HUGE_PAGE_MIN_BYTES = 8 << 20


def _new_output(shape: tuple[int, ...]) -> torch.Tensor:
    """An uninitialised float32 CPU tensor for rendered views.

    Twelve views of a batch are hundreds of MB written once; with 4 KB pages the first-touch page
    faults cost ~20 % of the render (measured), so large outputs come from an anonymous mapping
    advised to use 2 MB transparent huge pages. Falls back to ``torch.empty``.
    """
    nbytes = 4 * math.prod(shape)
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if nbytes < HUGE_PAGE_MIN_BYTES or advice is None:
        return torch.empty(shape, dtype=torch.float32)
    try:
        region = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        region.madvise(advice)
    except (OSError, ValueError, AttributeError):
        return torch.empty(shape, dtype=torch.float32)
    # The numpy array keeps the mapping alive for as long as the tensor lives.
    return torch.from_numpy(np.frombuffer(region, dtype=np.float32).reshape(shape))


def _as_raw_batch(raw) -> torch.Tensor:
    """Validate a raw batch and return it as a float32 tensor ``(N, H, W)``."""
    if isinstance(raw, np.ndarray):
        raw = torch.from_numpy(np.ascontiguousarray(raw))
    if not isinstance(raw, torch.Tensor):
        raise ValueError(f"raw: expected a tensor of mosaics with shape (N, H, W), got {type(raw).__name__}")
    if raw.ndim != 3:
        raise ValueError(
            f"raw: expected a batch of mosaics with shape (N, H, W), got rank {raw.ndim} shape {tuple(raw.shape)}"
            + ("; add a batch axis with raw[None]" if raw.ndim == 2 else "")
        )
    n, h, w = raw.shape
    if h % 2 or w % 2 or h < 4 or w < 4:
        raise ValueError(f"raw: mosaic height and width must be even and at least 4, got {h}×{w}")
    if n == 0:
        raise ValueError("raw: empty batch (N = 0)")
    if raw.is_complex() or raw.dtype == torch.bool:
        raise ValueError(f"raw: expected real numbers, got {raw.dtype}")
    raw = raw.to(torch.float32)
    # One cheap reduction first; the element-wise check only if the sum is not finite.
    if not torch.isfinite(raw.sum()) and not torch.isfinite(raw).all():
        raise ValueError("raw: contains NaN or infinite values")
    return raw.contiguous()


def _camera_constants(camera: CameraProfile) -> list[list[float]]:
    """``[A; Yᵀ·A]`` (4 × 3) with ``A = M·diag(wb)``: colour correction and its luma (float64)."""
    wb = torch.tensor(camera.white_balance, dtype=torch.float64)
    m = torch.tensor(camera.colour_matrix, dtype=torch.float64)
    a = m * wb.view(1, 3)
    luma_row = RGB_TO_YUV[0].to(torch.float64) @ a
    return torch.cat([a, luma_row.view(1, 3)]).tolist()


def _render_chunk(raw, camera, specs_by_demosaic, colour_and_luma, unsharp, outputs, start):
    mosaic = apply_black_level(raw, camera.black_level, camera.pattern)
    luma_to_rgb = LUMA_TO_RGB.to(raw)
    # In float32 the luma column of the inverse YUV matrix is exactly (1, 1, 1): a plain add.
    unit_luma = bool((luma_to_rgb == 1).all())
    stop = start + raw.shape[0]
    for method, specs in specs_by_demosaic.items():
        rgb = demosaic(mosaic, method, camera.pattern)
        # The colour-corrected RGB and its luma, as fused multiply-adds (einsum's batched matmul
        # is ~5× slower for a 4×3 matrix on this layout).
        corrected_and_luma = rgb.new_empty(rgb.shape[0], 4, *rgb.shape[2:])
        red, green, blue = rgb.unbind(1)
        for plane, (w0, w1, w2) in zip(corrected_and_luma.unbind(1), colour_and_luma):
            torch.mul(red, w0, out=plane).add_(green, alpha=w1).add_(blue, alpha=w2)
        del rgb
        corrected, y = corrected_and_luma[:, :3], corrected_and_luma[:, 3]
        sharpened: dict[str, torch.Tensor] = {}
        for spec in specs:
            if spec.sharpen not in sharpened:
                sharpened[spec.sharpen] = sharpen(y, spec.sharpen, unsharp=unsharp)
            delta = denoise(sharpened[spec.sharpen], spec.denoise).sub_(y).unsqueeze(1)
            out = outputs[spec.label][start:stop]
            if unit_luma:
                torch.add(corrected, delta, out=out)
            else:
                torch.addcmul(corrected, delta, luma_to_rgb.view(3, 1, 1), out=out)
            gamma_correct_(out)


def render_views(
    raw,
    camera: "str | CameraProfile",
    views: Iterable["str | View"] = VIEWS,
    *,
    unsharp: str = "paper",
    threads: int | None = None,
) -> dict[str, torch.Tensor]:
    """Render several static views of a batch of raw mosaics, sharing work between them.

    Args:
        raw: mosaics ``(N, H, W)`` (DN / 65535, ≈[0, 1]), H and W even; float tensor or array.
        camera: profile name (``"microscopy"``, ``"drone"``) or a :class:`CameraProfile`; its Bayer
            pattern, black level, white balance and colour matrix are used.
        views: labels (``"bi,s,me"``) or slugs (``"bi-s-me"``) or :class:`View` objects;
            default all twelve in the paper's order.
        unsharp: ``"paper"`` (vertical-only blur, reproduces the published data) or ``"2d"``.
        threads: worker threads, each rendering a chunk of the batch single-threaded
            (default: ``torch.get_num_threads()``). The result does not depend on it. While
            rendering, torch's intra-op thread count is set to 1 (restored afterwards).

    Returns:
        ``{label: (N, 3, H, W) float32 in [0, 1]}`` in the order of ``views``.

    Raises:
        ValueError: wrong rank, odd or tiny size, non-finite values, unknown view/camera/mode.

    Example:
        >>> out = render_views(torch.rand(2, 8, 8), "drone", ["bi,s,me", "me-u-ga"])
        >>> sorted(out), out["bi,s,me"].shape
        (['bi,s,me', 'me,u,ga'], torch.Size([2, 3, 8, 8]))
    """
    if unsharp not in UNSHARP_MODES:
        raise ValueError(f"unknown unsharp mode {unsharp!r}; expected one of {UNSHARP_MODES}")
    camera = get_camera(camera)
    if isinstance(views, (str, View)):
        views = [views]
    specs = [get_view(v) for v in views]
    if not specs:
        raise ValueError("views: no view requested")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads: expected a positive integer or None, got {threads!r}")
    raw = _as_raw_batch(raw)
    n, h, w = raw.shape
    by_demosaic: dict[str, list[View]] = {}
    for spec in dict.fromkeys(specs):
        by_demosaic.setdefault(spec.demosaic, []).append(spec)
    if raw.device.type == "cpu":
        outputs = {spec.label: _new_output((n, 3, h, w)) for spec in specs}
    else:
        outputs = {spec.label: raw.new_empty(n, 3, h, w) for spec in specs}
    colour_and_luma = _camera_constants(camera)
    requested = torch.get_num_threads() if threads is None else int(threads)
    chunk = max(1, CHUNK_PIXELS // (h * w))
    if requested > 1:  # larger chunks, but at least one per worker
        chunk = max(chunk, min(chunk * PARALLEL_CHUNK_SCALE, math.ceil(n / requested)))
    starts = list(range(0, n, chunk))
    workers = max(1, min(requested, len(starts)))

    pending = iter(starts)  # shared: each worker takes the next chunk when it is free

    def work() -> None:
        # Single-threaded chunks: small tensors do not amortise OpenMP's fork/join, and on a
        # busy machine its spinning threads slow every op down.
        torch.set_num_threads(1)
        with torch.no_grad():
            for start in pending:
                _render_chunk(raw[start : start + chunk], camera, by_demosaic, colour_and_luma, unsharp, outputs, start)

    previous = torch.get_num_threads()
    try:
        if workers == 1:
            work()
        else:
            with concurrent.futures.ThreadPoolExecutor(workers - 1, thread_name_prefix="lens2logit-isp") as pool:
                helpers = [pool.submit(work) for _ in range(workers - 1)]
                work()  # the calling thread is one of the workers
                for helper in helpers:
                    helper.result()
    finally:
        torch.set_num_threads(previous)
    return outputs


def render(raw, view: "str | View", camera: "str | CameraProfile", *, unsharp: str = "paper") -> torch.Tensor:
    """Render one static view: ``(N, H, W) → (N, 3, H, W)`` float32 in [0, 1].

    See :func:`render_views` for the arguments.

    Example:
        >>> render(torch.rand(1, 8, 8), "bi,s,ga", "microscopy").shape
        torch.Size([1, 3, 8, 8])
    """
    spec = get_view(view)
    return render_views(raw, camera, [spec], unsharp=unsharp)[spec.label]


def render_steps(
    raw,
    view: "str | View",
    camera: "str | CameraProfile",
    *,
    unsharp: str = "paper",
) -> dict[str, torch.Tensor]:
    """Every intermediate of one static view: :func:`run_steps` with the camera's constants and the
    view's methods (full YUV round trips).

    Slow but literal (for inspection and teaching); the final entry equals :func:`render` (to
    float32 rounding, ≤ 1e-5).

    Returns:
        ``{stage: tensor}`` in :data:`STAGES` order: ``black_level`` ``(N, H, W)``, then
        ``demosaic`` … ``gamma`` ``(N, 3, H, W)``.

    Raises:
        ValueError: as :func:`render_views`.
    """
    if unsharp not in UNSHARP_MODES:
        raise ValueError(f"unknown unsharp mode {unsharp!r}; expected one of {UNSHARP_MODES}")
    spec, camera = get_view(view), get_camera(camera)
    raw = _as_raw_batch(raw)
    return run_steps(
        raw,
        camera.pattern,
        black_level=camera.black_level,
        demosaic=lambda x: demosaic(x, spec.demosaic, camera.pattern),
        white_balance=camera.white_balance,
        colour_matrix=camera.colour_matrix,
        sharpen=lambda y: sharpen(y, spec.sharpen, unsharp=unsharp),
        denoise=lambda y: denoise(y, spec.denoise),
    )


__all__: Sequence[str] = ("STAGES", "run_steps", "render", "render_views", "render_steps", "CHUNK_PIXELS")
