"""Common-corruption benchmark (ImageNet-C) for comparison with physically faithful ISP drift.

The original applied CIFAR-10-C constants to 256-px images (reference-spec §5.5, §6 item 24); here
the 15 ImageNet-C corruptions of the ``imagecorruptions`` module (package ``imagecorruptions-imaug``)
are used at a configurable severity (default 3) on the processed [0, 1] RGB, before standardisation.

Notes on the package:

* it takes HWC uint8 images and returns 0..255 arrays; images are quantised with
  ``round(255·x)`` and returned as ``float32 / 255``;
* it refuses images smaller than 32×32: such images are reflect-padded to 32 (numpy ``reflect``,
  centred) and cropped back after corruption. 64×64 tiles (the embedded default), non-square
  tiles and 256/300-px tiles work as they are (checked for all 15 corruptions);
* randomness: most corruptions draw from numpy's global RNG, ``impulse_noise`` and ``glass_blur``
  take an explicit ``seed``. Each image gets its own seed derived from ``(seed, id)`` (``id`` = its
  sample index), so a sample is corrupted identically however the batch is chunked; the caller's
  global numpy RNG state is restored afterwards.
* ``glass_blur`` is numba-compiled: its first call in a process costs ~2 s of JIT.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import numpy as np
import torch

from lens2logit.errors import InputError
from lens2logit.experiments.evaluate import score_batches
from lens2logit.training.batches import ArrayBatches, check_indices, check_targets, check_view_array, open_array
from lens2logit.training.checkpoint import load_model
from lens2logit.training.device import resolve_device
from lens2logit.training.metrics import CLASSIFICATION_METRICS, SEGMENTATION_METRICS

CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
    "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
    "jpeg_compression",
)  # fmt: skip
IDENTITY = "identity"
DEFAULT_SEVERITY = 3
SEVERITIES = (1, 2, 3, 4, 5)
MIN_SIDE = 32  # smallest side the package accepts
_SEEDED_BY_ARGUMENT = ("impulse_noise", "glass_blur")


def check_corruption(name: str) -> str:
    """Return ``name`` if it is ``identity`` or one of :data:`CORRUPTIONS`, else InputError naming it."""
    if name != IDENTITY and name not in CORRUPTIONS:
        raise InputError(
            f"unknown corruption {name!r} (option 'corruptions'); expected {IDENTITY!r} or one of {CORRUPTIONS}"
        )
    return name


def _check_severity(severity: int) -> int:
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or int(severity) not in SEVERITIES:
        raise InputError(f"corruption severity must be an integer in 1..5 (option 'severity'), got {severity!r}")
    return int(severity)


def _image_seed(seed: int, sample_id: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(sample_id)]).generate_state(1)[0])


def _corrupt_one(image_hwc: np.ndarray, corruption: str, severity: int, seed: int) -> np.ndarray:
    """One HWC uint8 image → HWC float array 0..255 (padding small images to 32 px)."""
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


def corrupt_images(
    images: torch.Tensor | np.ndarray,
    corruption: str,
    severity: int = DEFAULT_SEVERITY,
    seed: int = 0,
    *,
    ids: Sequence[int] | None = None,
) -> torch.Tensor:
    """Apply one ImageNet-C corruption to a batch.

    Args:
        images: ``(N, 3, H, W)`` float in [0, 1] (values outside are clipped before quantisation).
        corruption: ``identity`` or one of :data:`CORRUPTIONS`.
        severity: 1…5.
        seed: base seed; image ``i`` is corrupted with a seed derived from ``(seed, ids[i])``.
        ids: per-image ids for seeding (default ``0…N−1``).

    Returns:
        ``(N, 3, H, W)`` float32 tensor in [0, 1]; ``identity`` returns the input as float32.

    Example:
        >>> corrupt_images(torch.rand(2, 3, 64, 64), "contrast", 3, seed=0).shape
        torch.Size([2, 3, 64, 64])
    """
    check_corruption(corruption)
    severity = _check_severity(severity)
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim != 4 or array.shape[1] != 3:
        raise InputError(f"corrupt_images: images must be (N, 3, H, W), got {tuple(array.shape)}")
    ids = np.arange(len(array)) if ids is None else np.asarray(ids).reshape(-1)
    if len(ids) != len(array):
        raise InputError(f"corrupt_images: {len(ids)} ids for {len(array)} images")
    if corruption == IDENTITY:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    quantised = np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8).transpose(0, 2, 3, 1)
    out = np.empty(array.shape, dtype=np.float32)
    state = np.random.get_state()
    try:
        for i, (image, sample_id) in enumerate(zip(quantised, ids)):
            corrupted = _corrupt_one(np.ascontiguousarray(image), corruption, severity, _image_seed(seed, sample_id))
            out[i] = np.clip(corrupted, 0.0, 255.0).transpose(2, 0, 1) / 255.0
    finally:
        np.random.set_state(state)
    return torch.from_numpy(out)


class _CorruptedBatches:
    """Batches of a memory-mapped view with a corruption applied (seeded by sample index)."""

    def __init__(
        self,
        views: np.ndarray,
        targets: np.ndarray,
        indices: np.ndarray,
        batch_size: int,
        corruption: str,
        severity: int,
        seed: int,
    ):
        self.inner = ArrayBatches(views, targets, indices, batch_size)
        self.corruption, self.severity, self.seed = corruption, severity, seed

    def __iter__(self):
        order = self.inner.indices  # ArrayBatches without generator reads sorted chunks in order
        for start, (x, y) in zip(range(0, len(order), self.inner.batch_size), self.inner):
            ids = order[start : start + len(x)]
            yield corrupt_images(x, self.corruption, self.severity, self.seed, ids=ids), y


def evaluate_corruptions(
    model_path: str | os.PathLike,
    views_path: str | os.PathLike,
    targets_path: str | os.PathLike,
    corruptions: Sequence[str] = CORRUPTIONS,
    severity: int = DEFAULT_SEVERITY,
    seed: int = 0,
    *,
    batch_size: int = 64,
    max_samples: int | None = None,
    device: str | torch.device | None = "cpu",
):
    """Score a trained model on its validation indices under each corruption, plus the clean score.

    Args:
        model_path: checkpoint from :func:`lens2logit.training.save_checkpoint`.
        views_path: ``(N, 3, H, W)`` float32 ``.npy`` (normally the view the model was trained on).
        targets_path: matching targets ``.npy``.
        corruptions: names from :data:`CORRUPTIONS` (``identity`` is always evaluated first).
        severity: 1…5 (default 3).
        seed: corruption seed.
        batch_size: evaluation batch size.
        max_samples: score a seeded random subset of at most this many validation samples
            (the same subset for every corruption); None = all.
        device: option ``training.device``: the model runs there (corruptions are applied on the host).

    Returns:
        pandas DataFrame with columns ``corruption, metric, value``.
    """
    import pandas as pd

    names = [check_corruption(c) for c in corruptions]
    severity = _check_severity(severity)
    names = [IDENTITY] + [c for c in dict.fromkeys(names) if c != IDENTITY]
    model, ckpt = load_model(model_path, resolve_device(device))
    task, n_classes = ckpt["task"], ckpt["n_classes"]
    views = open_array(views_path, "views")
    check_view_array(views, views_path)
    targets = open_array(targets_path, "targets")
    check_targets(targets, views, task, n_classes, targets_path)
    indices = check_indices(
        ckpt["val_indices"], len(views), f"validation (of {model_path}) for views file {views_path}:"
    )
    if max_samples is not None and len(indices) > max_samples:
        if max_samples < 1:
            raise InputError(f"corruptions max_samples must be at least 1, got {max_samples}")
        keep = np.random.default_rng(seed).choice(len(indices), size=max_samples, replace=False)
        indices = np.sort(np.asarray(indices)[keep])
    metric_names = CLASSIFICATION_METRICS if task == "classification" else SEGMENTATION_METRICS
    rows: list[dict[str, Any]] = []
    for name in names:
        batches = _CorruptedBatches(views, targets, indices, batch_size, name, severity, seed)
        scores = score_batches(model, batches, task=task, n_classes=n_classes)
        rows.extend({"corruption": name, "metric": metric, "value": scores[metric]} for metric in metric_names)
    return pd.DataFrame(rows, columns=["corruption", "metric", "value"])
