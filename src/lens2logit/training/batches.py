"""Input of training and evaluation: memory-mapped arrays, their checks, batches and statistics.

* :func:`open_array` memory-maps a workflow ``.npy``; :func:`check_view_array`,
  :func:`check_targets`, :func:`check_indices` refuse arrays that do not fit, naming the file.
* :class:`ArrayBatches` yields ``(x, y)`` host tensors straight from the mapped arrays
  (optionally in pinned memory, for asynchronous copies to a CUDA device).
* :func:`channel_statistics` gives the per-channel mean/std that standardise a model's input.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from lens2logit.errors import InputError
from lens2logit.io import open_array  # noqa: F401  (re-exported: the batches' callers open arrays with it)

STD_FLOOR = 1e-6
STATISTICS_CHUNK = 256
# How a rendered view may be stored (option render.dtype): float16 halves the disk of the paper run
# (docs/paper-scale.md); batches are float32 whatever the file holds.
VIEW_DTYPES = {"float32": np.float32, "float16": np.float16}


def check_view_array(views: np.ndarray, path: Any) -> None:
    """A rendered view must be ``(N, 3, H, W)`` float32 or float16 (:data:`VIEW_DTYPES`)."""
    if views.ndim != 4 or views.shape[1] != 3 or views.dtype not in VIEW_DTYPES.values():
        raise InputError(
            f"views file {path} must hold (N, 3, H, W) {' or '.join(VIEW_DTYPES)}, got {views.dtype} {views.shape}"
        )


def check_targets(targets: np.ndarray, views: np.ndarray, kind: str, n_classes: int, path: Any) -> None:
    """Targets must be ``(N,)`` integer labels in range or ``(N, H, W)`` masks matching the views."""
    n, _, height, width = views.shape
    if kind == "classification":
        if targets.shape != (n,) or not np.issubdtype(targets.dtype, np.integer):
            raise InputError(
                f"targets file {path} must hold ({n},) integer labels, got {targets.dtype} {targets.shape}"
            )
        if n and (targets.min() < 0 or targets.max() >= n_classes):
            raise InputError(
                f"targets file {path}: labels must lie in [0, {n_classes}), got [{targets.min()}, {targets.max()}]"
            )
    elif targets.shape != (n, height, width):
        raise InputError(
            f"targets file {path} must hold ({n}, {height}, {width}) masks, got {targets.dtype} {targets.shape}"
        )


def check_indices(indices: Sequence[int], n: int, name: str) -> np.ndarray:
    """``(K,)`` int64 indices, InputError naming ``name`` if any falls outside ``[0, n)``."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise InputError(f"{name} indices out of range for {n} samples: [{idx.min()}, {idx.max()}]")
    return idx


class ArrayBatches:
    """Re-iterable batches ``(x, y)`` read straight from (memory-mapped) arrays.

    Each batch fancy-indexes a *sorted* chunk of indices (sequential reads of the mapped file),
    giving ``x`` ``(B, 3, H, W)`` float32 and ``y`` ``(B,)`` int64 or ``(B, H, W)`` uint8 host
    tensors (page-locked with ``pin_memory=True``, so that copies to a CUDA device can be
    asynchronous). With a ``generator`` the index order is reshuffled on every iteration (an
    epoch); without one the indices are read in sorted order. No worker processes: on 2 cores a
    plain loop is faster. A lone last sample joins the previous batch: batch statistics
    (BatchNorm in training mode, the neural ISP) are undefined for a batch of one. A subclass
    reads the images of a chunk from elsewhere by overriding :meth:`_read`
    (:class:`lens2logit.robust.train.ViewMixBatches`).
    """

    def __init__(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        indices: Sequence[int],
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        pin_memory: bool = False,
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.images, self.targets, self.batch_size, self.generator = images, targets, batch_size, generator
        self.indices = check_indices(indices, len(images), "batch")
        if generator is None:
            self.indices = np.sort(self.indices)
        self.transform = transform
        self.pin_memory = pin_memory

    def _starts(self) -> list[int]:
        n = len(self.indices)
        starts = list(range(0, n, self.batch_size))
        if len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()
        return starts + [n]

    def __len__(self) -> int:
        return len(self._starts()) - 1

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        return tensor.pin_memory() if self.pin_memory else tensor

    def _read(self, chunk: np.ndarray) -> np.ndarray:
        """``(B, 3, H, W)`` images of the sorted indices ``chunk`` (one read of the mapped file)."""
        return np.ascontiguousarray(self.images[chunk])

    def __iter__(self):
        order = self.indices
        if self.generator is not None:
            order = order[torch.randperm(len(order), generator=self.generator).numpy()]
        starts = self._starts()
        for start, stop in zip(starts[:-1], starts[1:]):
            chunk = np.sort(order[start:stop])
            images = self._read(chunk)
            if images.dtype != np.float32:  # a float16 view file: models compute in float32
                images = images.astype(np.float32)
            if self.transform is not None:
                images = self.transform(images)
            yield self._tensor(images), self._tensor(self.targets[chunk])


def channel_statistics(views: np.ndarray, indices: Sequence[int]) -> tuple[list[float], list[float]]:
    """Per-channel mean and std over the given samples, ``(N, C, H, W)`` → two lists of C floats.

    Read in chunks, accumulated in float64; std is floored at 1e-6 so constant channels stay usable.
    """
    idx = np.sort(check_indices(indices, len(views), "statistics"))
    if idx.size == 0:
        raise InputError("cannot compute normalisation statistics from an empty training split")
    channels = views.shape[1]
    total = np.zeros(channels)
    total_sq = np.zeros(channels)
    count = 0
    for start in range(0, idx.size, STATISTICS_CHUNK):
        chunk = np.asarray(views[idx[start : start + STATISTICS_CHUNK]], dtype=np.float64)
        total += chunk.sum(axis=(0, 2, 3))
        total_sq += np.square(chunk).sum(axis=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    return mean.tolist(), np.maximum(std, STD_FLOOR).tolist()
