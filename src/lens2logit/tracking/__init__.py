"""The lab log: finished workflow results ingested into MLflow, and models reused by reference.

Workflow jobs never import MLflow (an import costs seconds per process). One rule at the end
(``rules/tracking.smk``) calls :func:`ingest`, which reads what the jobs wrote under ``results/``
(checkpoints with their per-epoch history and splits, metric tables, forensics and customization
tables, images and saved ISPs) and logs it into MLflow, idempotently: every run carries a stable
key and a digest of its source files; a rerun skips unchanged runs and replaces changed ones.

Modules:

* :mod:`.store` — tracking URI (config ``tracking.uri`` > ``MLFLOW_TRACKING_URI`` > SQLite under
  ``results/mlflow``), reachability check, experiment names of the paper's lab log.
* :mod:`.collect` — results folder → :class:`~.collect.RunRecord` list (no MLflow import).
* :mod:`.sync` — records → MLflow runs, metric histories, artifacts, registered models.
* :mod:`.references` — ``models:/NAME/VERSION``, ``runs:/ID/PATH`` or a checkpoint path → a local
  checkpoint file, with the model type/dataset/kind checks the workflow stages need.
* :mod:`.queries` — SQL against the SQLite store, run listing/export for ``lens2logit runs``.
"""

from lens2logit.tracking.store import EXPERIMENTS, default_tracking_uri, resolve_tracking_uri

__all__ = ["EXPERIMENTS", "default_tracking_uri", "resolve_tracking_uri", "ingest", "resolve_model"]


def ingest(*args, **kwargs):
    """See :func:`lens2logit.tracking.sync.ingest` (imported lazily: it imports MLflow)."""
    from lens2logit.tracking.sync import ingest as _ingest

    return _ingest(*args, **kwargs)


def resolve_model(*args, **kwargs):
    """See :func:`lens2logit.tracking.references.resolve_model`."""
    from lens2logit.tracking.references import resolve_model as _resolve

    return _resolve(*args, **kwargs)
