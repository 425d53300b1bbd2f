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

from lens2logit.data.layout import REFERENCE_INTENSITY
from lens2logit.errors import InputError
from lens2logit.qa.predict import DEFAULT_LEVEL, DEFAULT_RESAMPLES, METHODS, predict
from lens2logit.training.records import CONFIDENCE, sample_scores
from lens2logit.statistics import percentile_interval

TABLE_COLUMNS = ("method", "predicted", "predicted_low", "predicted_high", "measured", "abs_error")
SUMMARY_COLUMNS = (
    "test_bed", "method", "n", "mae", "mae_low", "mae_high", "spearman", "spearman_low", "spearman_high",
    "coverage", "mae_minus_no_drop", "mae_minus_no_drop_low", "mae_minus_no_drop_high",
)  # fmt: skip
BASELINE = "no_drop"
# model columns, test-set column, what marks the source, and the columns of a cell (models of all folds)
# The drift bed is the views at full light: the intensity-drift view's models are also scored at lower
# intensities (for the intensity study), and those rows are neither their source nor a target here.
DRIFT_BED = {"model": ("augmentation", "train_view", "fold"), "test": "test_view", "source": "train_view",
             "cell": ("augmentation", "train_view", "test_view"), "where": {"test_intensity": REFERENCE_INTENSITY}}  # fmt: skip
