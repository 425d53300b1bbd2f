"""Drift-robust regime ``isp_random``: every training sample rendered from its RAW mosaic through the
differentiable ISP with settings drawn around the static views' (issue 20, item 2).

The twin (:class:`~lens2logit.isp.parametrized.ParametrizedISP`, camera constants) renders each sample
of each epoch with three groups drawn at random; the ranges come from the static views' own constants
(docs/training.md, "Regime isp_random"):

* ``demosaic``: one of the twin's demosaicers (bilinear, Malvar 2004); Menon 2007 has no twin;
* ``sharpening``: the luma kernel ``(1 − t)·K_unsharp + t·K_sharp``, ``t`` in ``[0, 1]``: ``t = 0`` is
  the unsharp-masking view's filter (``2δ − G_vertical(σ = 1)``, radius 1, amount 1), ``t = 1`` the
  sharpening filter's :data:`~lens2logit.isp.filters.K_SHARP`;
* ``blur`` (the denoising step): a Gaussian of ``σ`` between the Gaussian view's 0.5 and
  :func:`median_equivalent_sigma`, the Gaussian with the white-noise variance gain of the 3×3 median
  (the median is not linear, the twin's denoiser is a kernel; this is its linear stand-in).

Black level, white balance, colour matrix and gamma stay at the camera's constants: every static view
shares them, so the views give no range to draw from.

Leave one view out (:func:`isp_random_ranges`): per group, the held-out view's setting is excluded where
the group has another setting among the training views: the range keeps the training settings and the
points nearer to them than to the held-out setting (up to the midpoint). The draw is a pure function of
``(seed, epoch, sample)`` (:func:`draw_isp_settings`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
import torch

from lens2logit.errors import InputError
from lens2logit.training.train import TrainingViews, train_on_view
from lens2logit.isp.color import SMALLEST_NORMAL
from lens2logit.isp.demosaic import DEMOSAIC_WEIGHTS
from lens2logit.isp.filters import DENOISE_GAUSSIAN_SIGMA, K_SHARP, UNSHARP_AMOUNT, UNSHARP_RADIUS, gaussian_kernel1d, gaussian_kernel2d
from lens2logit.isp.parametrized import ParametrizedISP
from lens2logit.isp.views import get_view
from lens2logit.training.batches import ArrayBatches, channel_statistics, check_indices

REGIME = "isp_random"
TWIN_DEMOSAICERS: tuple[str, ...] = tuple(DEMOSAIC_WEIGHTS)  # ("bilinear", "malvar2004")
# Sharpening mix t of each static sharpener; denoising σ of the Gaussian denoiser (the median's: see below).
SHARPENING_MIX = {"unsharp_masking": 0.0, "sharpening_filter": 1.0}
MEDIAN_WINDOW = 9  # 3×3 median
VALIDATION_EPOCH = -1  # validation batches: one draw, with this epoch number
STATISTICS_EPOCH = -2  # the draw the standardisation statistics are computed on
_SALT = 0x15F2
_MASK = 0xFFFFFFFF


def median_noise_gain(window: int = MEDIAN_WINDOW) -> float:
    """Variance of the median of ``window`` (odd) i.i.d. N(0, 1) samples (order-statistic density, numerically)."""
    x = torch.linspace(-8.0, 8.0, 16001, dtype=torch.float64)
    cdf, pdf = torch.special.ndtr(x), torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    k = (window - 1) // 2
    density = math.comb(window, k) * (k + 1) * cdf**k * (1 - cdf) ** k * pdf
    return float(torch.trapezoid(x**2 * density, x))


def gaussian_noise_gain(sigma: float) -> float:
    """White-noise variance gain of the 2-D Gaussian kernel of ``sigma``: the sum of its squared taps."""
    return float((gaussian_kernel1d(sigma).double() ** 2).sum() ** 2)


@functools.lru_cache(maxsize=None)
def median_equivalent_sigma(window: int = MEDIAN_WINDOW) -> float:
    """σ of the Gaussian whose white-noise variance gain equals the ``window``-median's (bisection)."""
    target, lo, hi = median_noise_gain(window), 0.05, 5.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if gaussian_noise_gain(mid) > target else (lo, mid)
    return 0.5 * (lo + hi)


def denoise_sigma(method: str) -> float:
    """σ of a static denoiser in the twin: the Gaussian view's, or the median's stand-in."""
    return DENOISE_GAUSSIAN_SIGMA if method == "gaussian_denoising" else median_equivalent_sigma()


@dataclass(frozen=True)
class IspRanges:
    """What :func:`draw_isp_settings` draws from: demosaicers (uniform), sharpening mix ``t`` and blur σ (uniform)."""

    demosaicers: tuple[str, ...]
    sharpening: tuple[float, float]
    blur_sigma: tuple[float, float]


