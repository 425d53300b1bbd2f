"""One drift-synthesis training job: a task model trained on one rendered view and one fold.

:func:`train_on_view` memory-maps a rendered view ``(N, 3, H, W)``, trains on one fold with
:func:`lens2logit.training.fit` on the configured device and returns a checkpoint dict
(:func:`lens2logit.training.save_checkpoint` writes it, :func:`lens2logit.training.load_model`
reads it back). Where its images come from is a :class:`TrainingViews`: one view here; the
drift-robust regime (:mod:`lens2logit.robust.train`) passes its own mix of views.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch

from lens2logit.errors import InputError
from lens2logit.training.splits import fold_seed, get_fold
from lens2logit.models import build_model, standardized
from lens2logit.training.records import calibration_record
from lens2logit.training.batches import ArrayBatches, channel_statistics, check_indices, check_targets, check_view_array, open_array
from lens2logit.training.device import pin_memory
from lens2logit.training.loop import check_fit_options, check_schedule, fit


class TrainingViews:
    """The images of one training job: here one rendered view ``(N, 3, H, W)`` (the drift study).

    :func:`train_on_view` calls :meth:`open` after its option checks, then takes the standardisation
    :meth:`statistics` of the training split, the :meth:`batches` and the view entries of the checkpoint
    (:meth:`config`, :meth:`checkpoint_entries`) from it. The robust regime's subclass
    (:class:`lens2logit.robust.train.ViewMix`) reads every sample through a view drawn at random.
    """

    def __init__(self, path: str | os.PathLike):
        self.paths = [path]
        self.arrays: list[np.ndarray] = []

    def open(self) -> np.ndarray:
        """Memory-map and check every view file; returns the first ``(N, 3, H, W)`` array."""
        self.arrays = [open_array(path, "views") for path in self.paths]
        for array, path in zip(self.arrays, self.paths):
            check_view_array(array, path)
        return self.arrays[0]

    def statistics(self, indices: np.ndarray) -> tuple[list[float], list[float]]:
        """Per-channel mean/std of the training samples (:func:`channel_statistics`)."""
        return channel_statistics(self.arrays[0], indices)

    def batches(self, targets: np.ndarray, indices: np.ndarray, batch_size: int, *,
                generator: torch.Generator | None = None, pin_memory: bool = False) -> ArrayBatches:
        """Training batches (reshuffled by ``generator``) or, without one, validation batches."""
        return ArrayBatches(self.arrays[0], targets, indices, batch_size, generator=generator, pin_memory=pin_memory)

    def config(self) -> dict[str, Any]:
        """The first entries of the checkpoint's ``config``: where the images were read."""
        return {"views_path": str(self.paths[0])}

    def checkpoint_entries(self, train_batches: ArrayBatches) -> dict[str, Any]:
        """Checkpoint keys of this way of reading the images (none for one view)."""
        return {}


def task_classes(kind: str, classes: Sequence[str] | None, targets: np.ndarray) -> list[str]:
    """The class names of a training job: as given, or (classification) ``"0"…`` up to the largest
    label, (segmentation) ``["foreground"]``."""
    if kind == "classification":
        return list(classes) if classes is not None else [str(i) for i in range(int(np.max(targets)) + 1 if targets.size else 2)]
    return list(classes) if classes else ["foreground"]


