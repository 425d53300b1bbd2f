"""Task losses (reference-spec §4.2).

Cross-entropy for classification; for segmentation the binary soft Dice loss from logits
(smp ``DiceLoss(mode="binary", from_logits=True)`` semantics: one Dice over all pixels of the
batch, 0 when the batch has no foreground), plus ``bce_weight ×`` binary cross-entropy if
``bce_weight > 0`` (default 0 = paper-faithful; BCE gives a signal on empty-mask batches and
speeds up small models).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

DICE_EPS = 1e-7


def dice_loss_from_logits(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Binary soft Dice loss over the whole batch.

    Args:
        logits: ``(B, 1, H, W)`` raw outputs.
        masks: ``(B, H, W)`` or ``(B, 1, H, W)``, foreground ``> 0.5``.

    Returns:
        scalar ``1 − 2Σpy / Σ(p + y)``; 0 if the batch has no foreground pixel.
    """
    probs = torch.sigmoid(logits).reshape(-1)
    truth = (masks.reshape(-1) > 0.5).to(probs.dtype)
    intersection = (probs * truth).sum()
    cardinality = (probs + truth).sum()
    loss = 1.0 - 2.0 * intersection / cardinality.clamp(min=DICE_EPS)
    return loss * (truth.sum() > 0).to(loss.dtype)


def task_loss(logits: torch.Tensor, targets: torch.Tensor, kind: str, bce_weight: float = 0.0) -> torch.Tensor:
    """Cross-entropy ``(B, C) × (B,)`` or Dice (+ BCE) ``(B, 1, H, W) × (B, H, W)`` → scalar."""
    if kind == "classification":
        return F.cross_entropy(logits, targets.long())
    loss = dice_loss_from_logits(logits, targets)
    if bce_weight > 0:
        truth = (targets.reshape(logits.shape) > 0.5).to(logits.dtype)
        loss = loss + bce_weight * F.binary_cross_entropy_with_logits(logits, truth)
    return loss
