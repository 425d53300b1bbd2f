"""Task metrics: classification from a confusion matrix, segmentation IoU, and the one
accumulator (:class:`MetricAccumulator`) that training, evaluation, corruption scoring and
forensics use to gather them over batches.

Fixes two bugs of the original evaluation (reference-spec §5.3, §6 item 15): precision divides the
diagonal by *column* sums (predicted counts) and recall by *row* sums (true counts); segmentation
IoU is reported both per image (mean over images, as the paper) and accumulated over the data set.

Conventions
-----------
* Confusion matrix ``cm[t, p]`` counts samples of true class ``t`` predicted as ``p``
  (rows = true, columns = predicted).
* Macro averages run over the classes that occur in the truth *or* in the predictions
  (``row + column > 0``). A class absent from both carries no information and is left out;
  a class that occurs on one side only scores 0 for the undefined ratio (precision 0 if never
  predicted, recall 0 if never true), so spurious predictions and missed classes both cost.
  F1 per class is ``2PR / (P + R)`` with ``0/0 = 0``; macro F1 is the mean of per-class F1
  (not the F1 of macro P and R).
* Segmentation: a pixel is foreground when ``sigmoid(logit) > 0.5`` (equivalently ``logit > 0``).
  An image whose prediction and mask are both empty has IoU 1 (a perfect answer); the data-set
  IoU with an empty total union is likewise 1.
"""

from __future__ import annotations

from typing import Any

import torch

from lens2logit.data.dataset import KINDS
from lens2logit.errors import InputError

SEGMENTATION_THRESHOLD = 0.5
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1")
SEGMENTATION_METRICS = ("iou_image", "iou_dataset")
# What the ISP experiments (forensics, customization) report per kind; the first is their figures' metric.
KIND_METRICS = {"classification": ("accuracy", "f1"), "segmentation": ("iou_dataset", "iou_image")}


def confusion_matrix(targets: torch.Tensor, predictions: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Count (true, predicted) pairs.

    Args:
        targets: ``(N,)`` integer class indices in ``[0, n_classes)``.
        predictions: ``(N,)`` integer class indices in ``[0, n_classes)``.
        n_classes: number of classes ``C``.

    Returns:
        ``(C, C)`` int64 tensor, rows = true class, columns = predicted class.

    Example:
        >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), 2).tolist()
        [[1, 0], [1, 1]]
    """
    targets = torch.as_tensor(targets).reshape(-1).long()
    predictions = torch.as_tensor(predictions).reshape(-1).long()
    if targets.shape != predictions.shape:
        raise InputError(f"targets {tuple(targets.shape)} and predictions {tuple(predictions.shape)} differ in length")
    if n_classes < 1:
        raise InputError(f"n_classes must be >= 1, got {n_classes}")
    for name, values in (("targets", targets), ("predictions", predictions)):
        if values.numel() and (values.min() < 0 or values.max() >= n_classes):
            raise InputError(f"{name} must lie in [0, {n_classes}), got range [{values.min()}, {values.max()}]")
    return _count_pairs(targets, predictions, n_classes)


def _count_pairs(targets: torch.Tensor, predictions: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``(C, C)`` counts of ``(N,)`` (true, predicted) pairs, without range checks (no device sync)."""
    flat = targets.reshape(-1).long() * n_classes + predictions.reshape(-1).long()
    return torch.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _safe_ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """Elementwise ``numerator / denominator`` with ``x / 0 = 0``."""
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1e-300), torch.zeros_like(numerator))


def per_class_scores(cm: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-class precision, recall and F1 from a confusion matrix.

    Args:
        cm: ``(C, C)`` confusion matrix (rows true, columns predicted).

    Returns:
        dict with ``precision``, ``recall``, ``f1`` (each ``(C,)`` float64) and ``present``
        (``(C,)`` bool: the class occurs in the truth or the predictions).
    """
    cm = torch.as_tensor(cm).double()
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise InputError(f"confusion matrix must be square (C, C), got {tuple(cm.shape)}")
    true_positive = cm.diagonal()
    predicted = cm.sum(dim=0)  # column sums
    actual = cm.sum(dim=1)  # row sums
    precision = _safe_ratio(true_positive, predicted)
    recall = _safe_ratio(true_positive, actual)
    f1 = _safe_ratio(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "present": (predicted + actual) > 0}


def classification_scores(cm: torch.Tensor) -> dict[str, float]:
    """Accuracy and macro precision / recall / F1 from a confusion matrix.

    Args:
        cm: ``(C, C)`` confusion matrix (rows true, columns predicted).

    Returns:
        ``{"accuracy", "precision", "recall", "f1"}`` as Python floats (see the module
        docstring for 0/0 handling and which classes enter the macro average).

    Example:
        >>> s = classification_scores(torch.tensor([[2, 0], [2, 1]]))
        >>> round(s["precision"], 4), round(s["recall"], 4)
        (0.75, 0.6667)
    """
    scores = per_class_scores(cm)
    cm = torch.as_tensor(cm).double()
    total = cm.sum()
    accuracy = float(cm.diagonal().sum() / total) if total > 0 else 0.0
    present = scores["present"]
    if not bool(present.any()):
        return {"accuracy": accuracy, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    return {
        "accuracy": accuracy,
        "precision": float(scores["precision"][present].mean()),
        "recall": float(scores["recall"][present].mean()),
        "f1": float(scores["f1"][present].mean()),
    }


def binarize_logits(logits: torch.Tensor) -> torch.Tensor:
    """Foreground mask ``sigmoid(logits) > 0.5``, any shape → bool of the same shape."""
    return torch.sigmoid(logits) > SEGMENTATION_THRESHOLD


def segmentation_counts(logits: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image intersection and union pixel counts.

    Args:
        logits: ``(N, 1, H, W)`` or ``(N, H, W)`` raw network outputs.
        masks: ``(N, H, W)`` or ``(N, 1, H, W)`` ground truth, foreground where ``> 0.5``.

    Returns:
        ``(intersection, union)``, each ``(N,)`` int64.
    """
    if logits.ndim == 4:
        logits = logits[:, 0] if logits.shape[1] == 1 else logits
    if masks.ndim == 4:
        masks = masks[:, 0] if masks.shape[1] == 1 else masks
    if logits.ndim != 3 or logits.shape != masks.shape:
        raise InputError(
            f"segmentation logits {tuple(logits.shape)} and masks {tuple(masks.shape)} must both be (N, H, W)"
        )
    predicted = binarize_logits(logits.float())
    truth = masks.float() > 0.5
    intersection = (predicted & truth).flatten(1).sum(dim=1)
    union = (predicted | truth).flatten(1).sum(dim=1)
    return intersection, union


def iou_per_image(intersection: torch.Tensor, union: torch.Tensor) -> torch.Tensor:
    """IoU of each image, ``(N,)`` → ``(N,)`` float64; empty prediction and mask → 1."""
    intersection, union = intersection.double(), union.double()
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))


