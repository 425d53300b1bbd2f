"""Leave-one-view-out (LOVO) robust models beside the static-view drift matrix.

:func:`robust_matrix` turns the robust models' metric tables into the drift matrix's long format
(``train_view`` = ``lovo:<held-out view>``); :func:`robust_summary` compares, per held-out view ``j``:

* robust drop to the unseen view: mean over seen views ``v`` of ``R[j, v]`` − ``R[j, j]``;
* static drop to view ``j``: mean over static models ``i ≠ j`` of ``S[i, i]`` − ``S[i, j]``;
* cost on seen views: mean over seen ``v`` of ``S[v, v]`` − ``R[j, v]`` (static specialist minus robust);

``S`` is the static models' matrix over the same folds as the robust models; means come
with 90 % percentile-bootstrap intervals over the held-out views (paired resampling), and the issue-20
target: robust drop ≤ ⅓ × static drop at a cost ≤ 0.01 ("holds" if both intervals' upper ends meet
it, "fails" if a lower end misses it, else "undecided").
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from lens2logit.robust.train import LOVO_PREFIX, lovo_label
from lens2logit.io import write_csv, write_json
from lens2logit.drift.aggregate import drift_matrix, matrix_array, read_tables
from lens2logit.statistics import INTERVAL_LEVEL, headline_metric, percentile_interval

TARGET_DROP_RATIO = 1 / 3
TARGET_COST = 0.01
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 20


def robust_matrix(frame: pd.DataFrame, views: Sequence[str]) -> pd.DataFrame:
    """Mean/std/n over folds per (lovo model, test view, metric), in the drift matrix's columns."""
    held = [v for v in views if lovo_label(v) in set(frame["train_view"])]
    renamed = frame.assign(train_view=frame["train_view"].str.removeprefix(LOVO_PREFIX))
    table = drift_matrix(renamed, list(views))
    table = table[table["train_view"].isin(held)]
    return table.assign(train_view=LOVO_PREFIX + table["train_view"]).reset_index(drop=True)


def _interval(values: np.ndarray, statistic, rng: np.random.Generator) -> list[float]:
    n = len(values)
    if n < 2:
        return [float("nan"), float("nan")]
    draws = np.array([statistic(values[rng.integers(0, n, n)]) for _ in range(BOOTSTRAP_DRAWS)])
    return list(percentile_interval(draws, INTERVAL_LEVEL))


def _verdict(upper_ok: bool, lower_bad: bool) -> str:
    return "holds" if upper_ok else ("fails" if lower_bad else "undecided")


def robust_summary(robust: pd.DataFrame, static: pd.DataFrame, views: Sequence[str], metric: str) -> dict:
    """Per-held-out-view drops and costs (see module doc), their means, intervals and the target's verdict."""
    views = list(views)
    s_mean, _ = matrix_array(static, views, metric)
    sub = robust[robust["metric"] == metric]
    cell = {(r.train_view, r.test_view): r.mean for r in sub.itertuples()}
    rows = []
    for j, held in enumerate(views):
        if (lovo_label(held), held) not in cell:
            continue
        seen = [v for v in views if v != held]
        r_seen = np.array([cell[(lovo_label(held), v)] for v in seen])
        s_diag_seen = np.array([s_mean[views.index(v), views.index(v)] for v in seen])
        s_col = np.array([s_mean[i, i] - s_mean[i, j] for i in range(len(views)) if i != j])
        rows.append({"held_out": held, "robust_unseen": float(cell[(lovo_label(held), held)]),
                     "robust_seen": float(r_seen.mean()),
                     "robust_drop": float(r_seen.mean() - cell[(lovo_label(held), held)]),
                     "static_drop": float(np.nanmean(s_col)), "cost_seen": float(np.mean(s_diag_seen - r_seen))})
    if not rows:
        raise ValueError("no leave-one-view-out model scored on its held-out view")
    per = pd.DataFrame(rows)
    values = per[["robust_drop", "static_drop", "cost_seen"]].to_numpy(float)  # (n_held, 3)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    ratio = lambda v: float(np.mean(v[:, 0]) / np.mean(v[:, 1])) if np.mean(v[:, 1]) != 0 else float("nan")  # noqa: E731
    robust_drop, static_drop, cost = (float(x) for x in values.mean(axis=0))
    ratio_ci = _interval(values, ratio, rng)
    cost_ci = _interval(values, lambda v: float(np.mean(v[:, 2])), rng)
    drop_ok = ratio_ci[1] <= TARGET_DROP_RATIO
    cost_ok = cost_ci[1] <= TARGET_COST
    return {
        "metric": metric,
        "n_held_out": len(per),
        "n_folds": int(sub["n"].min()),  # folds behind each robust model's scores (fewest over its cells)
        "robust_mean_drop_unseen": robust_drop,
        "robust_mean_drop_unseen_ci90": _interval(values, lambda v: float(np.mean(v[:, 0])), rng),
        "static_mean_drop": static_drop,
        "static_mean_drop_ci90": _interval(values, lambda v: float(np.mean(v[:, 1])), rng),
        "drop_ratio": ratio(values),
        "drop_ratio_ci90": ratio_ci,
        "cost_seen": cost,
        "cost_seen_ci90": cost_ci,
        "robust_mean_unseen": float(per["robust_unseen"].mean()),
        "target": {"drop_ratio_max": TARGET_DROP_RATIO, "cost_max": TARGET_COST,
                   "drop": _verdict(drop_ok, ratio_ci[0] > TARGET_DROP_RATIO),
                   "cost": _verdict(cost_ok, cost_ci[0] > TARGET_COST),
                   "holds": bool(drop_ok and cost_ok)},
        "interval": "90 % percentile bootstrap over held-out views (paired), each a mean over folds",
        "per_view": rows,
    }


def write_robust(metric_paths, static_metric_paths, views, kind, *, matrix_path, summary_path, dataset: str,
                 segmentation_headline: str = "iou_dataset") -> dict:
    """Write ``matrix.csv`` and ``summary.json`` from the LOVO models' tables and the static models' tables.

    ``static_metric_paths``: the static-view models' per-fold tables of the SAME folds as the robust
    models (so a fold's harder or easier validation split weighs on both sides alike).
    """
    table = robust_matrix(read_tables(metric_paths), views)
    static = drift_matrix(read_tables(static_metric_paths), list(views))
    static = static[static["augmentation"] == table["augmentation"].iloc[0]]
    metric = headline_metric(kind, segmentation_headline)
    summary = {"dataset": dataset, **robust_summary(table, static, views, metric)}
    write_csv(matrix_path, table)
    write_json(summary_path, summary)
    return summary
