"""Per-sample confidences (and, with labels, scores) of a model's outputs, for calibration and QA.

The same definitions as the per-sample records that evaluation writes (``results/samples/``, columns
``confidence`` and ``label``/``prediction`` or ``iou``; :func:`sample_scores` reads them):
classification confidence = max softmax probability, score = 1 if right; segmentation confidence =
the image's mean pixel confidence ``max(p, 1 − p)`` of the foreground probability ``p``, score = the
image's IoU (:func:`lens2logit.training.metrics.iou_per_image`).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch import nn

from lens2logit.errors import InputError
from lens2logit.training.device import to_device
from lens2logit.training.metrics import iou_per_image, segmentation_counts

CONFIDENCE = "confidence"  # column of the per-sample records
KINDS = ("classification", "segmentation")


def confidences(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-sample confidence: ``(B, C)`` class logits or ``(B, 1, H, W)`` mask logits → ``(B,)``."""
    logits = logits.detach().float()
    if kind == "classification":
        return torch.softmax(logits, dim=1).max(dim=1).values
    if kind == "segmentation":
        foreground = torch.sigmoid(logits).flatten(1)
        return torch.maximum(foreground, 1 - foreground).mean(dim=1)
    raise InputError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def scores(logits: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-sample score (needs labels): ``(B,)`` 1.0/0.0 correctness or per-image IoU."""
    logits = logits.detach().float()
    if kind == "classification":
        return (logits.argmax(dim=1) == targets.reshape(-1).long()).float()
    intersection, union = segmentation_counts(logits, targets)
    return iou_per_image(intersection, union).float()


def model_confidences(model: nn.Module, images: Iterable[torch.Tensor], kind: str) -> np.ndarray:
    """Confidences of ``model`` (eval mode, no grad) over batches of ``(B, 3, H, W)`` images → ``(N,)``."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for x in images:
            out.append(confidences(model(to_device(x, device)), kind).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def calibration_record(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], kind: str) -> dict:
    """What a checkpoint stores for label-free QA: its validation fold's confidences and scores.

    Args:
        model: the trained model (eval mode is set, no grad).
        batches: ``(x, y)`` batches of the validation fold on the model's own view.

    Returns:
        ``{"confidence": [N floats], "score": [N floats], "metric": "accuracy" | "iou_image"}``.
    """
    model.eval()
    device = next(model.parameters()).device
    conf, score = [], []
    with torch.no_grad():
        for x, y in batches:
            logits, y = model(to_device(x, device)), to_device(y, device)
            conf.append(confidences(logits, kind).cpu().numpy())
            score.append(scores(logits, y, kind).cpu().numpy())
    return {
        "confidence": [float(v) for v in np.concatenate(conf)] if conf else [],
        "score": [float(v) for v in np.concatenate(score)] if score else [],
        "metric": qa_metric(kind),
    }


def qa_metric(kind: str) -> str:
    """The metric the scores average to: ``accuracy`` or ``iou_image``."""
    return "accuracy" if kind == "classification" else "iou_image"


def sample_scores(samples, kind: str) -> np.ndarray:
    """Scores of per-sample records (a DataFrame with ``label, prediction`` or ``iou``) → ``(N,)``."""
    if kind == "classification":
        return (samples["label"].to_numpy() == samples["prediction"].to_numpy()).astype(np.float64)
    return samples["iou"].to_numpy(dtype=np.float64)
