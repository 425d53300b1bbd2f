"""Common-corruption baseline, compared with physically faithful ISP drift (reference-spec §5.5).

Two presets (config ``corruptions.preset``):

* ``paper`` (default) — the original's benchmark: ``identity`` plus ten transforms (gaussian_noise,
  shot_noise, impulse_noise, speckle_noise, gaussian_blur, zoom_blur, contrast, brightness, saturate,
  elastic_transform) with the original's constants, the *CIFAR-10-C* versions of Hendrycks &
  Dietterich's functions (tables :data:`PAPER_CONSTANTS`), re-implemented here as one small pure
  function per transform on float [0, 1] images (scikit-image / scipy where the original used
  them). Default severity 1 (:data:`PRESET_SEVERITY`): the original's ``--severity`` defaults to 1
  and neither its scripts nor its README record a run at another severity, so 1 is what the paper's
  "four to ten times" was most plausibly measured at.
* ``imagenet-c`` — the ``imagecorruptions`` package (fork ``imagecorruptions-imaug``), 224-px
  ImageNet-C constants, default severity 3. Any of the package's 19 names is accepted
  (:data:`IMAGENET_C_ALL`); the default list is the 15 of the ImageNet-C benchmark (:data:`IMAGENET_C`).

Pixel scale. The paper's pixel-sized constants (noise, blur σ in px, elastic jitter in px) are
absolute: on scenes drawn at the real pixel scale they mean the same physical damage as in the
paper whatever the tile size. Two constants depend on the tile: zoom_blur zooms by a factor of the
tile, and elastic_transform's affine control points sit a third of the tile apart (as in the original,
which wrote them for 32-px CIFAR and applied them to 256-px tiles: much weaker there).

Both presets work on the processed [0, 1] RGB, before standardisation, and clip to [0, 1].

Randomness: each image gets its own seed derived from ``(seed, id)`` (``id`` = its sample index), so
a sample is corrupted identically however the batch is chunked. ``paper`` transforms draw from a
``numpy.random.Generator``; the package draws from numpy's global RNG, whose state is restored.

Package notes (``imagenet-c``): HWC uint8 in, 0..255 out (images are quantised with ``round(255·x)``);
it refuses images smaller than 32×32, which are reflect-padded to 32 and cropped back; ``glass_blur``
is numba-compiled (~2 s JIT on first call).
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch

from lens2logit.errors import InputError
from lens2logit.io import write_csv
from lens2logit.corruptions.presets import DEFAULT_PRESET, IDENTITY, PAPER, check_corruption, check_severity, resolve_corruptions

MIN_SIDE = 32  # smallest side the imagecorruptions package accepts
_SEEDED_BY_ARGUMENT = ("impulse_noise", "glass_blur")

# ---- the original's constants (CIFAR-10-C versions), one entry per severity 1…5 ------------

PAPER_CONSTANTS: dict[str, tuple] = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),  # σ of additive N(0, σ)
    "shot_noise": (500, 250, 100, 75, 50),  # photons per unit intensity: Poisson(x·c)/c
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),  # salt & pepper amount (scikit-image)
    "speckle_noise": (0.06, 0.10, 0.12, 0.16, 0.20),  # σ of multiplicative x + x·N(0, σ)
    "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0),  # σ in pixels (scikit-image gaussian)
    # np.arange(1, stop, 0.01) end points, as the original writes them: the float step lets the end point in
    # at severities 1 and 2 (1.00…1.06: 7 factors; 1.00…1.11: 12), not at 3–5 (…1.15, …1.20, …1.25).
    "zoom_blur": (1.06, 1.11, 1.16, 1.21, 1.26),
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),  # (x − mean)·c + mean
    "brightness": (0.05, 0.10, 0.15, 0.20, 0.30),  # HSV value + c
    "saturate": ((0.3, 0.0), (0.1, 0.0), (1.5, 0.0), (2.0, 0.1), (2.5, 0.2)),  # HSV saturation·a + b
    # (alpha, sigma, affine jitter) in pixels: IMSIZE 32 × (0, 0, 0.08), (0.05, 0.2, 0.07), …
    "elastic_transform": ((0.0, 0.0, 2.56), (1.6, 6.4, 2.24), (2.56, 1.92, 1.92), (3.2, 1.28, 1.6), (3.2, 0.96, 0.96)),
}
ZOOM_STEP = 0.01
ELASTIC_TRUNCATE = 3.0  # Gaussian smoothing of the displacement field, truncated at 3 σ


# ---- the paper's transforms: one pure function each, HWC float [0, 1] → HWC float ---------


def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive white Gaussian noise: ``x + N(0, σ)``. ``(H, W, C)`` → ``(H, W, C)``."""
    return image + rng.normal(0.0, sigma, size=image.shape)


