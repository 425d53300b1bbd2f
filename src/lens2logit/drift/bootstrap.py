"""Uncertainty of the study's findings: a paired, two-level bootstrap over folds and test images.

Every finding the paper comparison uses (:mod:`lens2logit.drift.paper`) is recomputed on resampled
data, from the per-sample records the evaluation writes (:func:`lens2logit.training.evaluate.batch_records`):

* **mean drop** — diagonal mean − off-diagonal mean of the 12×12 drift matrix;
* **worst case** — the largest relative drop ``(diagonal − cell) / diagonal`` over the 132 off-diagonal cells;
* **most-dropped test view** — the column with the largest mean drop (a categorical finding: the share
  of replicates in which each view comes first);
* **corruption ÷ ISP-drift ratio** — mean drop under the common corruptions ÷ mean drift drop (needs the
  corruption records; :func:`severity_ratio`: ``+inf`` in a replicate where drift costs nothing but
  corruptions do, so an interval reaching ``inf`` says the drift drop is indistinguishable from zero).

Resampling (one replicate). Level 1, test images: within each fold ``k`` its ``n_k`` validation images
are drawn with replacement (multinomial counts ``w_k``, ``(n_k,)``); for classification within each
class, because the splits are stratified (every fold holds fixed class counts, and a second run's folds
would too: resampling the class mix would add variance no run has). The *same* draw is used for every
cell of that fold — all models of fold ``k`` (every training view) were scored on the same images,
rendered by every test view, and the corruption scores of fold ``k`` use a subset of them — so paired
differences keep their pairing. Level 2, folds: the ``F`` folds are drawn with replacement (counts
``c``, ``(F,)``); a fold drawn twice enters twice with its one image draw. A cell's score in fold
``k`` is the weighted metric ``Σ w·num / Σ w·den`` (accuracy: num = correct, den = 1; ``iou_image``:
num = per-image IoU, den = 1; ``iou_dataset``: num = intersection, den = union), the matrix is
``Σ_k c_k · score_k / F``, and every finding follows from the matrix as in
:func:`lens2logit.drift.aggregate.drift_summary`. With unit weights this reproduces the point values.

The interval is the percentile interval (:func:`lens2logit.statistics.percentile_interval`,
90 %: the 5th and 95th percentiles of :data:`N_REPLICATES` replicates), seeded (``numpy.random.default_rng(seed)``) and deterministic.
With 2 folds the fold level is coarse (half of the replicates use one fold twice); it is kept because the
spread between folds (different training images, different models) is part of what a second run would see.
All replicates are computed at once (array products): 0.19 CPU-s for one metric at the default size
(12 views, 2 folds of 90 images, 2000 replicates, 10 corruptions on 64 images per fold), measured.

The worst case is a maximum over 132 cells: resampling adds noise to every cell, and the maximum of
noisier cells is larger, so its percentile interval is biased upwards and may not even contain the point
value. That is one more reason the worst-case claims carry little information.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from lens2logit.errors import InputError
from lens2logit.training.evaluate import SAMPLE_ID
from lens2logit.corruptions.presets import IDENTITY
from lens2logit.statistics import INTERVAL_LEVEL, percentile_interval

log = logging.getLogger(__name__)

N_REPLICATES = 2000
BOOTSTRAP_METRICS = ("accuracy", "iou_image", "iou_dataset")


def severity_ratio(corruption_drop: np.ndarray, drift_drop: np.ndarray) -> np.ndarray:
    """How many times the corruption drop exceeds the ISP-drift drop, elementwise.

    ``corruption / drift`` where the drift drop is positive; where drift costs nothing (drop ≤ 0) and
    corruptions do, corruptions are more severe than any finite factor: ``+inf``; where neither drops,
    the ratio is undefined: NaN (skipped by :func:`~lens2logit.statistics.percentile_interval`).

    Example:
        >>> severity_ratio(np.array([0.2, 0.2, -0.1]), np.array([0.05, -0.01, -0.02])).tolist()
        [4.0, inf, nan]
    """
    corruption_drop, drift_drop = np.broadcast_arrays(np.asarray(corruption_drop, float), np.asarray(drift_drop, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = corruption_drop / drift_drop
    return np.where(drift_drop > 0, ratio, np.where(corruption_drop > 0, np.inf, np.nan))


def per_sample_terms(records: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator per record whose weighted sums give ``metric`` (``(N,)`` each).

    accuracy: (label == prediction, 1); ``iou_image``: (iou, 1); ``iou_dataset``: (intersection, union).
    """
    if metric == "accuracy":
        return (records["label"].to_numpy() == records["prediction"].to_numpy()).astype(np.float64), np.ones(len(records))
    if metric == "iou_image":
        return records["iou"].to_numpy(np.float64), np.ones(len(records))
    if metric == "iou_dataset":
        return records["intersection"].to_numpy(np.float64), records["union"].to_numpy(np.float64)
    raise InputError(f"bootstrap: no per-sample form of metric {metric!r}; expected one of {', '.join(BOOTSTRAP_METRICS)}")


