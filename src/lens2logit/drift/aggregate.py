"""From per-model metric tables to the study's tables: drift matrices, corruption baseline,
intensity drift matrix and their summaries.

Per-model tables (written by :mod:`lens2logit.training.scoring`) are long: one row per
(test view, test intensity, metric) with the training view, intensity, augmentation and fold.
Aggregates are mean, sample standard deviation (ddof 1; NaN for a single fold) and ``n`` over folds
(:func:`lens2logit.statistics.fold_summary`); the metric shown is the dataset's headline
metric (:func:`lens2logit.statistics.headline_metric`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from lens2logit.statistics import (
    DEFAULT_SEGMENTATION_HEADLINE,
    HEADLINE_METRIC,
    chance_level,
    fold_summary,
    headline_metric,
)
from lens2logit.io import write_csv, write_json

log = logging.getLogger(__name__)

__all__ = ["HEADLINE_METRIC", "corruption_comparison", "corruption_table", "drift_matrix", "drift_summary", "intensity_matrix"]
_summarise = fold_summary


def read_tables(paths: Sequence[str | Path]) -> pd.DataFrame:
    if not paths:
        raise ValueError("no metric tables to aggregate")
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def drift_matrix(frame: pd.DataFrame, views: Sequence[str]) -> pd.DataFrame:
    """Mean/std/n over folds for every (train view, test view, metric), in paper order.

    Returns columns ``train_view, test_view, metric, mean, std, n, augmentation``.
    """
    ref = frame[np.isclose(frame["test_intensity"], frame["train_intensity"])]
    table = _summarise(ref, ["augmentation", "train_view", "test_view", "metric"])
    order = {v: i for i, v in enumerate(views)}
    missing = set(views) - set(table["train_view"]) | set(views) - set(table["test_view"])
    if missing:
        raise ValueError(f"drift matrix is missing views {sorted(missing)}")
    table = table.assign(_r=table["train_view"].map(order), _c=table["test_view"].map(order))
    table = table.sort_values(["augmentation", "metric", "_r", "_c"], kind="stable").drop(columns=["_r", "_c"])
    cols = ["train_view", "test_view", "metric", "mean", "std", "n", "augmentation"]
    return table[cols].reset_index(drop=True)


def matrix_array(table: pd.DataFrame, views: Sequence[str], metric: str, *, row="train_view", col="test_view") -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) arrays ``(len(views), len(views))`` of one metric of a long matrix table."""
    sub = table[table["metric"] == metric]
    mean = sub.pivot(index=row, columns=col, values="mean").reindex(index=views, columns=views)
    std = sub.pivot(index=row, columns=col, values="std").reindex(index=views, columns=views)
    return mean.to_numpy(dtype=float), std.to_numpy(dtype=float)