def shot_noise(image: np.ndarray, photons: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson noise at ``photons`` per unit intensity: ``Poisson(x·c) / c``."""
    return rng.poisson(np.clip(image, 0.0, 1.0) * photons) / photons


def impulse_noise(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Salt-and-pepper noise on ``amount`` of the values (scikit-image ``random_noise``, mode ``s&p``)."""
    from skimage.util import random_noise

    return random_noise(np.clip(image, 0.0, 1.0), mode="s&p", amount=amount, rng=rng)


def speckle_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative Gaussian noise: ``x + x·N(0, σ)``."""
    return image + image * rng.normal(0.0, sigma, size=image.shape)


def gaussian_blur(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur of σ pixels per channel (scikit-image ``gaussian``, its defaults otherwise)."""
    from skimage.filters import gaussian

    return gaussian(image, sigma=sigma, channel_axis=-1)


def _clipped_zoom(image: np.ndarray, factor: float) -> np.ndarray:
    """Zoom the centre of ``image`` by ``factor`` (bilinear, ``scipy.ndimage.zoom``) and crop to its size."""
    from scipy.ndimage import zoom

    height, width = image.shape[:2]
    crop_h, crop_w = int(np.ceil(height / factor)), int(np.ceil(width / factor))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    zoomed = zoom(image[top : top + crop_h, left : left + crop_w], (factor, factor, 1), order=1)
    top, left = (zoomed.shape[0] - height) // 2, (zoomed.shape[1] - width) // 2
    return zoomed[top : top + height, left : left + width]


def zoom_factors(stop: float) -> np.ndarray:
    """The original's zoom factors ``np.arange(1, stop, 0.01)``, float end-point quirk included.

    ``stop`` 1.06 → 7 factors 1.00…1.06; 1.11 → 12 factors 1.00…1.11; 1.16 → 16 factors 1.00…1.15.
    """
    return np.arange(1.0, stop, ZOOM_STEP)


def zoom_blur(image: np.ndarray, stop: float, rng: np.random.Generator) -> np.ndarray:
    """Mean of the image and its centre zooms by :func:`zoom_factors` ``(stop)`` (each axis by its own size)."""
    factors = zoom_factors(stop)
    total = image + sum(_clipped_zoom(image, float(f)) for f in factors)
    return total / (len(factors) + 1)


def contrast(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Contrast towards each channel's mean: ``(x − mean)·c + mean``."""
    mean = image.mean(axis=(0, 1), keepdims=True)
    return (image - mean) * factor + mean


def brightness(image: np.ndarray, offset: float, rng: np.random.Generator) -> np.ndarray:
    """Add ``offset`` to the HSV value (clipped to [0, 1])."""
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(np.clip(image, 0.0, 1.0))
    hsv[..., 2] = np.clip(hsv[..., 2] + offset, 0.0, 1.0)
    return hsv2rgb(hsv)


def saturate(image: np.ndarray, scale_offset: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """HSV saturation ``S·a + b`` (clipped to [0, 1])."""
    from skimage.color import hsv2rgb, rgb2hsv

    scale, offset = scale_offset
    hsv = rgb2hsv(np.clip(image, 0.0, 1.0))
    hsv[..., 1] = np.clip(hsv[..., 1] * scale + offset, 0.0, 1.0)
    return hsv2rgb(hsv)


def elastic_transform(image: np.ndarray, constants: tuple[float, float, float], rng: np.random.Generator) -> np.ndarray:
    """Random affine jitter, then a smooth random displacement field (the original's CIFAR version).

    Three control points a third of the tile from its centre move by ``U(−jitter, jitter)`` pixels
    (affine warp, bilinear, mirrored border); then every pixel moves by ``alpha`` × a uniform noise
    field smoothed by a Gaussian of ``sigma`` px (truncated at 3 σ), sampled bilinearly.
    """
    from scipy.ndimage import gaussian_filter, map_coordinates

    alpha, sigma, jitter = constants
    height, width, channels = image.shape
    centre = np.array([width // 2, height // 2], dtype=float)  # (x, y)
    half = min(height, width) // 3
    src = np.array([centre + half, [centre[0] + half, centre[1] - half], centre - half])
    dst = src + rng.uniform(-jitter, jitter, size=src.shape)
    forward = np.vstack([np.linalg.solve(np.c_[src, np.ones(3)], dst).T, [0.0, 0.0, 1.0]])  # src → dst
    inverse = np.linalg.inv(forward)
    y, x = np.mgrid[0:height, 0:width].astype(float)
    sx = inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2]
    sy = inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2]
    warped = np.stack([map_coordinates(image[..., c], [sy, sx], order=1, mode="mirror") for c in range(channels)], axis=-1)
    if alpha == 0:
        return warped
    dx = gaussian_filter(rng.uniform(-1, 1, size=(height, width)), sigma, mode="reflect", truncate=ELASTIC_TRUNCATE) * alpha
    dy = gaussian_filter(rng.uniform(-1, 1, size=(height, width)), sigma, mode="reflect", truncate=ELASTIC_TRUNCATE) * alpha
    return np.stack([map_coordinates(warped[..., c], [y + dy, x + dx], order=1, mode="reflect") for c in range(channels)], axis=-1)


PAPER_TRANSFORMS: dict[str, Callable[[np.ndarray, Any, np.random.Generator], np.ndarray]] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "speckle_noise": speckle_noise,
    "gaussian_blur": gaussian_blur,
    "zoom_blur": zoom_blur,
    "contrast": contrast,
    "brightness": brightness,
    "saturate": saturate,
    "elastic_transform": elastic_transform,
}


# ---- applying corruptions -----------------------------------------------------------------


def _image_seed(seed: int, sample_id: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(sample_id)]).generate_state(1)[0])