def setting_interval(train_values: Sequence[float], held: float | None) -> tuple[float, float]:
    """Interval of one scalar group: the hull of the training settings, extended towards ``held`` up to
    the midpoint (points nearer a training setting than the held-out one); ``held`` itself is excluded
    where a training setting differs from it. ``held`` inside the hull cannot be excluded (kept)."""
    values = sorted(set(float(v) for v in train_values))
    if not values:
        raise InputError("isp_random needs at least one training view")
    others = [v for v in values if held is None or v != held]
    if held is None or not others:
        return values[0], values[-1]
    lo, hi = others[0], others[-1]
    if held < lo:
        return 0.5 * (held + lo), hi
    if held > hi:
        return lo, 0.5 * (hi + held)
    return min(values[0], held), max(values[-1], held)


def isp_random_ranges(train_views: Sequence[str], held_out: str | None = None) -> IspRanges:
    """Ranges of the draw from the training views' settings, leaving out ``held_out``'s where possible.

    Demosaicers: the twin's demosaicers among the training views' (all twin demosaicers if none has a
    twin), without the held-out view's unless that leaves none.
    """
    specs = [get_view(v) for v in train_views]
    if not specs:
        raise InputError("isp_random needs at least one training view")
    held = get_view(held_out) if held_out is not None else None
    present = [d for d in TWIN_DEMOSAICERS if any(s.demosaic == d for s in specs)] or list(TWIN_DEMOSAICERS)
    kept = [d for d in present if held is None or d != held.demosaic] or [d for d in TWIN_DEMOSAICERS if held is None or d != held.demosaic]
    sharp = setting_interval([SHARPENING_MIX[s.sharpen] for s in specs], SHARPENING_MIX[held.sharpen] if held else None)
    blur = setting_interval([denoise_sigma(s.denoise) for s in specs], denoise_sigma(held.denoise) if held else None)
    return IspRanges(tuple(kept), sharp, blur)