CORRUPTION_BED = {"model": ("view", "fold"), "test": "corruption", "source": "identity", "cell": ("view", "corruption")}


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
        bed: :data:`DRIFT_BED` (models × other views at full light) or :data:`CORRUPTION_BED` (models ×
            corruptions): the model columns, the test-set column, what marks the source, and (``where``)
            the value a column must have for a row to belong to the bed.
        methods, level, n_resamples, seed: see :func:`lens2logit.qa.predict.predict`.

    Returns:
        DataFrame ``<model columns>, <test column>, method, predicted, predicted_low, predicted_high,
        measured, abs_error``.
    """
    keys, test, where = list(bed["model"]), bed["test"], bed.get("where", {})
    missing = [c for c in [*keys, test, CONFIDENCE, *where] if c not in samples.columns]
    if missing:
        raise InputError(f"QA: per-sample records lack columns {missing}")
    for column, value in where.items():
        samples = samples[samples[column] == value]
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
    table: pd.DataFrame, test_bed: str, cell: Sequence[str] | None = None, *, level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
) -> pd.DataFrame:
    """Per method: MAE and Spearman (predicted vs measured) with bootstrap intervals over cells, and the
    coverage (fraction of the table's rows whose measured value lies in the prediction's interval).

    Args:
        cell: columns of one cell of the matrix (e.g. ``augmentation, train_view, test_view``): predicted
            and measured are averaged over the models (folds) of a cell first, as in the drift matrix;
            None: every row is a cell.

    Returns:
        DataFrame with :data:`SUMMARY_COLUMNS`, one row per method (``n`` = cells).
    """
    out = []

    def cells_of(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.reset_index(drop=True) if cell is None else rows.groupby(list(cell), sort=True)[["predicted", "measured"]].mean()

    baseline = cells_of(table[table["method"] == BASELINE]) if (table["method"] == BASELINE).any() else None
    for method, rows in table.groupby("method", sort=False):
        cells = cells_of(rows)
        predicted, measured = cells["predicted"].to_numpy(), cells["measured"].to_numpy()
        errors = np.abs(predicted - measured)
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(cells), size=(n_resamples, len(cells)))
        # paired with the baseline on the same cells (same draws): negative = better than "no drop"
        gain = np.full(3, np.nan)
        if baseline is not None and len(baseline) == len(cells):
            difference = errors - np.abs(baseline["predicted"].to_numpy() - baseline["measured"].to_numpy())
            gain = np.array([difference.mean(), *percentile_interval(difference[draws].mean(axis=1), level)])
        mae_low, mae_high = percentile_interval(errors[draws].mean(axis=1), level)
        rho_low, rho_high = percentile_interval(np.array([spearman(predicted[d], measured[d]) for d in draws]), level)
        inside = (rows["predicted_low"] <= rows["measured"]) & (rows["measured"] <= rows["predicted_high"])
        out.append({
            "test_bed": test_bed, "method": method, "n": len(cells), "mae": float(errors.mean()),
            "mae_low": mae_low, "mae_high": mae_high, "spearman": spearman(predicted, measured),
            "spearman_low": rho_low, "spearman_high": rho_high,
            "coverage": float(inside.mean()), "mae_minus_no_drop": float(gain[0]),
            "mae_minus_no_drop_low": float(gain[1]), "mae_minus_no_drop_high": float(gain[2]),
        })  # fmt: skip
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))


def write_qa(
    samples_paths: Sequence[str],
    corruption_paths: Sequence[str],
    *,
    kind: str,
    dataset: str,
    table_path,
    corruptions_path,
    summary_path,
    figure_path,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """The QA stage of one dataset: tables, summary and scatter figure (workflow ``rules/qa.smk``).

    Writes the drift table (models × other views), the corruption table (models × corruptions; only a
    header when ``corruption_paths`` is empty), their :func:`qa_summary` (``test_bed`` drift |
    corruptions) with a ``dataset`` column, and the drift scatter. Returns the summary.
    """
    from lens2logit.io import write_csv
    from lens2logit.training.records import qa_metric
    from lens2logit.reporting.qa import plot_qa_scatter

    options = dict(level=level, n_resamples=n_resamples, seed=seed)
    drift = qa_table(read_samples(samples_paths), kind, DRIFT_BED, **options)
    if corruption_paths:
        corruptions = qa_table(read_samples(corruption_paths), kind, CORRUPTION_BED, **options)
    else:
        corruptions = pd.DataFrame(columns=[*CORRUPTION_BED["model"], CORRUPTION_BED["test"], *TABLE_COLUMNS])
    summaries = [qa_summary(drift, "drift", DRIFT_BED["cell"], **options)]
    if len(corruptions):
        summaries.append(qa_summary(corruptions, "corruptions", CORRUPTION_BED["cell"], **options))
    summary = pd.concat(summaries, ignore_index=True)
    summary.insert(0, "metric", qa_metric(kind))
    summary.insert(0, "dataset", dataset)
    write_csv(table_path, drift)
    write_csv(corruptions_path, corruptions)
    write_csv(summary_path, summary)
    plot_qa_scatter(drift, figure_path, metric=qa_metric(kind), title=f"{dataset}: label-free prediction on other views")
    return summary


def summary_markdown(summary_paths: Sequence[str]) -> list[str]:
    """Markdown lines of the summary's QA section from the stage's ``summary.csv`` files."""
    if not summary_paths:
        return []
    frame = pd.concat([pd.read_csv(p) for p in summary_paths], ignore_index=True)
    lines = [
        "## Label-free drop prediction (camera QA)", "",
        "Each model's metric on every other view (and under every corruption) predicted from its confidences "
        "alone (ATC, DoC), against the measured value; \"no_drop\" predicts the model's own validation score. "
        "MAE and Spearman over the cells (train view × other test set, fold means; n cells) with bootstrap "
        "intervals; coverage = share of the models' measured values inside their prediction's interval (`docs/deploying.md`).", "",
        "| dataset | test bed | metric | method | n | MAE [interval] | MAE − no_drop's [interval] | Spearman [interval] | coverage |",
        "|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in frame.itertuples(index=False):
        lines.append(f"| {r.dataset} | {r.test_bed} | {r.metric} | {r.method} | {r.n} | {r.mae:.3f} [{r.mae_low:.3f}, "
                     f"{r.mae_high:.3f}] | {r.mae_minus_no_drop:+.3f} [{r.mae_minus_no_drop_low:+.3f}, "
                     f"{r.mae_minus_no_drop_high:+.3f}] | {r.spearman:.2f} [{r.spearman_low:.2f}, {r.spearman_high:.2f}] | "
                     f"{r.coverage:.2f} |")  # fmt: skip
    return lines + [""]