def _corrupt_one_package(image_hwc: np.ndarray, corruption: str, severity: int, seed: int) -> np.ndarray:
    """imagenet-c: one HWC uint8 image → HWC float array 0..255 (padding small images to 32 px)."""
    from imagecorruptions import corrupt

    height, width = image_hwc.shape[:2]
    pad_h, pad_w = max(0, MIN_SIDE - height), max(0, MIN_SIDE - width)
    if pad_h or pad_w:
        padding = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
        image_hwc = np.pad(image_hwc, padding, mode="reflect")
    np.random.seed(seed)
    kwargs = {"seed": seed} if corruption in _SEEDED_BY_ARGUMENT else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package's scikit-image calls emit deprecation noise
        out = np.asarray(corrupt(image_hwc, severity=severity, corruption_name=corruption, **kwargs), dtype=np.float32)
    return out[pad_h // 2 : pad_h // 2 + height, pad_w // 2 : pad_w // 2 + width]


def _corrupt_imagenet_c(array: np.ndarray, corruption: str, severity: int, seeds: Sequence[int]) -> np.ndarray:
    quantised = np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8).transpose(0, 2, 3, 1)
    out = np.empty(array.shape, dtype=np.float32)
    state = np.random.get_state()
    try:
        for i, (image, image_seed) in enumerate(zip(quantised, seeds)):
            corrupted = _corrupt_one_package(np.ascontiguousarray(image), corruption, severity, image_seed)
            out[i] = np.clip(corrupted, 0.0, 255.0).transpose(2, 0, 1) / 255.0
    finally:
        np.random.set_state(state)
    return out