def draw_isp_settings(ranges: IspRanges, sample: int, *, seed: int, epoch: int) -> dict[str, Any]:
    """One sample's settings ``{"demosaic": str, "sharpening": t, "blur_sigma": σ}``; a pure function of
    ``(seed, epoch, sample)``, uniform within ``ranges``."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & _MASK, int(epoch) & _MASK, int(sample) & _MASK, _SALT]))
    demosaic = ranges.demosaicers[int(rng.integers(0, len(ranges.demosaicers)))]
    t = float(rng.uniform(*ranges.sharpening))
    sigma = float(rng.uniform(*ranges.blur_sigma))
    return {"demosaic": demosaic, "sharpening": t, "blur_sigma": sigma}


def unsharp_kernel() -> torch.Tensor:
    """``(9, 1)`` kernel of the unsharp-masking view (paper mode: vertical Gaussian): ``(1 + a)·δ − a·G``."""
    taps = gaussian_kernel1d(UNSHARP_RADIUS)
    kernel = -UNSHARP_AMOUNT * taps
    kernel[len(taps) // 2] += 1.0 + UNSHARP_AMOUNT
    return kernel.view(-1, 1)


def _embed(kernel: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    out = torch.zeros(shape)
    r, c = (shape[0] - kernel.shape[0]) // 2, (shape[1] - kernel.shape[1]) // 2
    out[r : r + kernel.shape[0], c : c + kernel.shape[1]] = kernel
    return out


def sharpening_kernel(t: float) -> torch.Tensor:
    """``(9, 3)`` luma kernel ``(1 − t)·K_unsharp + t·K_sharp`` (both embedded, centred)."""
    u = unsharp_kernel()
    shape = (max(u.shape[0], K_SHARP.shape[0]), max(u.shape[1], K_SHARP.shape[1]))
    return (1.0 - t) * _embed(u, shape) + t * _embed(K_SHARP, shape)


class RandomIspBatches(ArrayBatches):
    """Batches rendered from raw mosaics ``(N, H, W)`` through the twin with per-sample drawn settings.

    Each iteration (an epoch) draws every sample's settings with ``(seed, epoch, sample)``; with
    ``redraw=False`` the draw of :data:`VALIDATION_EPOCH` is used every time. ``record``: one list per
    iteration of the settings of each index of ``indices`` as given.
    """

    def __init__(self, raw: np.ndarray, isps: dict[str, ParametrizedISP], ranges: IspRanges, targets: np.ndarray,
                 indices: Sequence[int], batch_size: int, *, seed: int, generator: torch.Generator | None = None,
                 redraw: bool = True, pin_memory: bool = False):
        given = check_indices(indices, len(raw), "batch")
        super().__init__(raw, targets, given, batch_size, generator=generator, pin_memory=pin_memory)
        self.isps, self.ranges, self.given = isps, ranges, given
        self.seed, self.redraw, self.epoch = int(seed), redraw, 0
        self.record: list[list[dict[str, Any]]] = []
        self.settings_of: dict[int, dict[str, Any]] = {}

    def __iter__(self):
        epoch = self.epoch if self.redraw else VALIDATION_EPOCH
        drawn = [draw_isp_settings(self.ranges, i, seed=self.seed, epoch=epoch) for i in self.given.tolist()]
        self.record.append(drawn)
        self.epoch += 1
        self.settings_of = dict(zip(self.given.tolist(), drawn))
        yield from super().__iter__()

    def _read(self, chunk: np.ndarray) -> np.ndarray:
        return render_drawn(self.images, chunk, [self.settings_of[i] for i in chunk.tolist()], self.isps)


def render_drawn(raw: np.ndarray, indices: np.ndarray, settings: Sequence[dict[str, Any]], isps: dict[str, ParametrizedISP]) -> np.ndarray:
    """``(B, 3, H, W)`` float32: mosaic ``raw[i]`` through the twin of its demosaicer with its sharpening and blur."""
    out = []
    with torch.no_grad():
        for i, s in zip(indices.tolist(), settings):
            isp = isps[s["demosaic"]]
            kernels = {"sharpening": sharpening_kernel(s["sharpening"]), "blur": gaussian_kernel2d(s["blur_sigma"])}
            mosaic = torch.from_numpy(np.asarray(raw[i : i + 1], dtype=np.float32))
            out.append(torch.func.functional_call(isp, kernels, (mosaic,), strict=False)[0].numpy())
    return np.stack(out)


class RandomIsp(TrainingViews):
    """The images of a model of regime ``isp_random``: raw mosaics rendered with settings drawn per sample and epoch.

    Standardised with the statistics of one rendering of the training samples (the draw of
    :data:`STATISTICS_EPOCH`); the checkpoint gets ``regime``, ``train_views``, ``held_out``,
    ``isp_ranges`` and ``sample_settings`` (per epoch, the settings of each sample of ``train_indices``).
    """

    def __init__(self, raw_path, targets_path, meta_path, labels: Sequence[str], *, held_out: str | None, seed: int):
        self.paths = [raw_path]
        self.raw_path, self.targets_path, self.meta_path = raw_path, targets_path, meta_path
        self.labels = [get_view(v).label for v in labels]
        self.held_out = get_view(held_out).label if held_out is not None else None
        self.ranges = isp_random_ranges(self.labels, self.held_out)
        self.seed = seed

    def open(self) -> np.ndarray:
        from lens2logit.data.export import load_dataset_arrays

        raw, _, _, camera = load_dataset_arrays(self.raw_path, self.targets_path, self.meta_path)
        self.raw = raw.numpy()
        self.isps = {d: ParametrizedISP(camera, demosaic=d, gamma_floor=SMALLEST_NORMAL).eval() for d in self.ranges.demosaicers}
        n, h, w = self.raw.shape
        return np.broadcast_to(np.zeros((), np.float32), (n, 3, h, w))  # the image shape, no memory

    def statistics(self, indices: np.ndarray) -> tuple[list[float], list[float]]:
        idx = np.sort(check_indices(indices, len(self.raw), "statistics"))
        settings = [draw_isp_settings(self.ranges, i, seed=self.seed, epoch=STATISTICS_EPOCH) for i in idx.tolist()]
        rendered = render_drawn(self.raw, idx, settings, self.isps)
        return channel_statistics(rendered, np.arange(len(idx)))

    def batches(self, targets: np.ndarray, indices: np.ndarray, batch_size: int, *,
                generator: torch.Generator | None = None, pin_memory: bool = False) -> RandomIspBatches:
        return RandomIspBatches(self.raw, self.isps, self.ranges, targets, indices, batch_size, seed=self.seed,
                                generator=generator, redraw=generator is not None, pin_memory=pin_memory)

    def config(self) -> dict[str, Any]:
        return {"raw_path": str(self.raw_path), "meta_path": str(self.meta_path), "regime": REGIME}

    def checkpoint_entries(self, train_batches: RandomIspBatches) -> dict[str, Any]:
        ranges = asdict(self.ranges)
        return {"regime": REGIME, "train_views": self.labels, "held_out": self.held_out,
                "isp_ranges": {k: list(v) for k, v in ranges.items()}, "sample_settings": train_batches.record}


def train_on_random_isp(raw_path, targets_path, meta_path, folds_path, fold: int, view_labels: Sequence[str], *,
                        held_out: str | None, seed: int, **options: Any) -> dict[str, Any]:
    """Train one task model with regime ``isp_random`` on one fold (ranges from ``view_labels``, leaving
    ``held_out``'s settings out where possible); ``options``: :func:`train_on_view`'s keyword arguments."""
    images = RandomIsp(raw_path, targets_path, meta_path, view_labels, held_out=held_out, seed=seed)
    return train_on_view(images, targets_path, folds_path, fold, seed=seed, **options)