@dataclass(frozen=True)
class FoldCells:
    """The records of one fold laid out as arrays.

    Attributes:
        ids: ``(n,)`` sorted sample ids (the fold's validation images).
        num, den: ``(*cells, n)`` per-sample terms (:func:`per_sample_terms`).
    """

    ids: np.ndarray
    num: np.ndarray
    den: np.ndarray


def drift_cells(records: pd.DataFrame, views: Sequence[str], metric: str) -> dict[int, FoldCells]:
    """Per fold: terms ``(V, V, n)`` of every (train view, test view) cell on the fold's images.

    Args:
        records: per-sample drift records of one augmentation at the reference intensity
            (columns ``fold, train_view, test_view, sample`` and the record columns).

    Raises:
        ValueError: a cell lacks an image of its fold, or a view is missing.
    """
    index = {v: i for i, v in enumerate(views)}
    out = {}
    for fold, sub in records.groupby("fold", sort=True):
        ids = np.unique(sub[SAMPLE_ID].to_numpy())
        rows = sub["train_view"].map(index).to_numpy()
        cols = sub["test_view"].map(index).to_numpy()
        if np.isnan(rows.astype(float)).any() or np.isnan(cols.astype(float)).any():
            raise ValueError(f"fold {fold}: records of views outside {list(views)}")
        pos = np.searchsorted(ids, sub[SAMPLE_ID].to_numpy())
        num = np.full((len(views), len(views), len(ids)), np.nan)
        den = np.full_like(num, np.nan)
        n_, d_ = per_sample_terms(sub, metric)
        num[rows.astype(int), cols.astype(int), pos], den[rows.astype(int), cols.astype(int), pos] = n_, d_
        if np.isnan(num).any():
            raise ValueError(f"fold {fold}: some (train view, test view) cells lack records of some of its {len(ids)} images")
        out[int(fold)] = FoldCells(ids, num, den)
    if not out:
        raise ValueError("no per-sample drift records")
    return out


def corruption_cells(records: pd.DataFrame, views: Sequence[str], metric: str) -> dict[int, FoldCells]:
    """Per fold: terms ``(V, C, m)`` of every (view, corruption) on the fold's scored images, identity first."""
    index = {v: i for i, v in enumerate(views)}
    names = [IDENTITY] + sorted(set(records["corruption"]) - {IDENTITY})
    if IDENTITY not in set(records["corruption"]):
        raise ValueError("corruption records lack the identity (clean) scores")
    cindex = {c: i for i, c in enumerate(names)}
    out = {}
    for fold, sub in records.groupby("fold", sort=True):
        ids = np.unique(sub[SAMPLE_ID].to_numpy())
        rows = sub["view"].map(index).to_numpy(dtype=float)
        if np.isnan(rows).any():
            raise ValueError(f"fold {fold}: corruption records of views outside {list(views)}")
        pos = np.searchsorted(ids, sub[SAMPLE_ID].to_numpy())
        num = np.full((len(views), len(names), len(ids)), np.nan)
        den = np.full_like(num, np.nan)
        n_, d_ = per_sample_terms(sub, metric)
        r, c = rows.astype(int), sub["corruption"].map(cindex).to_numpy()
        num[r, c, pos], den[r, c, pos] = n_, d_
        if np.isnan(num).any():
            raise ValueError(f"fold {fold}: some (view, corruption) pairs lack records of some of its {len(ids)} images")
        out[int(fold)] = FoldCells(ids, num, den)
    return out


