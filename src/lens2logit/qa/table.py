"""The QA workflow stage: predicted beside measured metric for every model and every other test set.

Input: the per-sample records evaluation writes (one CSV per model; ``results/samples/``, columns
``<model columns>, <test column>, sample, confidence`` + ``label, prediction`` or ``iou``). For each
model the SOURCE is its own validation fold on its own view (``test_view == train_view``; for the
corruption test bed ``corruption == identity``), each other test set is a TARGET: only its
``confidence`` column reaches the estimators (:func:`target_confidences`); its labels are read only to
write the *measured* column beside the prediction (:func:`measured_metric`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from lens2logit.errors import InputError
from lens2logit.qa.predict import DEFAULT_LEVEL, DEFAULT_RESAMPLES, METHODS, predict
from lens2logit.qa.records import CONFIDENCE, sample_scores

TABLE_COLUMNS = ("method", "predicted", "predicted_low", "predicted_high", "measured", "abs_error")
SUMMARY_COLUMNS = (
    "test_bed", "method", "n", "mae", "mae_low", "mae_high", "spearman", "spearman_low", "spearman_high",
    "coverage",
)  # fmt: skip
DRIFT_BED = {"model": ("augmentation", "train_view", "fold"), "test": "test_view", "source": "train_view"}
CORRUPTION_BED = {"model": ("view", "fold"), "test": "corruption", "source": "identity"}


def read_samples(paths: Sequence[str]) -> pd.DataFrame:
    """Concatenate per-sample record CSVs (one per model)."""
    if not paths:
        raise InputError("QA: no per-sample record files")
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def target_confidences(target: pd.DataFrame) -> np.ndarray:
    """The only part of a target test set the estimators see: ``(M,)`` confidences."""
    return target[CONFIDENCE].to_numpy(dtype=np.float64)


def measured_metric(target: pd.DataFrame, kind: str) -> float:
    """The target's true metric (mean score), for the *measured* column only."""
    return float(sample_scores(target, kind).mean())


def _source_rows(model: pd.DataFrame, bed: dict) -> pd.DataFrame:
    """Rows of the model's source: its test column equals the named column (drift: ``train_view``) or value."""
    test, source = bed["test"], bed["source"]
    marker = model[source] if source in model.columns else source
    return model[model[test] == marker]


def qa_table(
    samples: pd.DataFrame,
    kind: str,
    bed: dict = DRIFT_BED,
    *,
    methods: Sequence[str] = METHODS,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (model, other test set, method): prediction with interval, measured, abs error.

    Args:
        samples: per-sample records of every model on every test set.
        kind: ``classification`` (metric accuracy) or ``segmentation`` (metric ``iou_image``).
        bed: :data:`DRIFT_BED` (models × other views) or :data:`CORRUPTION_BED` (models × corruptions):
            the model columns, the test-set column and what marks the source.
        methods, level, n_resamples, seed: see :func:`lens2logit.qa.predict.predict`.

    Returns:
        DataFrame ``<model columns>, <test column>, method, predicted, predicted_low, predicted_high,
        measured, abs_error``.
    """
    keys, test = list(bed["model"]), bed["test"]
    missing = [c for c in [*keys, test, CONFIDENCE] if c not in samples.columns]
    if missing:
        raise InputError(f"QA: per-sample records lack columns {missing}")
    rows = []
    for model_key, model in samples.groupby(keys, sort=True):
        source = _source_rows(model, bed)
        if source.empty:
            raise InputError(f"QA: model {dict(zip(keys, model_key))} has no records on its own source")
        source_conf, source_score = source[CONFIDENCE].to_numpy(np.float64), sample_scores(source, kind)
        for name, target in model.drop(source.index).groupby(test, sort=True):
            measured = measured_metric(target, kind)
            target_conf = target_confidences(target)
            for method in methods:
                p = predict(method, source_conf, source_score, target_conf, level=level, n_resamples=n_resamples, seed=seed)
                rows.append({**dict(zip(keys, model_key)), test: name, "method": method, "predicted": p["predicted"],
                             "predicted_low": p["low"], "predicted_high": p["high"], "measured": measured,
                             "abs_error": abs(p["predicted"] - measured)})  # fmt: skip
    return pd.DataFrame(rows, columns=[*keys, test, *TABLE_COLUMNS])


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when either side is constant."""
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def qa_summary(
    table: pd.DataFrame, test_bed: str, *, level: float = DEFAULT_LEVEL, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> pd.DataFrame:
    """Per method over the table's rows: MAE and Spearman (predicted vs measured) with bootstrap
    intervals over rows, and the coverage (fraction of rows whose measured value lies in the interval).

    Returns:
        DataFrame with :data:`SUMMARY_COLUMNS`, one row per method.
    """
    alpha = (1 - level) / 2
    out = []
    for method, rows in table.groupby("method", sort=False):
        predicted, measured = rows["predicted"].to_numpy(), rows["measured"].to_numpy()
        errors = np.abs(predicted - measured)
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(rows), size=(n_resamples, len(rows)))
        maes = errors[draws].mean(axis=1)
        rhos = np.array([spearman(predicted[d], measured[d]) for d in draws])
        rhos = rhos[np.isfinite(rhos)]
        inside = (rows["predicted_low"] <= rows["measured"]) & (rows["measured"] <= rows["predicted_high"])
        out.append({
            "test_bed": test_bed, "method": method, "n": len(rows), "mae": float(errors.mean()),
            "mae_low": float(np.quantile(maes, alpha)), "mae_high": float(np.quantile(maes, 1 - alpha)),
            "spearman": spearman(predicted, measured),
            "spearman_low": float(np.quantile(rhos, alpha)) if rhos.size else float("nan"),
            "spearman_high": float(np.quantile(rhos, 1 - alpha)) if rhos.size else float("nan"),
            "coverage": float(inside.mean()),
        })  # fmt: skip
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))
