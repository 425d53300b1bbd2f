"""Label-free estimators of a model's metric on a target domain, calibrated on labelled source data.

Every estimator takes the SOURCE confidences and scores (the model's own validation fold on its own
view: labels known) and the TARGET confidences only — no target label reaches them, by signature.

A *score* is the per-sample quantity whose mean is the metric: classification 1 if the prediction is
right, else 0 (mean = accuracy); segmentation the image's IoU (mean = ``iou_image``). A *confidence*
is the per-sample max softmax probability (classification) or the image's mean pixel confidence
``max(p, 1 − p)`` of the foreground probability ``p`` (segmentation).

- ATC (Average Thresholded Confidence; Garg et al., ICLR 2022): the threshold ``t`` is fitted on the
  source so that the fraction of source samples with confidence ``> t`` equals the source metric;
  the target metric is predicted as the fraction of target samples with confidence ``> t``.
- DoC (Difference of Confidences; Guillory et al., ICCV 2021): source metric − (mean source confidence −
  mean target confidence).
- no_drop: the source metric itself (the trivial baseline: the model keeps its validation score).

Intervals: percentile bootstrap (:func:`lens2logit.statistics.percentile_interval`), resampling the source (confidence, score) pairs and the target
confidences independently (both are finite samples).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from lens2logit.errors import InputError
from lens2logit.statistics import INTERVAL_LEVEL as DEFAULT_LEVEL
from lens2logit.statistics import percentile_interval
DEFAULT_RESAMPLES = 1000


def _as_vector(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise InputError(f"{name}: expected a non-empty 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name}: contains NaN or infinite values")
    return array


def _check_source(source_confidence, source_score) -> tuple[np.ndarray, np.ndarray]:
    confidence = _as_vector(source_confidence, "source confidences")
    score = _as_vector(source_score, "source scores")
    if confidence.shape != score.shape:
        raise InputError(f"{confidence.size} source confidences for {score.size} source scores")
    return confidence, score


def atc_threshold(source_confidence, source_score) -> float:
    """The ATC threshold ``t``: fraction of source confidences ``> t`` = mean source score (to 1/N).

    Args:
        source_confidence, source_score: ``(N,)`` each.

    Returns:
        ``t`` midway between the two source confidences that bracket the ``m = round(N · mean score)``
        largest ones (``−inf`` when ``m = N``, ``+inf`` when ``m = 0``).
    """
    confidence, score = _check_source(source_confidence, source_score)
    return float(_thresholds(confidence[None], score[None])[0])


def _thresholds(confidence: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Vectorised :func:`atc_threshold` over rows: ``(R, N), (R, N) → (R,)``."""
    n = confidence.shape[1]
    above = np.rint(score.mean(axis=1) * n).astype(np.int64)  # m samples must lie above t
    ordered = np.sort(confidence, axis=1)
    padded = np.concatenate([np.full((len(ordered), 1), -np.inf), ordered, np.full((len(ordered), 1), np.inf)], axis=1)
    rows = np.arange(len(ordered))
    low, high = padded[rows, n - above], padded[rows, n - above + 1]  # largest below, smallest above
    return np.where(above == n, -np.inf, np.where(above == 0, np.inf, (low + high) / 2))


def _atc(source_confidence: np.ndarray, source_score: np.ndarray, target_confidence: np.ndarray) -> np.ndarray:
    t = _thresholds(source_confidence, source_score)
    return (target_confidence > t[:, None]).mean(axis=1)


def _doc(source_confidence: np.ndarray, source_score: np.ndarray, target_confidence: np.ndarray) -> np.ndarray:
    return source_score.mean(axis=1) - (source_confidence.mean(axis=1) - target_confidence.mean(axis=1))


def _no_drop(source_confidence: np.ndarray, source_score: np.ndarray, target_confidence: np.ndarray) -> np.ndarray:
    return source_score.mean(axis=1)


# name → estimator on rows of resamples: (R, N), (R, N), (R, M) → (R,)
_ESTIMATORS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "atc": _atc,
    "doc": _doc,
    "no_drop": _no_drop,
}
METHODS = tuple(_ESTIMATORS)


def _estimate(method: str, source_confidence, source_score, target_confidence) -> float:
    confidence, score = _check_source(source_confidence, source_score)
    target = _as_vector(target_confidence, "target confidences")
    return float(_estimator(method)(confidence[None], score[None], target[None])[0])


def _estimator(method: str):
    if method not in _ESTIMATORS:
        raise InputError(f"unknown QA method {method!r}; expected one of {', '.join(METHODS)}")
    return _ESTIMATORS[method]


def atc_predict(source_confidence, source_score, target_confidence) -> float:
    """ATC prediction of the target metric (see the module docstring); inputs ``(N,), (N,), (M,)``."""
    return _estimate("atc", source_confidence, source_score, target_confidence)


def doc_predict(source_confidence, source_score, target_confidence) -> float:
    """DoC prediction of the target metric (see the module docstring); inputs ``(N,), (N,), (M,)``."""
    return _estimate("doc", source_confidence, source_score, target_confidence)


def no_drop_predict(source_confidence, source_score, target_confidence) -> float:
    """The "no drop" baseline: the source metric (target confidences unused)."""
    return _estimate("no_drop", source_confidence, source_score, target_confidence)


def predict(
    method: str,
    source_confidence,
    source_score,
    target_confidence,
    *,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, float]:
    """One method's prediction of the target metric with a percentile-bootstrap interval.

    Args:
        method: one of :data:`METHODS`.
        source_confidence, source_score: ``(N,)`` labelled source samples (validation fold).
        target_confidence: ``(M,)`` unlabelled target samples.
        level: interval coverage (0.9 = 5th to 95th percentile).
        n_resamples: bootstrap resamples (source and target resampled independently).
        seed: resampling seed (same seed → same interval).

    Returns:
        ``{"predicted", "low", "high"}``.
    """
    if not 0 < level < 1:
        raise InputError(f"level must lie in (0, 1), got {level!r}")
    if not isinstance(n_resamples, int) or n_resamples < 1:
        raise InputError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    estimator = _estimator(method)
    confidence, score = _check_source(source_confidence, source_score)
    target = _as_vector(target_confidence, "target confidences")
    predicted = float(estimator(confidence[None], score[None], target[None])[0])
    rng = np.random.default_rng(seed)
    source_rows = rng.integers(0, confidence.size, size=(n_resamples, confidence.size))
    target_rows = rng.integers(0, target.size, size=(n_resamples, target.size))
    resampled = estimator(confidence[source_rows], score[source_rows], target[target_rows])
    low, high = percentile_interval(resampled, level)
    return {"predicted": predicted, "low": low, "high": high}