def resample_weights(fold_ids: Mapping[int, np.ndarray], n_replicates: int, rng: np.random.Generator,
                     strata: Mapping[int, np.ndarray] | None = None) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Image counts per fold ``{fold: (B, n_k)}`` and fold counts ``(B, F)`` (folds in sorted order).

    ``strata``: ``{fold: (n_k,)}`` a stratum per image (classification: its label); the images are then
    drawn within each stratum (sorted), so every replicate keeps the fold's stratum counts, as the
    stratified splits do. None: drawn from the whole fold.
    """
    folds = sorted(fold_ids)
    images = {}
    for k in folds:
        groups = [np.arange(len(fold_ids[k]))] if strata is None else [np.flatnonzero(strata[k] == s) for s in np.unique(strata[k])]
        counts = np.zeros((n_replicates, len(fold_ids[k])))
        for idx in groups:
            counts[:, idx] = rng.multinomial(len(idx), np.full(len(idx), 1 / len(idx)), size=n_replicates)
        images[k] = counts
    fold_counts = rng.multinomial(len(folds), np.full(len(folds), 1 / len(folds)), size=n_replicates).astype(np.float64)
    return images, fold_counts


def fold_labels(records: pd.DataFrame, fold_ids: Mapping[int, np.ndarray]) -> dict[int, np.ndarray] | None:
    """``{fold: (n_k,)}`` the label of each of a fold's sorted image ids; None without a ``label`` column."""
    if "label" not in records.columns:
        return None
    first = records.drop_duplicates(["fold", SAMPLE_ID]).set_index(["fold", SAMPLE_ID])["label"]
    return {k: first.loc[k].reindex(ids).to_numpy() for k, ids in fold_ids.items()}


