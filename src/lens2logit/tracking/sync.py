"""Log run records (:mod:`.collect`) into MLflow, idempotently.

Every run carries two tags: ``lens2logit.key`` (stable, from the result's path) and
``lens2logit.digest`` (hash of its source files, set *last*, so a run without it is incomplete).
On each ingest: an active run with the same key and digest is kept as it is; a run whose key
matches but whose digest differs or is missing (its result changed, or an earlier ingest died
half-way) is deleted and logged anew (a new version of its registered models; older versions stay
loadable, tagged ``lens2logit.superseded``). Runs are never
duplicated. Nothing under ``results/`` is written except the store itself when it is the default
SQLite one and the summary file the workflow asks for.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

from lens2logit.io import write_json
from lens2logit.tracking.collect import DIGEST_TAG, ISP_MODEL, KEY_TAG, ModelRecord, RunRecord, collect
from lens2logit.tracking.store import EXPERIMENTS, check_reachable, is_local_sqlite, resolve_tracking_uri, sqlite_path

log = logging.getLogger(__name__)

# Client defaults for a tracking server: fail within seconds, not minutes, when it goes away.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
SEARCH_PAGE = 50000


def prepare_environment() -> None:
    """No telemetry, short HTTP retries (unless the caller set them); quiet MLflow loggers."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    for name in ("mlflow", "alembic", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)


def fast_sqlite_commits() -> None:
    """WAL journal + ``synchronous=NORMAL`` on SQLite connections of this process.

    MLflow commits after every call; with SQLite's default rollback journal each commit waits for
    an fsync (~13 ms here: ~10 s to create an empty store, most of an ingest). WAL with NORMAL
    syncs only at checkpoints; a killed process still leaves a consistent database (a power
    cut may lose the last commits, which the next ingest redoes: their runs lack the digest tag).
    """
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if getattr(fast_sqlite_commits, "installed", False):
        return

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    fast_sqlite_commits.installed = True