def drift_summary(table: pd.DataFrame, views: Sequence[str], metric: str) -> dict:
    """Diagonal (in-distribution) vs off-diagonal (drifted) means of one metric."""
    mean, _ = matrix_array(table, views, metric)
    diag = np.diag(mean)
    off = mean[~np.eye(len(views), dtype=bool)]
    drop = diag[:, None] - mean
    np.fill_diagonal(drop, np.nan)
    worst = np.unravel_index(np.nanargmax(drop), drop.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = drop / diag[:, None]
    worst_relative = np.unravel_index(np.nanargmax(relative), relative.shape)
    column_drop = np.nanmean(drop, axis=0)  # per test view: mean drop of the models trained elsewhere
    return {
        "metric": metric,
        "diagonal_mean": float(diag.mean()),
        "off_diagonal_mean": float(off.mean()),
        "mean_drop": float(np.nanmean(drop)),
        "max_drop": float(drop[worst]),
        "max_drop_pair": [views[worst[0]], views[worst[1]]],
        # the paper's "worst case ≈33 % below the training view": (diagonal − cell) / diagonal
        "max_relative_drop": float(relative[worst_relative]),
        "max_relative_drop_pair": [views[worst_relative[0]], views[worst_relative[1]]],
        "test_view_mean_drop": {v: float(d) for v, d in zip(views, column_drop)},
        "most_dropped_test_view": views[int(np.nanargmax(column_drop))],
        "rows_with_diagonal_best": int(sum(diag[i] >= np.max(np.delete(mean[i], i)) for i in range(len(views)))),
        # "drift is visible": how many off-diagonal cells score below their row's diagonal
        "cells_below_diagonal": int(np.sum(drop > 0)),
        "n_off_diagonal": len(views) * (len(views) - 1),
        "n_views": len(views),
    }


def write_drift(metric_paths, views, augmentations, kind, *, matrix_path, summary_path, figure_path, difference_path, dataset: str, segmentation_headline: str = DEFAULT_SEGMENTATION_HEADLINE) -> pd.DataFrame:
    from lens2logit.reporting import study as plots

    table = drift_matrix(read_tables(metric_paths), views)
    write_csv(matrix_path, table)
    metric = headline_metric(kind, segmentation_headline)
    primary = table[table["augmentation"] == augmentations[0]]
    summary = {"dataset": dataset, "augmentation": augmentations[0], **drift_summary(primary, views, metric)}
    write_json(summary_path, summary)
    mean, std = matrix_array(primary, views, metric)
    title = f"{dataset} · {metric} · augmentation {augmentations[0]}"
    plots.plot_drift_matrix(mean, std, views, figure_path, title=title, metric=metric)
    plots.plot_difference_matrix(mean, std, views, difference_path, title=title, metric=metric)
    for aug in augmentations[1:]:
        sub = table[table["augmentation"] == aug]
        m, s = matrix_array(sub, views, metric)
        stem = Path(figure_path)
        plots.plot_drift_matrix(m, s, views, stem.with_name(f"matrix-{aug}.png"), title=f"{dataset} · {metric} · augmentation {aug}", metric=metric)
        plots.plot_difference_matrix(m, s, views, stem.with_name(f"difference-{aug}.png"), title=f"{dataset} · {metric} · augmentation {aug}", metric=metric)
    return table


def corruption_table(frame: pd.DataFrame, views: Sequence[str]) -> pd.DataFrame:
    """``view, corruption, metric, mean, std, n`` over folds, views in paper order."""
    table = _summarise(frame, ["view", "corruption", "metric"])
    order = {v: i for i, v in enumerate(views)}
    table = table.assign(_v=table["view"].map(order)).sort_values(["_v", "metric"], kind="stable").drop(columns="_v")
    return table[["view", "corruption", "metric", "mean", "std", "n"]].reset_index(drop=True)


COMPARISON_COLUMNS = [
    "view", "metric", "clean", "chance", "headroom", "drift_drop", "corruption_drop",
    "drift_drop_normalised", "corruption_drop_normalised", "corruption_to_drift_ratio", "ratio_at_chance",
]  # fmt: skip


def corruption_comparison(corruptions: pd.DataFrame, drift: pd.DataFrame, views: Sequence[str], metric: str, chance: float = float("nan")) -> pd.DataFrame:
    """The paper's comparison: average drop under ISP drift vs under common corruptions.

    Per training view: ``clean`` (fold mean on its own view, corruption run's ``identity``),
    ``drift_drop`` = drift-matrix diagonal − mean over the other test views, ``corruption_drop`` =
    clean − mean over corruptions, each also divided by its headroom (``clean − chance``; for the
    drift drop the diagonal − chance): ``*_normalised`` is the share of the headroom a drop uses up.
    ``corruption_to_drift_ratio`` = corruption drop ÷ drift drop (raw); ``ratio_at_chance`` = headroom ÷
    drift drop, the ratio corruptions would give if they drove the model down to chance: a raw ratio is
    bounded by it unless corruptions make the model worse than ignoring the image.
    Last row ``all``: clean, drops and headroom averaged over views; its normalised drops and ratios
    are computed from those means (mean drop ÷ mean headroom), not averaged per view.

    Args:
        chance: the metric's chance level (:func:`lens2logit.statistics.chance_level`);
            NaN leaves the normalised columns NaN.
    """
    cor = corruptions[corruptions["metric"] == metric]
    cor_fold = cor.groupby(["view", "corruption"])["value"].mean().unstack()
    clean_c = cor_fold["identity"]
    corr_mean = cor_fold.drop(columns="identity").mean(axis=1)
    mean, _ = matrix_array(drift, views, metric)
    rows = []
    for i, v in enumerate(views):
        clean = float(clean_c.get(v, np.nan))
        drift_drop = float(mean[i, i] - np.mean(np.delete(mean[i], i)))
        corr_drop = float(clean - corr_mean.get(v, np.nan))
        rows.append({"view": v, "metric": metric, "clean": clean, "diagonal": float(mean[i, i]),
                     "drift_drop": drift_drop, "corruption_drop": corr_drop})  # fmt: skip
    out = pd.DataFrame(rows)
    overall = {"view": "all", "metric": metric, **out[["clean", "diagonal", "drift_drop", "corruption_drop"]].mean().to_dict()}
    out = pd.concat([out, pd.DataFrame([overall])], ignore_index=True)
    out["chance"] = float(chance)
    out["headroom"] = out["clean"] - out["chance"]
    out["drift_drop_normalised"] = [_ratio(d, g - chance) for d, g in zip(out["drift_drop"], out["diagonal"])]
    out["corruption_drop_normalised"] = [_ratio(c, h) for c, h in zip(out["corruption_drop"], out["headroom"])]
    out["corruption_to_drift_ratio"] = [_ratio(c, d) for c, d in zip(out["corruption_drop"], out["drift_drop"])]
    out["ratio_at_chance"] = [_ratio(h, d) for h, d in zip(out["headroom"], out["drift_drop"])]
    return out[COMPARISON_COLUMNS]


def _ratio(numerator: float, denominator: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(numerator) / np.float64(denominator))


def write_corruptions(corruption_paths, drift_paths, views, kind, *, table_path, comparison_path, figure_path, dataset: str, targets_path=None, segmentation_headline: str = DEFAULT_SEGMENTATION_HEADLINE) -> None:
    """Corruption table, comparison with ISP drift (with chance level from ``targets_path``) and figure."""
    from lens2logit.reporting import study as plots

    frame = read_tables(corruption_paths)
    table = corruption_table(frame, views)
    write_csv(table_path, table)
    drift = drift_matrix(read_tables(drift_paths), views)
    metric = headline_metric(kind, segmentation_headline)
    chance = chance_level(np.load(targets_path, mmap_mode="r"), metric) if targets_path is not None else float("nan")
    comparison = corruption_comparison(frame, drift, views, metric, chance)
    write_csv(comparison_path, comparison)
    plots.plot_corruptions(table, comparison, figure_path, metric=metric, title=f"{dataset} · {metric}")


def intensity_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """``train_intensity, test_intensity, metric, mean, std, n`` over folds, sorted by intensity."""
    table = _summarise(frame, ["train_intensity", "test_intensity", "metric"])
    table = table.sort_values(["metric", "train_intensity", "test_intensity"], kind="stable")
    return table[["train_intensity", "test_intensity", "metric", "mean", "std", "n"]].reset_index(drop=True)


def write_intensity(metric_paths, view: str, kind, *, matrix_path, figure_path, dataset: str, segmentation_headline: str = DEFAULT_SEGMENTATION_HEADLINE) -> pd.DataFrame:
    from lens2logit.reporting import study as plots

    frame = read_tables(metric_paths)
    frame = frame[frame["test_view"] == view]
    table = intensity_matrix(frame)
    write_csv(matrix_path, table)
    metric = headline_metric(kind, segmentation_headline)
    levels = sorted(table["train_intensity"].unique())
    sub = table[table["metric"] == metric]
    mean = sub.pivot(index="train_intensity", columns="test_intensity", values="mean").reindex(index=levels, columns=levels)
    std = sub.pivot(index="train_intensity", columns="test_intensity", values="std").reindex(index=levels, columns=levels)
    plots.plot_intensity_matrix(mean.to_numpy(float), std.to_numpy(float), levels, figure_path, title=f"{dataset} · {metric} · view {view}", metric=metric)
    return table
