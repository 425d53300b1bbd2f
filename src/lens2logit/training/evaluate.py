"""Cross-evaluation of trained task models on other views (the 12×12 drift matrix, reference-spec §5).

A model is evaluated on ITS OWN validation indices (stored in its checkpoint) of any number of
test sets — e.g. the same samples rendered by the other 11 ISP views, or at other intensities.
Metrics (:mod:`lens2logit.training.metrics`): classification ``accuracy, precision, recall, f1`` (macro,
precision/recall NOT swapped); segmentation ``iou_image, iou_dataset``.

Per-sample records (:func:`batch_records`, written next to the metrics by the workflow) keep what
the bootstrap of :mod:`lens2logit.drift.bootstrap` and a label-free drop predictor need, one row per
scored image: classification ``label, prediction, confidence`` (max softmax); segmentation
``intersection, union, iou, confidence`` (pixel counts, the image's IoU and its mean pixel confidence
``max(p, 1 − p)`` of the foreground probability ``p``). The metrics follow from them exactly:
accuracy = mean(label == prediction), ``iou_image`` = mean(iou), ``iou_dataset`` = Σ intersection / Σ union.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

import numpy as np
import torch
from torch import nn

from lens2logit.errors import InputError
from lens2logit.training.records import confidences
from lens2logit.training.batches import ArrayBatches, check_indices, check_targets, check_view_array, open_array
from lens2logit.training.checkpoint import load_model
from lens2logit.training.device import pin_memory, resolve_device, to_device
from lens2logit.training.metrics import (
    CLASSIFICATION_METRICS,
    SEGMENTATION_METRICS,
    MetricAccumulator,
    iou_per_image,
    segmentation_counts,
)

RESERVED_COLUMNS = ("metric", "value")
SAMPLE_ID = "sample"  # the image's index in its dataset
CLASSIFICATION_SAMPLE_COLUMNS = ("label", "prediction", "confidence")
SEGMENTATION_SAMPLE_COLUMNS = ("intersection", "union", "iou", "confidence")


def sample_columns(kind: str) -> tuple[str, ...]:
    """The per-sample record columns of a kind (after ``sample``)."""
    return CLASSIFICATION_SAMPLE_COLUMNS if kind == "classification" else SEGMENTATION_SAMPLE_COLUMNS


def batch_records(logits: torch.Tensor, targets: torch.Tensor, kind: str) -> dict[str, torch.Tensor]:
    """Per-sample records of one batch (on the logits' device).

    Args:
        logits: ``(B, C)`` class logits or ``(B, 1, H, W)`` segmentation logits.
        targets: ``(B,)`` labels or ``(B, H, W)`` masks.

    Returns:
        ``{column: (B,) tensor}`` with the columns of :func:`sample_columns`.
    """
    logits = logits.detach().float()
    confidence = confidences(logits, kind)  # the QA stage's definition (max softmax; mean pixel max(p, 1 − p))
    if kind == "classification":
        prediction = logits.argmax(dim=1)  # as the metrics: argmax of the logits (softmax can round to ties)
        return {"label": targets.reshape(-1).long(), "prediction": prediction, "confidence": confidence}
    intersection, union = segmentation_counts(logits, targets)
    return {"intersection": intersection, "union": union, "iou": iou_per_image(intersection, union), "confidence": confidence}


def score_batches(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], *, kind: str, n_classes: int,
    records: list | None = None,
) -> dict[str, float]:
    """Run ``model`` (eval mode, no grad) over ``(x, y)`` batches and compute the metrics of its kind.

    Args:
        model: ``(B, 3, H, W) → (B, C)`` or ``(B, 1, H, W)`` logits; batches are copied to the
            device of its parameters (non-blocking) and the metrics accumulated there.
        batches: iterable of ``(x, y)``; ``y`` ``(B,)`` labels or ``(B, H, W)`` masks.
        kind: ``"classification"`` or ``"segmentation"``.
        n_classes: number of classes (classification).
        records: if a list, each batch's :func:`batch_records` is appended to it, in batch order (tensors
            left on the device: no per-batch synchronisation; :func:`records_frame` copies them once).

    Returns:
        ``{metric: value}`` with the names of :data:`CLASSIFICATION_METRICS` or :data:`SEGMENTATION_METRICS`.
    """
    model.eval()
    device = next(model.parameters()).device
    scores = MetricAccumulator(kind, n_classes if kind == "classification" else None)
    with torch.no_grad():
        for x, y in batches:
            logits, y = model(to_device(x, device)), to_device(y, device)
            scores.update(logits, y)
            if records is not None:
                records.append(batch_records(logits, y, kind))
    return scores.compute()


def records_frame(records: list[dict[str, torch.Tensor]], indices: np.ndarray, kind: str):
    """One DataFrame ``sample, <sample_columns(kind)>`` from per-batch records over sorted ``indices``."""
    import pandas as pd

    columns = sample_columns(kind)
    data = {SAMPLE_ID: np.sort(np.asarray(indices, dtype=np.int64))}
    for name in columns:
        data[name] = torch.cat([r[name] for r in records]).cpu().numpy() if records else np.zeros(0)
    if len(data[SAMPLE_ID]) != len(data[columns[0]]):
        raise ValueError(f"{len(data[columns[0]])} per-sample records for {len(data[SAMPLE_ID])} samples")
    return pd.DataFrame(data)


def _check_test_set(test_set: Any, position: int) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(test_set, dict) or "views" not in test_set or "targets" not in test_set:
        raise InputError(f"test set #{position} must be a dict with 'views' and 'targets' paths (+ label columns)")
    labels = {k: v for k, v in test_set.items() if k not in ("views", "targets")}
    clash = [k for k in labels if k in RESERVED_COLUMNS]
    if clash:
        raise InputError(
            f"test set #{position}: label columns {clash} clash with the output columns {RESERVED_COLUMNS}"
        )
    return test_set["views"], test_set["targets"], labels


def evaluate_model(
    model_path: str | os.PathLike,
    test_sets: list[dict[str, Any]],
    *,
    batch_size: int = 64,
    device: str | torch.device | None = "cpu",
    with_samples: bool = False,
):
    """Evaluate one trained model on several test sets, on the model's validation indices.

    Args:
        model_path: checkpoint written by :func:`lens2logit.training.save_checkpoint`.
        test_sets: dicts ``{"views": (N, 3, H, W) float32 .npy, "targets": .npy, **labels}``;
            the labels (e.g. ``test_view="bi,s,me"``, ``test_intensity=1.0``) become columns.
        batch_size: evaluation batch size.
        device: option ``training.device`` (:func:`~lens2logit.training.resolve_device`).
        with_samples: also return the per-sample records.

    Returns:
        pandas DataFrame in long format: the label columns, ``metric``, ``value``; one row per
        (test set, metric), in the order of ``test_sets``. With ``with_samples``: ``(metrics, samples)``,
        ``samples`` with the label columns, ``sample`` and :func:`sample_columns` (one row per test set
        and validation image, sorted by image within a test set).
    """
    import pandas as pd

    if not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    checked = [_check_test_set(t, i) for i, t in enumerate(test_sets)]
    device = resolve_device(device)
    model, ckpt = load_model(model_path, device)
    kind, n_classes = ckpt["kind"], ckpt["n_classes"]
    indices = np.asarray(ckpt["val_indices"], dtype=np.int64)
    metric_names = CLASSIFICATION_METRICS if kind == "classification" else SEGMENTATION_METRICS
    rows: list[dict[str, Any]] = []
    sample_frames = []
    for views_path, targets_path, labels in checked:
        views = open_array(views_path, "views")
        check_view_array(views, views_path)
        targets = open_array(targets_path, "targets")
        check_targets(targets, views, kind, n_classes, targets_path)
        check_indices(indices, len(views), f"validation (of {model_path}) for views file {views_path}:")
        batches = ArrayBatches(views, targets, indices, batch_size, pin_memory=pin_memory(device))
        records: list | None = [] if with_samples else None
        scores = score_batches(model, batches, kind=kind, n_classes=n_classes, records=records)
        rows.extend({**labels, "metric": name, "value": scores[name]} for name in metric_names)
        if with_samples:
            frame = records_frame(records, indices, kind)
            for key, value in reversed(list(labels.items())):
                frame.insert(0, key, value)
            sample_frames.append(frame)
    label_columns = list(dict.fromkeys(k for _, _, labels in checked for k in labels))
    metrics = pd.DataFrame(rows, columns=label_columns + list(RESERVED_COLUMNS))
    if not with_samples:
        return metrics
    return metrics, pd.concat(sample_frames, ignore_index=True)