def _corrupt_paper(array: np.ndarray, corruption: str, severity: int, seeds: Sequence[int]) -> np.ndarray:
    transform, constant = PAPER_TRANSFORMS[corruption], PAPER_CONSTANTS[corruption][severity - 1]
    out = np.empty(array.shape, dtype=np.float32)
    for i, (image, image_seed) in enumerate(zip(array.astype(np.float64), seeds)):
        corrupted = transform(image.transpose(1, 2, 0), constant, np.random.default_rng(image_seed))
        out[i] = np.clip(corrupted, 0.0, 1.0).transpose(2, 0, 1)
    return out


def corrupt_images(
    images: torch.Tensor | np.ndarray,
    corruption: str,
    severity: int | None = None,
    seed: int = 0,
    *,
    ids: Sequence[int] | None = None,
    preset: str = DEFAULT_PRESET,
) -> torch.Tensor:
    """Apply one corruption of a preset to a batch.

    Args:
        images: ``(N, 3, H, W)`` float in [0, 1] (values outside are clipped).
        corruption: ``identity`` or a name of the preset (:data:`PRESET_NAMES`).
        severity: 1…5; None = the preset's default (paper 1, imagenet-c 3).
        seed: base seed; image ``i`` is corrupted with a seed derived from ``(seed, ids[i])``.
        ids: per-image ids for seeding (default ``0…N−1``).
        preset: ``paper`` (the original's CIFAR-10-C transforms) or ``imagenet-c`` (the package).

    Returns:
        ``(N, 3, H, W)`` float32 tensor in [0, 1]; ``identity`` returns the input as float32.

    Example:
        >>> corrupt_images(torch.rand(2, 3, 64, 64), "contrast", 1, seed=0).shape
        torch.Size([2, 3, 64, 64])
    """
    check_corruption(corruption, preset)
    severity = check_severity(severity, preset)
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim != 4 or array.shape[1] != 3:
        raise InputError(f"corrupt_images: images must be (N, 3, H, W), got {tuple(array.shape)}")
    ids = np.arange(len(array)) if ids is None else np.asarray(ids).reshape(-1)
    if len(ids) != len(array):
        raise InputError(f"corrupt_images: {len(ids)} ids for {len(array)} images")
    if corruption == IDENTITY:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    seeds = [_image_seed(seed, sample_id) for sample_id in ids]
    apply = _corrupt_paper if preset == PAPER else _corrupt_imagenet_c
    return torch.from_numpy(apply(array, corruption, severity, seeds))


class _CorruptedBatches:
    """Batches of a memory-mapped view with a corruption applied (seeded by sample index)."""

    def __init__(self, views, targets, indices, batch_size: int, corruption: str, severity: int, seed: int, preset: str):
        from lens2logit.training.batches import ArrayBatches

        self.inner = ArrayBatches(views, targets, indices, batch_size)
        self.corruption, self.severity, self.seed, self.preset = corruption, severity, seed, preset

    def __iter__(self):
        order = self.inner.indices  # ArrayBatches without generator reads sorted chunks in order
        for start, (x, y) in zip(range(0, len(order), self.inner.batch_size), self.inner):
            ids = order[start : start + len(x)]
            yield corrupt_images(x, self.corruption, self.severity, self.seed, ids=ids, preset=self.preset), y