def fold_indices(folds_path: str | os.PathLike, fold: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, val)`` sample indices of ``fold``, checked against ``n`` samples; InputError without training samples."""
    split = get_fold(folds_path, fold)
    train_idx = check_indices(split["train"], n, f"fold {fold} train")
    val_idx = check_indices(split["val"], n, f"fold {fold} val")
    if train_idx.size == 0:
        raise InputError(f"fold {fold} of {folds_path} has no training samples")
    return train_idx, val_idx


def train_on_view(
    views_path: str | os.PathLike | TrainingViews,
    targets_path: str | os.PathLike,
    folds_path: str | os.PathLike,
    fold: int,
    *,
    kind: str,
    arch: str,
    epochs: int,
    batch_size: int,
    lr: float,
    augmentation: str,
    seed: int,
    classes: Sequence[str] | None,
    pretrained: str | os.PathLike | None = None,
    device: str | torch.device | None,
    threads: int = 1,
    progress: bool = True,
    bce_weight: float = 0.0,
    amp: str = "none",
    schedule: str = "constant",
) -> dict[str, Any]:
    """Train a task model on one rendered view and one fold.

    Args:
        views_path: ``.npy`` of ``(N, 3, H, W)`` float32 RGB in [0, 1] (memory-mapped), or a
            :class:`TrainingViews` that reads the images (its ``config`` replaces ``views_path`` in the
            checkpoint's ``config``; its ``checkpoint_entries`` are added after ``calibration``).
        targets_path: ``.npy`` of ``(N,)`` int64 labels or ``(N, H, W)`` uint8 masks.
        folds_path: JSON written by :func:`lens2logit.training.splits.save_folds`.
        fold: which fold to train (its ``train`` indices) and validate (its ``val`` indices).
        kind, arch, pretrained: see :func:`lens2logit.models.build_model`.
        epochs, batch_size, lr, augmentation, bce_weight, schedule: see :func:`fit` (``schedule``:
            option ``training.<kind>.schedule``).
        seed: the run's seed; the model's initialisation, shuffling and augmentation draw from
            :func:`~lens2logit.training.splits.fold_seed` of it and ``fold``; same seed → same weights.
        classes: class names (classification: ``n_classes = len(classes)``; None → ``max label + 1``
            with names ``"0"…``); segmentation: names of the foreground (default ``["foreground"]``).
        threads: ``torch.set_num_threads`` for the job (restored afterwards).
        progress: tqdm bars on stderr.
        device, amp: options ``training.device`` (required: the workflow always passes it; tests say
            ``"cpu"``) and ``training.amp`` (see :func:`~lens2logit.training.fit`); the model is
            initialised on the CPU (same seed → same initial weights on every device).
            The keyword defaults of ``pretrained``, ``threads``, ``progress``, ``bce_weight``, ``amp`` and
            ``schedule`` are the plain ones (nothing extra) for callers outside the workflow, which
            passes every option from the filled config.

    Returns:
        checkpoint dict with keys ``state_dict`` (task network, without standardisation), ``arch``,
        ``kind``, ``n_classes``, ``classes``, ``mean``, ``std`` (per-channel statistics of the
        training split, :meth:`TrainingViews.statistics`), ``train_indices``, ``val_indices``, ``fold``, ``history``
        (rows of :func:`fit`), ``calibration`` (the validation fold's per-sample confidences and scores
        for label-free QA, :func:`lens2logit.training.records.calibration_record`; None without a validation
        fold) and ``config`` (all other arguments and the image shape).
    """
    amp, device = check_fit_options(kind, augmentation, amp, device)  # before any data is read
    check_schedule(schedule)
    if not isinstance(threads, int) or threads < 1:
        raise InputError(f"threads must be a positive integer, got {threads!r}")
    images = views_path if isinstance(views_path, TrainingViews) else TrainingViews(views_path)
    views = images.open()
    targets = open_array(targets_path, "targets")
    classes = task_classes(kind, classes, targets)
    n_classes = len(classes) if kind == "classification" else 1
    check_targets(targets, views, kind, n_classes, targets_path)
    train_idx, val_idx = fold_indices(folds_path, fold, len(views))

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model_seed = fold_seed(seed, fold)
        torch.manual_seed(model_seed)
        net = build_model(arch, kind, n_classes, pretrained=pretrained)
        mean, std = images.statistics(train_idx)
        model = standardized(net, mean, std)
        shuffle = torch.Generator().manual_seed(model_seed + 1)
        pin = pin_memory(device)
        train_batches = images.batches(targets, train_idx, batch_size, generator=shuffle, pin_memory=pin)
        val_batches = images.batches(targets, val_idx, batch_size, pin_memory=pin) if val_idx.size else None
        history = fit(
            model, train_batches, val_batches, kind=kind, epochs=epochs, lr=lr, augmentation=augmentation,
            seed=model_seed, progress=progress, bce_weight=bce_weight, device=device, amp=amp, schedule=schedule,
        )  # fmt: skip
        calibration = calibration_record(model, val_batches, kind) if val_batches is not None else None
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "state_dict": {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()},
        "arch": arch,
        "kind": kind,
        "n_classes": n_classes,
        "classes": list(classes),
        "mean": mean,
        "std": std,
        "train_indices": train_idx.tolist(),
        "val_indices": val_idx.tolist(),
        "fold": int(fold),
        "history": history,
        "calibration": calibration,
        **images.checkpoint_entries(train_batches),
        "config": {
            **images.config(),
            "targets_path": str(targets_path),
            "folds_path": str(folds_path),
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "schedule": schedule,
            "augmentation": augmentation,
            "seed": seed,
            "pretrained": None if pretrained is None else str(pretrained),
            "bce_weight": bce_weight,
            "device": device.type,
            "amp": amp,
            "image_shape": list(views.shape[1:]),
        },
    }
