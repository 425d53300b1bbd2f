"""How results are summarised, written once: the fold summary, the headline metric, the chance level.

* :func:`fold_summary` — mean, sample standard deviation (ddof 1; NaN for a single fold) and ``n``
  over folds, used by aggregation, forensics and customization tables.
* :data:`HEADLINE_METRIC` / :func:`headline_metric` — the one metric figures, summaries and the paper
  comparison show per kind: accuracy for classification; for segmentation the mean per-image IoU
  (the paper's metric, default) or the dataset IoU (Σ intersection / Σ union), chosen by the config key
  ``report.segmentation_headline``.
* :func:`chance_level` — the score of the best *input-independent* prediction, the floor of the
  headroom ``clean − chance`` a drop can use up: the majority-class rate for accuracy (not
  ``1/n_classes``: the classes are imbalanced, e.g. microscopy's largest class holds 24 %, and a
  constant predictor attains the majority rate, so drops below ``1/n_classes`` are still possible
  but drops below the majority rate mean the model is worse than ignoring the image); for IoU the
  better of an all-foreground and an all-background mask.
* :func:`percentile_interval` — the percentile interval of bootstrap replicates, the one interval
  rule of the findings (:mod:`~lens2logit.drift.bootstrap`), the robust summary and the QA stage.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from lens2logit.errors import InputError
from lens2logit.schema import schema_default

SEGMENTATION_HEADLINES = ("iou_dataset", "iou_image")
DEFAULT_SEGMENTATION_HEADLINE = schema_default("report.segmentation_headline")  # the paper's metric, iou_image
# The metric that figures and summaries show per kind (segmentation: the default choice).
HEADLINE_METRIC = {"classification": "accuracy", "segmentation": DEFAULT_SEGMENTATION_HEADLINE}
SUMMARY_COLUMNS = ("mean", "std", "n")
INTERVAL_LEVEL = 0.90  # every bootstrap interval of the study: 5th to 95th percentile


def headline_metric(kind: str, segmentation_headline: str = DEFAULT_SEGMENTATION_HEADLINE) -> str:
    """The headline metric of a kind (``classification`` | ``segmentation``).

    Example:
        >>> headline_metric("segmentation", "iou_image")
        'iou_image'
    """
    if segmentation_headline not in SEGMENTATION_HEADLINES:
        raise InputError(
            f"unknown segmentation headline {segmentation_headline!r} (option report.segmentation_headline); "
            f"expected one of {', '.join(SEGMENTATION_HEADLINES)}"
        )
    if kind not in HEADLINE_METRIC:
        raise InputError(f"unknown kind {kind!r}; expected one of {', '.join(HEADLINE_METRIC)}")
    return segmentation_headline if kind == "segmentation" else HEADLINE_METRIC[kind]


def fold_summary(frame: pd.DataFrame, by: Sequence[str], value: str = "value") -> pd.DataFrame:
    """Mean, sample std (ddof 1; NaN for one fold) and count of ``value`` per group of ``by``.

    Args:
        frame: long table, one row per fold (and whatever ``by`` distinguishes).
        by: grouping columns; groups keep their order of first appearance; NaN keys are kept;
            NaN values are skipped (``n`` counts the others).

    Returns:
        columns ``*by, mean, std, n``.
    """
    grouped = frame.groupby(list(by), sort=False, dropna=False)[value]
    return grouped.agg(mean="mean", std="std", n="count").reset_index()  # pandas std: ddof 1, NaN for one value


def chance_level(targets: np.ndarray, metric: str) -> float:
    """Score of the best input-independent prediction on ``targets``.

    Args:
        targets: ``(N,)`` integer labels (``accuracy``) or ``(N, H, W)`` binary masks (``iou_*``).
        metric: ``accuracy``, ``iou_dataset`` or ``iou_image``.

    Returns:
        accuracy: the majority-class rate. IoU: the larger of the all-foreground prediction's IoU
        (dataset: foreground pixels / all pixels; per image: mean of each image's foreground
        fraction) and the all-background prediction's (dataset: 0 unless there is no foreground;
        per image: the share of empty masks, whose IoU is 1 by convention).
    """
    targets = np.asarray(targets)
    if len(targets) == 0:
        raise InputError("chance_level: no targets")
    if metric == "accuracy":
        return float(np.bincount(targets.reshape(-1).astype(np.int64)).max() / targets.size)
    if metric not in SEGMENTATION_HEADLINES:
        raise InputError(f"chance_level: no chance level defined for metric {metric!r}")
    fg = (targets.reshape(len(targets), -1) > 0.5).mean(axis=1, dtype=np.float64)
    if metric == "iou_dataset":
        total = float(fg.mean())
        return max(total, 0.0 if total > 0 else 1.0)
    return float(max(fg.mean(), np.mean(fg == 0)))


def percentile_interval(values: np.ndarray, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates ``(B,)``: order statistics (``inverted_cdf``, so ±inf
    replicates are kept as such), NaN replicates skipped (all NaN: ``(nan, nan)``).

    Example:
        >>> percentile_interval(np.arange(101.0))
        (5.0, 95.0)
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail], method="inverted_cdf")
    return float(low), float(high)
