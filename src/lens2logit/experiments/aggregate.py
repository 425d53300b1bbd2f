"""From per-model metric tables to the study's tables: drift matrices, corruption baseline,
intensity drift matrix and their summaries.

Per-model tables (written by :mod:`lens2logit.experiments.scoring`) are long: one row per
(test view, test intensity, metric) with the training view, intensity, augmentation and fold.
Aggregates are mean, sample standard deviation (ddof 1; NaN for a single fold) and ``n`` over folds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from lens2logit.io import write_csv, write_json

log = logging.getLogger(__name__)

# The metric that figures and summaries show per task kind.
HEADLINE_METRIC = {"classification": "accuracy", "segmentation": "iou_dataset"}


def _summarise(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(by, sort=False)["value"]
    out = grouped.agg(mean="mean", std=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else float("nan"), n="count")
    return out.reset_index()


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
    return {
        "metric": metric,
        "diagonal_mean": float(diag.mean()),
        "off_diagonal_mean": float(off.mean()),
        "mean_drop": float(np.nanmean(drop)),
        "max_drop": float(drop[worst]),
        "max_drop_pair": [views[worst[0]], views[worst[1]]],
        "rows_with_diagonal_best": int(sum(diag[i] >= np.max(np.delete(mean[i], i)) for i in range(len(views)))),
        # "drift is visible": how many off-diagonal cells score below their row's diagonal
        "cells_below_diagonal": int(np.sum(drop > 0)),
        "n_off_diagonal": len(views) * (len(views) - 1),
        "n_views": len(views),
    }


def write_drift(metric_paths, views, augmentations, kind, *, matrix_path, summary_path, figure_path, difference_path, task: str) -> pd.DataFrame:
    from lens2logit import plots

    table = drift_matrix(read_tables(metric_paths), views)
    write_csv(matrix_path, table)
    metric = HEADLINE_METRIC[kind]
    primary = table[table["augmentation"] == augmentations[0]]
    summary = {"task": task, "augmentation": augmentations[0], **drift_summary(primary, views, metric)}
    write_json(summary_path, summary)
    mean, std = matrix_array(primary, views, metric)
    title = f"{task} · {metric} · augmentation {augmentations[0]}"
    plots.plot_drift_matrix(mean, std, views, figure_path, title=title, metric=metric)
    plots.plot_difference_matrix(mean, std, views, difference_path, title=title, metric=metric)
    for aug in augmentations[1:]:
        sub = table[table["augmentation"] == aug]
        m, s = matrix_array(sub, views, metric)
        stem = Path(figure_path)
        plots.plot_drift_matrix(m, s, views, stem.with_name(f"matrix-{aug}.png"), title=f"{task} · {metric} · augmentation {aug}", metric=metric)
        plots.plot_difference_matrix(m, s, views, stem.with_name(f"difference-{aug}.png"), title=f"{task} · {metric} · augmentation {aug}", metric=metric)
    return table


def corruption_table(frame: pd.DataFrame, views: Sequence[str]) -> pd.DataFrame:
    """``view, corruption, metric, mean, std, n`` over folds, views in paper order."""
    table = _summarise(frame, ["view", "corruption", "metric"])
    order = {v: i for i, v in enumerate(views)}
    table = table.assign(_v=table["view"].map(order)).sort_values(["_v", "metric"], kind="stable").drop(columns="_v")
    return table[["view", "corruption", "metric", "mean", "std", "n"]].reset_index(drop=True)


def corruption_comparison(corruptions: pd.DataFrame, drift: pd.DataFrame, views: Sequence[str], metric: str) -> pd.DataFrame:
    """The paper's comparison: average drop under ISP drift vs under common corruptions.

    Per training view: ``clean`` (fold mean, tested on its own view), ``drift_drop`` = clean − mean over the
    other test views, ``corruption_drop`` = clean − mean over corruptions, and their ratio. Last row: ``all``.
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
        rows.append({"view": v, "metric": metric, "clean": clean, "drift_drop": drift_drop, "corruption_drop": corr_drop})
    out = pd.DataFrame(rows)
    overall = {"view": "all", "metric": metric, **out[["clean", "drift_drop", "corruption_drop"]].mean().to_dict()}
    out = pd.concat([out, pd.DataFrame([overall])], ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["corruption_to_drift_ratio"] = out["corruption_drop"] / out["drift_drop"]
    return out


def write_corruptions(corruption_paths, drift_paths, views, kind, *, table_path, comparison_path, figure_path, task: str) -> None:
    from lens2logit import plots

    frame = read_tables(corruption_paths)
    table = corruption_table(frame, views)
    write_csv(table_path, table)
    drift = drift_matrix(read_tables(drift_paths), views)
    metric = HEADLINE_METRIC[kind]
    comparison = corruption_comparison(frame, drift, views, metric)
    write_csv(comparison_path, comparison)
    plots.plot_corruptions(table, comparison, figure_path, metric=metric, title=f"{task} · {metric}")


def intensity_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """``train_intensity, test_intensity, metric, mean, std, n`` over folds, sorted by intensity."""
    table = _summarise(frame, ["train_intensity", "test_intensity", "metric"])
    table = table.sort_values(["metric", "train_intensity", "test_intensity"], kind="stable")
    return table[["train_intensity", "test_intensity", "metric", "mean", "std", "n"]].reset_index(drop=True)


def write_intensity(metric_paths, view: str, kind, *, matrix_path, figure_path, task: str) -> pd.DataFrame:
    from lens2logit import plots

    frame = read_tables(metric_paths)
    frame = frame[frame["test_view"] == view]
    table = intensity_matrix(frame)
    write_csv(matrix_path, table)
    metric = HEADLINE_METRIC[kind]
    levels = sorted(table["train_intensity"].unique())
    sub = table[table["metric"] == metric]
    mean = sub.pivot(index="train_intensity", columns="test_intensity", values="mean").reindex(index=levels, columns=levels)
    std = sub.pivot(index="train_intensity", columns="test_intensity", values="std").reindex(index=levels, columns=levels)
    plots.plot_intensity_matrix(mean.to_numpy(float), std.to_numpy(float), levels, figure_path, title=f"{task} · {metric} · view {view}", metric=metric)
    return table
