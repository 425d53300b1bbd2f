"""Questions of the paper answered with SQL against the SQLite lab log, and run listing/export.

The SQL reads MLflow's own tables: ``experiments``, ``runs`` (``lifecycle_stage = 'active'``:
runs replaced by a later ingest are soft-deleted), ``params`` (``key``, ``value`` text, values
written by the ingest: intensities as ``1.0``/``0.01``, view labels as ``bi,s,ga``) and
``latest_metrics`` (the last step of each metric: the final epoch for histories).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Sequence

from lens2logit.errors import InputError

# Headline metric per dataset: accuracy (classification) or dataset IoU (segmentation).
WORST_DRIFT_PAIR = """
WITH evaluation AS (  -- one run per evaluated model
  SELECT r.run_uuid AS id,
         MAX(CASE WHEN p.key = 'dataset' THEN p.value END) AS dataset,
         MAX(CASE WHEN p.key = 'augmentation' THEN p.value END) AS augmentation,
         MAX(CASE WHEN p.key = 'train_view_slug' THEN p.value END) AS train_view,
         MAX(CASE WHEN p.key = 'train_intensity' THEN p.value END) AS train_intensity,
         CASE WHEN MAX(CASE WHEN p.key = 'dataset' THEN p.value END) = 'drone_segmentation'
              THEN 'iou_dataset' ELSE 'accuracy' END AS metric
  FROM runs r
  JOIN experiments e ON e.experiment_id = r.experiment_id
  JOIN params p ON p.run_uuid = r.run_uuid
  WHERE e.name = '1 Controlled synthesis of hardware-drift test cases (Test)'
    AND r.lifecycle_stage = 'active'
  GROUP BY r.run_uuid
),
scores AS (  -- metric keys are {metric}.{test view}.{test intensity}, e.g. accuracy.ma-s-me.100
  SELECT v.dataset, v.augmentation, v.train_view, substr(m.key, length(v.metric) + 2, 7) AS test_view,
         AVG(m.value) AS score  -- mean over folds, full light
  FROM evaluation v JOIN latest_metrics m ON m.run_uuid = v.id
  WHERE v.train_intensity = '1.0' AND m.key LIKE v.metric || '.%.100'
  GROUP BY v.dataset, v.augmentation, v.train_view, test_view
),
drops AS (
  SELECT s.dataset, s.augmentation, s.train_view, s.test_view, d.score AS diagonal, s.score, d.score - s.score AS drop_
  FROM scores s
  JOIN scores d ON d.dataset = s.dataset AND d.augmentation = s.augmentation
               AND d.train_view = s.train_view AND d.test_view = s.train_view
  WHERE s.test_view <> s.train_view
)
SELECT dataset, augmentation, train_view, test_view,
       ROUND(diagonal, 3) AS trained_view_score, ROUND(score, 3) AS test_view_score, ROUND(drop_, 3) AS score_drop
FROM drops x
WHERE drop_ = (SELECT MAX(drop_) FROM drops y WHERE y.dataset = x.dataset AND y.augmentation = x.augmentation)
ORDER BY dataset, augmentation;
""".strip()

# A group "breaks" the model at λ when the attacked metric (mean over folds) falls below half of
# the clean one; per dataset, the group(s) that do so at the smallest λ (ties: lowest metric first).
FORENSICS_SMALLEST_LAMBDA = """
WITH attack AS (
  SELECT r.run_uuid AS id,
         MAX(CASE WHEN p.key = 'dataset' THEN p.value END) AS dataset,
         MAX(CASE WHEN p.key = 'parameter_group' THEN p.value END) AS grp,
         MAX(CASE WHEN p.key = 'lambda' THEN p.value END) AS lambda,
         MAX(CASE WHEN p.key = 'regularizer' THEN p.value END) AS regularizer
  FROM runs r
  JOIN experiments e ON e.experiment_id = r.experiment_id
  JOIN params p ON p.run_uuid = r.run_uuid
  WHERE e.name = '2 Modular hardware-drift forensics' AND r.lifecycle_stage = 'active'
  GROUP BY r.run_uuid
),
scores AS (
  SELECT a.dataset, a.grp, a.regularizer, a.lambda, AVG(m.value) AS score
  FROM attack a JOIN latest_metrics m ON m.run_uuid = a.id
  WHERE m.key = CASE WHEN a.dataset = 'drone_segmentation' THEN 'iou_dataset' ELSE 'accuracy' END
    AND a.grp IS NOT NULL
  GROUP BY a.dataset, a.grp, a.regularizer, a.lambda
),
clean AS (SELECT dataset, score FROM scores WHERE grp = 'none'),
broken AS (
  SELECT s.dataset, s.grp, s.regularizer, CAST(s.lambda AS REAL) AS lambda, s.score, c.score AS clean_score
  FROM scores s JOIN clean c ON c.dataset = s.dataset
  WHERE s.grp <> 'none' AND s.score < 0.5 * c.score
)
SELECT dataset, grp AS parameter_group, regularizer, lambda AS smallest_breaking_lambda,
       ROUND(score, 3) AS attacked_score, ROUND(clean_score, 3) AS clean_score