def evaluate_corruptions(
    model_path: str | os.PathLike,
    views_path: str | os.PathLike,
    targets_path: str | os.PathLike,
    corruptions: Sequence[str] | None = None,
    severity: int | None = None,
    seed: int = 0,
    *,
    preset: str = DEFAULT_PRESET,
    batch_size: int = 64,
    max_samples: int | None = None,
    device: str | torch.device | None = "cpu",
    with_samples: bool = False,
):
    """Score a trained model on its validation indices under each corruption, plus the clean score.

    Args:
        model_path: checkpoint from :func:`lens2logit.training.save_checkpoint`.
        views_path: ``(N, 3, H, W)`` float32 ``.npy`` (normally the view the model was trained on).
        targets_path: matching targets ``.npy``.
        corruptions: names of the preset (``identity`` is always evaluated first); None = the
            preset's default list.
        severity: 1…5; None = the preset's default.
        seed: corruption seed.
        preset: ``paper`` or ``imagenet-c``.
        batch_size: evaluation batch size.
        max_samples: score a seeded random subset of at most this many validation samples
            (the same subset for every corruption); None = all.
        device: option ``training.device``: the model runs there (corruptions are applied on the host).
        with_samples: also return the per-sample records
            (:func:`lens2logit.training.evaluate.batch_records`).

    Returns:
        pandas DataFrame with columns ``corruption, metric, value``; with ``with_samples``
        ``(metrics, samples)``, ``samples`` with columns ``corruption, sample, <record columns>``.
    """

    from lens2logit.training.evaluate import records_frame, score_batches
    from lens2logit.training.batches import check_indices, check_targets, check_view_array, open_array
    from lens2logit.training.checkpoint import load_model
    from lens2logit.training.device import resolve_device
    from lens2logit.training.metrics import CLASSIFICATION_METRICS, SEGMENTATION_METRICS

    options = resolve_corruptions({"preset": preset, "names": None if corruptions is None else list(corruptions), "severity": severity})
    severity = options["severity"]
    names = [IDENTITY] + [c for c in dict.fromkeys(options["names"]) if c != IDENTITY]
    model, ckpt = load_model(model_path, resolve_device(device))
    kind, n_classes = ckpt["kind"], ckpt["n_classes"]
    views = open_array(views_path, "views")
    check_view_array(views, views_path)
    targets = open_array(targets_path, "targets")
    check_targets(targets, views, kind, n_classes, targets_path)
    indices = check_indices(
        ckpt["val_indices"], len(views), f"validation (of {model_path}) for views file {views_path}:"
    )
    if max_samples is not None and len(indices) > max_samples:
        if max_samples < 1:
            raise InputError(f"corruptions max_samples must be at least 1, got {max_samples}")
        keep = np.random.default_rng(seed).choice(len(indices), size=max_samples, replace=False)
        indices = np.sort(np.asarray(indices)[keep])
    metric_names = CLASSIFICATION_METRICS if kind == "classification" else SEGMENTATION_METRICS
    rows: list[dict[str, Any]] = []
    sample_frames = []
    for name in names:
        batches = _CorruptedBatches(views, targets, indices, batch_size, name, severity, seed, preset)
        records: list | None = [] if with_samples else None
        scores = score_batches(model, batches, kind=kind, n_classes=n_classes, records=records)
        rows.extend({"corruption": name, "metric": metric, "value": scores[metric]} for metric in metric_names)
        if with_samples:
            frame = records_frame(records, indices, kind)
            frame.insert(0, "corruption", name)
            sample_frames.append(frame)
    metrics = pd.DataFrame(rows, columns=["corruption", "metric", "value"])
    if not with_samples:
        return metrics
    return metrics, pd.concat(sample_frames, ignore_index=True)


# ------------------------------------------------------------------ scoring (the workflow's job)
def score_corruptions(model_paths: Sequence[str], views_path, targets_path, out_path, *, view: str, names: Sequence[str], severity: int | None, seed: int, max_samples: int | None = None, preset: str = "paper", device: str = "cpu", samples_path=None) -> pd.DataFrame:
    """Score each fold's model on its own view under every corruption (plus ``identity``).

    Writes columns ``view, fold, corruption, metric, value``; at ``samples_path`` (None: not written)
    the per-sample records ``view, fold, corruption, sample, <record columns>``. ``device``: option
    ``training.device``.
    """
    frames, sample_frames = [], []
    for fold, model_path in enumerate(model_paths):
        result = evaluate_corruptions(model_path, views_path, targets_path, list(names), severity, seed + fold, preset=preset,
                                      max_samples=max_samples, device=device, with_samples=samples_path is not None)
        frame, samples = result if samples_path is not None else (result, None)
        for table in (frame, samples) if samples is not None else (frame,):
            table.insert(0, "fold", fold)
            table.insert(0, "view", view)
        frames.append(frame)
        sample_frames.append(samples)
    table = pd.concat(frames, ignore_index=True)
    if samples_path is not None:
        write_csv(samples_path, pd.concat(sample_frames, ignore_index=True))
    write_csv(out_path, table)
    return table