def segmentation_scores(intersection: torch.Tensor, union: torch.Tensor) -> dict[str, float]:
    """Mean per-image IoU and accumulated data-set IoU from per-image counts.

    Args:
        intersection: ``(N,)`` per-image intersection pixel counts.
        union: ``(N,)`` per-image union pixel counts.

    Returns:
        ``{"iou_image": mean over images, "iou_dataset": Σ intersection / Σ union}``.
    """
    if intersection.numel() == 0:
        return {"iou_image": 0.0, "iou_dataset": 0.0}
    total_union = float(union.sum())
    return {
        "iou_image": float(iou_per_image(intersection, union).mean()),
        "iou_dataset": float(intersection.sum()) / total_union if total_union > 0 else 1.0,
    }


class MetricAccumulator:
    """Task metrics (and batch-weighted means such as the loss) accumulated over batches.

    The running counts stay on the batches' device: :meth:`update` never synchronises with an
    accelerator (no ``.item()``/``.numpy()``); :meth:`compute` copies them to the host once.
    Classification keeps a ``(C, C)`` confusion matrix, segmentation the per-image intersection
    and union counts (for both IoUs of :func:`segmentation_scores`). Means are accumulated in
    float64 (float32 on MPS, which has no float64), so on the CPU they equal summing Python floats.

    Args:
        kind: ``"classification"`` or ``"segmentation"``.
        n_classes: classification only; None → taken from the logits of the first batch.

    Example:
        >>> acc = MetricAccumulator("classification", 2)
        >>> acc.update(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]), loss=torch.tensor(0.5))
        >>> acc.compute()["accuracy"], acc.compute()["loss"]
        (0.5, 0.5)
    """

    def __init__(self, kind: str, n_classes: int | None = None):
        if kind not in KINDS:
            raise InputError(f"unknown kind {kind!r} (option 'kind'); expected one of {KINDS}")
        self.kind, self.n_classes = kind, n_classes
        self.count = 0
        self.cm: torch.Tensor | None = None
        self.counts: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.sums: dict[str, torch.Tensor] = {}

    def update(self, logits: torch.Tensor, targets: torch.Tensor, loss: torch.Tensor | None = None, **means: torch.Tensor) -> None:
        """Add one batch.

        Args:
            logits: ``(B, C)`` class logits or ``(B, 1, H, W)`` segmentation logits.
            targets: ``(B,)`` labels (validated beforehand) or ``(B, H, W)`` masks.
            loss: the batch's mean loss (scalar tensor), weighted by ``B`` into the mean ``loss``.
            means: further per-batch mean scalars (e.g. distances), weighted by ``B`` likewise.
        """
        logits = logits.detach()
        batch = logits.shape[0]
        self.count += batch
        if self.kind == "classification":
            if self.n_classes is None:
                self.n_classes = logits.shape[1]
            cm = _count_pairs(targets.to(logits.device), logits.argmax(dim=1), self.n_classes)
            self.cm = cm if self.cm is None else self.cm + cm
        else:
            self.counts.append(segmentation_counts(logits, targets.to(logits.device)))
        if loss is not None:
            means = {"loss": loss, **means}
        for name, value in means.items():
            value = value.detach()
            weighted = value.to(torch.float32 if value.device.type == "mps" else torch.float64) * batch
            self.sums[name] = weighted if name not in self.sums else self.sums[name] + weighted

    def compute(self) -> dict[str, Any]:
        """``{mean name: value, metric: value}`` as Python floats (one host copy per tensor).

        Classification metrics are those of :func:`classification_scores`, segmentation those of
        :func:`segmentation_scores`; with no batch, classification has no metrics unless
        ``n_classes`` was given (then all 0), segmentation gives 0.
        """
        out: dict[str, Any] = {name: float(total.cpu()) / max(self.count, 1) for name, total in self.sums.items()}
        if self.kind == "classification":
            if self.cm is not None:
                out.update(classification_scores(self.cm.cpu()))
            elif self.n_classes is not None:
                out.update(classification_scores(torch.zeros(self.n_classes, self.n_classes, dtype=torch.long)))
        elif self.counts:
            out.update(
                segmentation_scores(torch.cat([c[0] for c in self.counts]).cpu(), torch.cat([c[1] for c in self.counts]).cpu())
            )
        else:
            out.update(segmentation_scores(torch.zeros(0), torch.zeros(0)))
        return out