FROM broken b
WHERE lambda = (SELECT MIN(lambda) FROM broken c WHERE c.dataset = b.dataset)
ORDER BY dataset, score;
""".strip()

# Final-epoch validation metric at 1 % light, mean over folds, per processing.
ISP_AT_LOW_LIGHT = """
WITH custom AS (
  SELECT r.run_uuid AS id,
         MAX(CASE WHEN p.key = 'dataset' THEN p.value END) AS dataset,
         MAX(CASE WHEN p.key = 'processing' THEN p.value END) AS processing,
         MAX(CASE WHEN p.key = 'intensity' THEN p.value END) AS intensity
  FROM runs r
  JOIN experiments e ON e.experiment_id = r.experiment_id
  JOIN params p ON p.run_uuid = r.run_uuid
  WHERE e.name LIKE '3 Image processing customization%' AND r.lifecycle_stage = 'active'
  GROUP BY r.run_uuid
)
SELECT c.dataset, c.processing, COUNT(*) AS folds, ROUND(AVG(m.value), 3) AS final_val_score
FROM custom c JOIN latest_metrics m ON m.run_uuid = c.id
WHERE c.intensity = '0.01'
  AND m.key = CASE WHEN c.dataset = 'drone_segmentation' THEN 'val_iou_dataset' ELSE 'val_accuracy' END
GROUP BY c.dataset, c.processing
ORDER BY c.dataset, final_val_score DESC;
""".strip()

QUERIES = {
    "worst-drift-pair": WORST_DRIFT_PAIR,
    "forensics-smallest-lambda": FORENSICS_SMALLEST_LAMBDA,
    "isp-at-1pct-light": ISP_AT_LOW_LIGHT,
}


def run_sql(db: str | os.PathLike, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` (a name of :data:`QUERIES` or SQL text) read-only on a SQLite store: ``(columns, rows)``."""
    db = Path(db)
    if not db.is_file():
        raise InputError(f"no MLflow SQLite store at {db} (run the workflow's ingest first: snakemake results/mlflow/ingest.json)")
    text = QUERIES.get(sql, sql)
    connection = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        cursor = connection.execute(text)
        return [d[0] for d in cursor.description or []], cursor.fetchall()
    except sqlite3.Error as exc:
        raise InputError(f"SQL query failed on {db}: {exc}") from exc
    finally:
        connection.close()


def search_runs(
    tracking_uri: str,
    *,
    experiments: Sequence[str] = (),
    filter_string: str = "",
    max_results: int = 100000,
):
    """Active lab-log runs as a pandas DataFrame (``run_id``, ``experiment``, ``params.*``, ``metrics.*``, ``tags.*``)."""
    from lens2logit.tracking.sync import prepare_environment
    from lens2logit.tracking.store import EXPERIMENTS, check_reachable, is_local_sqlite, sqlite_path

    check_reachable(tracking_uri, "--tracking-uri")
    if is_local_sqlite(tracking_uri) and not sqlite_path(tracking_uri).is_file():
        raise InputError(f"no MLflow store at {sqlite_path(tracking_uri)} (run the workflow's ingest first, or pass --tracking-uri)")
    prepare_environment()
    import mlflow
    import pandas as pd
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking_uri)
    names = list(experiments) or list(EXPERIMENTS)
    for i, name in enumerate(names):  # "0".."5" select by position in the lab log
        if name.isdigit() and int(name) < len(EXPERIMENTS):
            names[i] = EXPERIMENTS[int(name)]
    found = {e.name: e.experiment_id for e in mlflow.search_experiments() if e.name in names}
    unknown = [n for n in experiments if n not in found and not (n.isdigit() and int(n) < len(EXPERIMENTS) and EXPERIMENTS[int(n)] in found)] if experiments else []
    if unknown:
        raise InputError(f"unknown experiment(s) {unknown} (option --experiment); the lab log has {list(found) or list(EXPERIMENTS)}")
    if not found:
        return pd.DataFrame()
    try:
        frame = mlflow.search_runs(experiment_ids=list(found.values()), filter_string=filter_string, max_results=max_results)
    except MlflowException as exc:
        raise InputError(f"bad filter (option --filter) {filter_string!r}: {exc.message}") from exc
    if frame.empty:
        return frame
    names_by_id = {v: k for k, v in found.items()}
    frame.insert(1, "experiment", frame["experiment_id"].map(names_by_id))
    return frame