def code_version(repo: str | os.PathLike = ".") -> dict[str, str]:
    """Git commit of ``repo`` and whether its tracked files differ from it (at ingest time)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=20).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True, text=True, timeout=60)
        dirty = "true" if status.stdout.strip() else "false"
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", "unknown"
    return {"mlflow.source.git.commit": commit or "unknown", "lens2logit.git_dirty": dirty, "lens2logit.code_version_at": "ingest"}


def _artifact_root(uri: str) -> Path | None:
    """Artifact folder beside a SQLite store (``<db dir>/artifacts``); None: the server decides."""
    if is_local_sqlite(uri):
        return sqlite_path(uri).resolve().parent / "artifacts"
    return None


def _experiment_ids(client, uri: str) -> dict[str, str]:
    root = _artifact_root(uri)
    ids = {}
    for index, name in enumerate(EXPERIMENTS):
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            location = (root / f"exp{index}").as_uri() if root is not None else None
            ids[name] = client.create_experiment(name, artifact_location=location, tags={"lens2logit.lab_log": "true"})
        else:
            if experiment.lifecycle_stage == "deleted":
                client.restore_experiment(experiment.experiment_id)
            ids[name] = experiment.experiment_id
    return ids


def existing_runs(client, experiment_ids: Sequence[str]) -> dict[str, Any]:
    """Active runs with a lens2logit key: ``{key: Run}``."""
    runs, token = {}, None
    while True:
        page = client.search_runs(list(experiment_ids), filter_string="", max_results=SEARCH_PAGE, page_token=token)
        for run in page:
            key = run.data.tags.get(KEY_TAG)
            if key:
                runs[key] = run
        token = page.token
        if not token:
            return runs


def _remove_run(client, run) -> None:
    """Delete a run and (for a local store) its run artifact folder.

    Its registered model versions stay loadable (references by version keep working; the model
    files live outside the run folder) and are tagged ``lens2logit.superseded``.
    """
    for version in client.search_model_versions(f"run_id = '{run.info.run_id}'"):
        client.set_model_version_tag(version.name, version.version, "lens2logit.superseded", "true")
    client.delete_run(run.info.run_id)
    uri = run.info.artifact_uri or ""
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        folder = Path(unquote(urlparse(uri).path)).parent
        if folder.is_dir() and folder.name == run.info.run_id:
            shutil.rmtree(folder, ignore_errors=True)


def _pytorch_module(model: ModelRecord):
    if model.model_type == ISP_MODEL:
        from lens2logit.customization.joint import load_isp

        return load_isp(model.checkpoint)[0]
    from lens2logit.tracking.references import load_task_model

    return load_task_model(model.checkpoint)[0]


def _register(client, run_id: str, model: ModelRecord, artifact_name: str) -> str:
    """Log ``model`` as an MLflow PyTorch model (pickled module + our checkpoint in ``extra_files``)
    in the run and register it under its stable name; return ``name/version``."""
    import mlflow
    import mlflow.pytorch
    import torch

    requirements = [f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pytorch.log_model(
                _pytorch_module(model), name=artifact_name, serialization_format="pickle",
                pip_requirements=requirements, extra_files=[str(model.checkpoint)],
                metadata={"lens2logit_model_type": model.model_type, "checkpoint": model.checkpoint.name},
            )  # fmt: skip
    tags = {"lens2logit.model_type": model.model_type, **{f"lens2logit.{k}": v for k, v in model.tags.items()}}
    version = mlflow.register_model(info.model_uri, model.name, await_registration_for=0, tags=tags)
    return f"{model.name}/{version.version}"


def log_record(client, record: RunRecord, experiment_id: str, *, digest: str, extra_tags: dict[str, str], staging: Path) -> str:
    """Create one complete run; the digest tag is written last. Returns the run id."""
    from mlflow.entities import Metric, Param, RunTag

    run = client.create_run(experiment_id, run_name=record.name, tags={KEY_TAG: record.key, **record.tags, **extra_tags})
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, step) for k, v, step in record.metrics]
    params = [Param(k, v) for k, v in record.params.items()]
    # A run without files is complete with its one batch: the digest goes in the same transaction.
    simple = not (record.json_artifacts or record.artifacts or record.models)
    tags = [RunTag(DIGEST_TAG, digest)] if simple else []
    if len(params) <= 100 and len(metrics) + len(params) + len(tags) <= 1000:
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    else:  # log_batch takes at most 100 params and 1000 entities per call
        for start in range(0, len(params), 100):
            client.log_batch(run_id, params=params[start : start + 100])
        for start in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[start : start + 1000])
        if tags:
            client.log_batch(run_id, tags=tags)
    if simple:
        client.set_terminated(run_id, "FINISHED")
        return run_id
    for name, content in record.json_artifacts.items():
        folder = staging / run_id
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / name, content)
        client.log_artifact(run_id, str(folder / name))
    for path, artifact_dir in record.artifacts:
        client.log_artifact(run_id, str(path), artifact_dir or None)
    registered = []
    for model in record.models:
        artifact_name = "isp" if model.model_type == ISP_MODEL else "model"
        registered.append(_register(client, run_id, model, artifact_name))
    if registered:
        client.set_tag(run_id, "lens2logit.registered_models", " ".join(registered))
    client.set_terminated(run_id, "FINISHED")
    client.set_tag(run_id, DIGEST_TAG, digest)
    return run_id


def ingest(
    results: str | os.PathLike = "results",
    *,
    tracking_uri: str | None = None,
    summary_path: str | os.PathLike | None = None,
    repo: str | os.PathLike = ".",
    records: list[RunRecord] | None = None,
) -> dict[str, Any]:
    """Bring the lab log in line with a results folder.

    Args:
        results: the workflow's results folder.
        tracking_uri: where to log (default: config ``tracking.uri`` > ``$MLFLOW_TRACKING_URI`` >
            ``sqlite:///results/mlflow/mlflow.db``, artifacts in ``results/mlflow/artifacts``).
        summary_path: optional JSON with the counts (the workflow rule's output), written atomically last.
        repo: git repository whose commit/dirty state is recorded as the code version.
        records: pre-collected records (default: :func:`~lens2logit.tracking.collect.collect`).

    Returns:
        ``{"tracking_uri", "created", "replaced", "unchanged", "runs", "registered_models", "seconds"}``.

    Raises:
        InputError: the tracking server is unreachable before anything is logged.
        RuntimeError: the store failed mid-way (the results folder is unchanged; rerun to complete).
    """
    start = time.monotonic()
    prepare_environment()
    uri = resolve_tracking_uri(tracking_uri, results)
    check_reachable(uri)
    if is_local_sqlite(uri):
        sqlite_path(uri).parent.mkdir(parents=True, exist_ok=True)
        fast_sqlite_commits()
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    records = collect(results) if records is None else records
    counts = {"created": 0, "replaced": 0, "unchanged": 0, "registered_models": 0}
    done = 0
    try:
        ids = _experiment_ids(client, uri)
        existing = existing_runs(client, list(ids.values()))
        version = code_version(repo)
        run_ids: dict[str, str] = {}
        with tempfile.TemporaryDirectory(prefix="lens2logit-ingest-") as tmp:
            for record in records:
                digest = record.digest()
                old = existing.get(record.key)
                if old is not None and old.data.tags.get(DIGEST_TAG) == digest:
                    run_ids[record.key] = old.info.run_id
                    counts["unchanged"] += 1
                    done += 1
                    continue
                if old is not None:
                    _remove_run(client, old)
                    counts["replaced"] += 1
                else:
                    counts["created"] += 1
                tags = dict(version)
                if record.train_key:
                    tags["lens2logit.train_key"] = record.train_key
                    if record.train_key in run_ids:
                        tags["lens2logit.train_run_id"] = run_ids[record.train_key]
                run_ids[record.key] = log_record(client, record, ids[record.experiment], digest=digest, extra_tags=tags, staging=Path(tmp))
                counts["registered_models"] += len(record.models)
                done += 1
    except Exception as exc:
        raise RuntimeError(
            f"ingest into {uri} stopped after {done} of {len(records)} runs ({type(exc).__name__}: {exc}); "
            "the results folder is unchanged; run the ingest again to complete the log"
        ) from exc
    summary = {"tracking_uri": uri, "runs": len(records), **counts, "seconds": round(time.monotonic() - start, 2)}
    if summary_path is not None:
        write_json(summary_path, summary)
    return summary
