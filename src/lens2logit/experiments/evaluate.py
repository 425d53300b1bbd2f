"""Cross-evaluation of trained task models on other views (the 12×12 drift matrix, reference-spec §5).

A model is evaluated on ITS OWN validation indices (stored in its checkpoint) of any number of
test sets — e.g. the same samples rendered by the other 11 ISP views, or at other intensities.
Metrics (:mod:`lens2logit.training.metrics`): classification ``accuracy, precision, recall, f1`` (macro,
precision/recall NOT swapped); segmentation ``iou_image, iou_dataset``.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

import numpy as np
import torch
from torch import nn

from lens2logit.errors import InputError
from lens2logit.training.batches import ArrayBatches, check_indices, check_targets, check_view_array, open_array
from lens2logit.training.checkpoint import load_model
from lens2logit.training.device import pin_memory, resolve_device, to_device
from lens2logit.training.metrics import CLASSIFICATION_METRICS, SEGMENTATION_METRICS, MetricAccumulator

RESERVED_COLUMNS = ("metric", "value")


def score_batches(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], *, kind: str, n_classes: int
) -> dict[str, float]:
    """Run ``model`` (eval mode, no grad) over ``(x, y)`` batches and compute the metrics of its kind.

    Args:
        model: ``(B, 3, H, W) → (B, C)`` or ``(B, 1, H, W)`` logits; batches are copied to the
            device of its parameters (non-blocking) and the metrics accumulated there.
        batches: iterable of ``(x, y)``; ``y`` ``(B,)`` labels or ``(B, H, W)`` masks.
        kind: ``"classification"`` or ``"segmentation"``.
        n_classes: number of classes (classification).

    Returns:
        ``{metric: value}`` with the names of :data:`CLASSIFICATION_METRICS` or :data:`SEGMENTATION_METRICS`.
    """
    model.eval()
    device = next(model.parameters()).device
    scores = MetricAccumulator(kind, n_classes if kind == "classification" else None)
    with torch.no_grad():
        for x, y in batches:
            scores.update(model(to_device(x, device)), to_device(y, device))
    return scores.compute()


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
):
    """Evaluate one trained model on several test sets, on the model's validation indices.

    Args:
        model_path: checkpoint written by :func:`lens2logit.training.save_checkpoint`.
        test_sets: dicts ``{"views": (N, 3, H, W) float32 .npy, "targets": .npy, **labels}``;
            the labels (e.g. ``test_view="bi,s,me"``, ``test_intensity=1.0``) become columns.
        batch_size: evaluation batch size.
        device: option ``training.device`` (:func:`~lens2logit.training.resolve_device`).

    Returns:
        pandas DataFrame in long format: the label columns, ``metric``, ``value``; one row per
        (test set, metric), in the order of ``test_sets``.
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
    for views_path, targets_path, labels in checked:
        views = open_array(views_path, "views")
        check_view_array(views, views_path)
        targets = open_array(targets_path, "targets")
        check_targets(targets, views, kind, n_classes, targets_path)
        check_indices(indices, len(views), f"validation (of {model_path}) for views file {views_path}:")
        batches = ArrayBatches(views, targets, indices, batch_size, pin_memory=pin_memory(device))
        scores = score_batches(model, batches, kind=kind, n_classes=n_classes)
        rows.extend({**labels, "metric": name, "value": scores[name]} for name in metric_names)
    label_columns = list(dict.fromkeys(k for _, _, labels in checked for k in labels))
    return pd.DataFrame(rows, columns=label_columns + list(RESERVED_COLUMNS))