def weighted_scores(cells: FoldCells, weights: np.ndarray) -> np.ndarray:
    """Score of every cell under image weights ``(B, n)`` → ``(B, *cells)``; ``Σ w·den = 0`` scores 1 (IoU convention)."""
    num = np.tensordot(weights, cells.num, axes=([1], [-1]))
    den = np.tensordot(weights, cells.den, axes=([1], [-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), 1.0)


def subset_weights(weights: np.ndarray, fold_ids: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """The columns of a fold's image weights ``(B, n)`` that belong to ``subset`` ids ``(m,)`` → ``(B, m)``."""
    pos = np.searchsorted(fold_ids, subset)
    if np.any(pos >= len(fold_ids)) or np.any(fold_ids[np.minimum(pos, len(fold_ids) - 1)] != subset):
        raise ValueError("corruption records score images outside their fold's validation images")
    return weights[:, pos]


def fold_mean(per_fold: Mapping[int, np.ndarray], fold_counts: np.ndarray) -> np.ndarray:
    """``Σ_k c_k · x_k / F`` over folds (sorted), each ``x_k`` ``(B, ...)``, ``c`` ``(B, F)``."""
    folds = sorted(per_fold)
    total = sum(fold_counts[:, i].reshape(-1, *[1] * (per_fold[k].ndim - 1)) * per_fold[k] for i, k in enumerate(folds))
    return total / len(folds)


def matrix_findings(matrices: np.ndarray) -> dict[str, np.ndarray]:
    """The drift findings of each matrix of a stack ``(B, V, V)`` (rows train, columns test).

    Returns:
        ``clean`` / ``drifted`` (diagonal / off-diagonal means), ``mean_drop``, ``max_relative_drop``
        (``(B,)`` each), ``max_relative_drop_cell`` (``(B,)`` flat index into ``V×V``) and
        ``most_dropped_test_view`` (``(B,)`` column index).
    """
    n = matrices.shape[-1]
    off = ~np.eye(n, dtype=bool)
    diag = np.diagonal(matrices, axis1=1, axis2=2)
    drop = diag[:, :, None] - matrices
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(off, drop / diag[:, :, None], -np.inf).reshape(len(matrices), -1)
    column_drop = np.where(off, drop, 0.0).sum(axis=1) / (n - 1)
    return {
        "clean": diag.mean(axis=1),
        "drifted": matrices[:, off].mean(axis=1),
        "mean_drop": diag.mean(axis=1) - matrices[:, off].mean(axis=1),
        "max_relative_drop": relative.max(axis=1),
        "max_relative_drop_cell": relative.argmax(axis=1),
        "most_dropped_test_view": column_drop.argmax(axis=1),
    }


def corruption_drops(cells: Mapping[int, FoldCells], weights: Mapping[int, np.ndarray], drift_ids: Mapping[int, np.ndarray],
                     fold_counts: np.ndarray) -> np.ndarray:
    """Mean corruption drop (identity − mean over corruptions, averaged over views) per replicate ``(B,)``."""
    per_fold = {}
    for k, c in cells.items():
        if k not in drift_ids:
            raise ValueError(f"corruption records of fold {k}, which has no drift records")
        scores = weighted_scores(c, subset_weights(weights[k], drift_ids[k], c.ids))  # (B, V, C)
        per_fold[k] = (scores[:, :, 0] - scores[:, :, 1:].mean(axis=2)).mean(axis=1)
    if sorted(per_fold) != sorted(drift_ids):
        raise ValueError(f"corruption records of folds {sorted(per_fold)}, drift records of folds {sorted(drift_ids)}")
    return fold_mean(per_fold, fold_counts)


def balanced_accuracy(records: pd.DataFrame) -> float:
    """Mean per-class recall of classification records (classes present in the labels)."""
    correct = records["label"].to_numpy() == records["prediction"].to_numpy()
    recalls = pd.Series(correct).groupby(records["label"].to_numpy()).mean()
    return float(recalls.mean())


def _summary(values: np.ndarray, point: float, level: float) -> dict[str, float]:
    low, high = percentile_interval(values, level)
    return {"value": float(point), "low": low, "high": high}


def same_intensity(records: pd.DataFrame) -> pd.DataFrame:
    """The drift records tested at their training intensity (all records when they do not say)."""
    if {"test_intensity", "train_intensity"} <= set(records.columns):
        return records[np.isclose(records["test_intensity"], records["train_intensity"])]
    return records


# Scalar findings with replicates (the most-dropped view is categorical: replicate column indices).
SCALAR_FINDINGS = ("clean", "drifted", "mean_drop", "max_relative_drop", "corruption_drop", "corruption_to_drift_ratio")


@dataclass(frozen=True)
class Replicates:
    """Bootstrap replicates and point values of every finding of one run and metric.

    Attributes:
        values: ``{finding: (B,)}`` for the :data:`SCALAR_FINDINGS` measured (the corruption findings
            only with corruption records), plus ``max_relative_drop_cell`` (flat index into ``V×V``) and
            ``most_dropped_test_view`` (column index).
        points: ``{finding: float}`` with unit weights (the same keys).
        images_per_fold, corruption_images_per_fold: ``{fold: n}`` scored images (the latter empty
            without corruption records).
    """

    values: dict[str, np.ndarray]
    points: dict[str, float]
    images_per_fold: dict[str, int]
    corruption_images_per_fold: dict[str, int]


def bootstrap_replicates(drift_records: pd.DataFrame, views: Sequence[str], metric: str, *,
                         corruption_records: pd.DataFrame | None = None, n_replicates: int = N_REPLICATES,
                         seed: int = 0) -> Replicates:
    """The replicates of every finding (module docstring); the same records and seed give the same arrays.

    Args: as :func:`bootstrap_findings`.
    """
    if n_replicates < 1:
        raise InputError(f"bootstrap: n_replicates must be ≥ 1, got {n_replicates}")
    records = same_intensity(drift_records)
    cells = drift_cells(records, views, metric)
    rng = np.random.default_rng(seed)
    ids = {k: c.ids for k, c in cells.items()}
    weights, fold_counts = resample_weights(ids, n_replicates, rng, fold_labels(records, ids))
    unit = {k: np.ones((1, len(c.ids))) for k, c in cells.items()}
    ones = np.ones((1, len(cells)))
    matrices = fold_mean({k: weighted_scores(c, weights[k]) for k, c in cells.items()}, fold_counts)
    point_matrix = fold_mean({k: weighted_scores(c, unit[k]) for k, c in cells.items()}, ones)
    values, point = matrix_findings(matrices), matrix_findings(point_matrix)
    ccells = {}
    if corruption_records is not None and len(corruption_records):
        ccells = corruption_cells(corruption_records, views, metric)
        values["corruption_drop"] = corruption_drops(ccells, weights, ids, fold_counts)
        point["corruption_drop"] = corruption_drops(ccells, unit, ids, ones)
        values["corruption_to_drift_ratio"] = severity_ratio(values["corruption_drop"], values["mean_drop"])
        point["corruption_to_drift_ratio"] = severity_ratio(point["corruption_drop"], point["mean_drop"])
    sizes = {str(k): len(c.ids) for k, c in cells.items()}
    return Replicates(values, {k: float(v[0]) for k, v in point.items()}, sizes, {str(k): len(c.ids) for k, c in ccells.items()})


def bootstrap_findings(drift_records: pd.DataFrame, views: Sequence[str], metric: str, *,
                       corruption_records: pd.DataFrame | None = None, n_replicates: int = N_REPLICATES,
                       level: float = INTERVAL_LEVEL, seed: int = 0) -> dict[str, Any]:
    """Point value and percentile interval of every finding.

    Args:
        drift_records: per-sample drift records (one augmentation, reference intensity; the rows with
            ``test_intensity == train_intensity`` are used when the columns are there).
        views: view labels in matrix order.
        metric: ``accuracy``, ``iou_image`` or ``iou_dataset``.
        corruption_records: per-sample corruption records of the same models (None: no ratio).
        n_replicates, level, seed: bootstrap size, interval level and seed.

    Returns:
        JSON-ready dict: ``metric, n_replicates, level, seed, folds, images_per_fold`` (with corruption
        records also ``corruption_images_per_fold``) and
        ``findings``: ``{name: {"value", "low", "high"}}`` for ``clean, drifted, mean_drop,
        max_relative_drop`` (with ``pair``), ``corruption_drop`` and ``corruption_to_drift_ratio`` (with
        corruption records); ``most_dropped_test_view``: ``{"value": view, "shares": {view: share}}``.
        Classification adds ``chance`` (majority-class rate of the scored images) and
        ``balanced_accuracy`` ``{"clean", "drifted"}`` (point values).
    """
    if n_replicates < 1 or not 0 < level < 1:
        raise InputError(f"bootstrap: n_replicates must be ≥ 1 and level in (0, 1), got {n_replicates}, {level}")
    start = time.process_time()
    records = same_intensity(drift_records)
    reps = bootstrap_replicates(records, views, metric, corruption_records=corruption_records,
                                n_replicates=n_replicates, seed=seed)  # fmt: skip
    boot, point = reps.values, reps.points
    n = len(views)
    findings: dict[str, Any] = {name: _summary(boot[name], point[name], level) for name in SCALAR_FINDINGS if name in boot}
    worst = int(point["max_relative_drop_cell"])
    findings["max_relative_drop"]["pair"] = [views[worst // n], views[worst % n]]
    shares = np.bincount(boot["most_dropped_test_view"], minlength=n) / n_replicates
    findings["most_dropped_test_view"] = {"value": views[int(point["most_dropped_test_view"])],
                                          "shares": {views[i]: float(s) for i, s in enumerate(shares) if s > 0}}  # fmt: skip
    out: dict[str, Any] = {"metric": metric, "n_replicates": int(n_replicates), "level": float(level), "seed": int(seed),
                           "folds": len(reps.images_per_fold), "images_per_fold": reps.images_per_fold,
                           "findings": findings}  # fmt: skip
    if "corruption_to_drift_ratio" in boot:
        findings["corruption_to_drift_ratio"]["undefined_share"] = float(np.mean(np.isnan(boot["corruption_to_drift_ratio"])))
        out["corruption_images_per_fold"] = reps.corruption_images_per_fold
    if metric == "accuracy":
        labels = records.drop_duplicates(SAMPLE_ID)["label"].to_numpy()
        out["chance"] = float(np.bincount(labels.astype(np.int64)).max() / len(labels))
        same = records["train_view"] == records["test_view"]
        out["balanced_accuracy"] = {"clean": balanced_accuracy(records[same]), "drifted": balanced_accuracy(records[~same])}
    log.info("bootstrap of %s: %d replicates in %.3f CPU-s", metric, n_replicates, time.process_time() - start)
    return out


def read_records(paths: Sequence) -> pd.DataFrame:
    """Concatenate per-sample record tables (``results/samples/…`` or ``results/corruption_samples/…``)."""
    if not paths:
        raise ValueError("no per-sample record tables")
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def write_findings(drift_paths: Sequence, views: Sequence[str], kind: str, out_path, *, dataset: str,
                   corruption_paths: Sequence = (), n_replicates: int = N_REPLICATES, level: float = INTERVAL_LEVEL,
                   seed: int = 0) -> dict[str, Any]:
    """``results/findings/{dataset}.json``: the findings with their intervals, in the paper's metric.

    Classification: accuracy. Segmentation: mean per-image IoU (the paper's metric), with the dataset IoU's
    findings under ``other_metrics``. Each metric uses the same seed, hence the same resampling. The file
    also names its inputs — ``views`` (matrix order) and ``records`` (``drift`` / ``corruptions``: the
    record tables, relative to the results folder that holds ``findings/``) — so that the replicates can be
    rebuilt (:func:`rebuild_replicates`). It is byte-identical for the same records and seed (the CPU time
    goes to the job log, not into the file).
    """
    from lens2logit.io import write_json
    from lens2logit.drift.paper import PAPER_METRIC

    drift = read_records(drift_paths)
    corruptions = read_records(corruption_paths) if corruption_paths else None
    metrics = [PAPER_METRIC[kind]] + (["iou_dataset"] if kind == "segmentation" else [])
    results = [bootstrap_findings(drift, views, m, corruption_records=corruptions, n_replicates=n_replicates,
                                  level=level, seed=seed) for m in metrics]  # fmt: skip
    results_dir = Path(out_path).parent.parent
    records = {"drift": [os.path.relpath(p, results_dir) for p in drift_paths],
               "corruptions": [os.path.relpath(p, results_dir) for p in corruption_paths]}  # fmt: skip
    out = {"dataset": dataset, "kind": kind, **results[0], "other_metrics": {r["metric"]: r for r in results[1:]},
           "views": list(views), "records": records}  # fmt: skip
    write_json(out_path, out)
    return out


def rebuild_replicates(findings: Mapping[str, Any], results_dir: str | os.PathLike, source: str = "findings") -> Replicates:
    """The replicates behind a findings file (:func:`write_findings`), in its headline metric.

    Reads the record tables the file names (relative to ``results_dir``) and resamples with the file's
    seed and size, so the replicates are those the intervals came from; checks that.

    Raises:
        InputError: the file names no records (written before they were recorded: rerun the rule
            ``bootstrap_findings``), a record table is missing, or the rebuilt values or intervals differ
            from the file's (the records changed since) — each naming ``source``.
    """
    if "records" not in findings or "views" not in findings:
        raise InputError(f"{source}: names no record tables (written by an older version); rerun the rule bootstrap_findings")
    root = Path(results_dir)
    paths = {k: [root / p for p in v] for k, v in findings["records"].items()}
    missing = [str(p) for v in paths.values() for p in v if not p.is_file()]
    if missing:
        raise InputError(f"{source}: record tables missing: {', '.join(missing[:3])}" + (" …" if len(missing) > 3 else ""))
    corruptions = read_records(paths["corruptions"]) if paths["corruptions"] else None
    reps = bootstrap_replicates(read_records(paths["drift"]), findings["views"], findings["metric"], corruption_records=corruptions,
                                n_replicates=int(findings["n_replicates"]), seed=int(findings["seed"]))  # fmt: skip
    for name, f in findings["findings"].items():
        if name not in SCALAR_FINDINGS:
            continue
        low, high = percentile_interval(reps.values[name], float(findings["level"]))
        rebuilt, stored = (reps.points[name], low, high), (f["value"], f["low"], f["high"])
        if not np.allclose(rebuilt, stored, rtol=1e-12, atol=1e-12, equal_nan=True):
            raise InputError(f"{source}: {name} rebuilt from its record tables as {rebuilt}, the file says {stored}: the records changed since")
    return reps
