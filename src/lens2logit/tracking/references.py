"""Model references → local checkpoint files, checked before any compute.

A reference is one of

* ``models:/NAME/VERSION`` (also ``models:/NAME/latest`` and ``models:/NAME@ALIAS``): a model in
  the MLflow registry, e.g. ``models:/microscopy.none.100.bi-s-ga.fold0/1``;
* ``runs:/RUN_ID/PATH``: an artifact of an MLflow run (a checkpoint file, or a logged model folder);
* a local file path, e.g. a workflow output or a DVC-tracked checkpoint (``dvc pull`` it first).

Registry and run artifacts are downloaded once into ``results/cache/models/`` (a version never
changes, so the file and its time stay put and the workflow does not rerun). The checkpoint inside
an MLflow model is the one the ingest stored in its ``extra_files``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lens2logit.errors import InputError
from lens2logit.tracking.store import check_reachable, is_local_sqlite, resolve_tracking_uri, sqlite_path
from lens2logit import paths

TASK_MODEL, ISP_MODEL = "task-model", "isp"  # model types
CACHE_DIR = "cache/models"  # under the results folder
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/]+)|@(?P<alias>[^/]+))$")
_RUNS_URI = re.compile(r"^runs:/(?P<run>[0-9a-zA-Z]+)(?:/(?P<path>.*))?$")


def load_task_model(path: str | os.PathLike):
    """The workflow's own loader of task-model checkpoints: ``(model in eval mode, checkpoint dict)``."""
    from lens2logit.training.checkpoint import load_model

    return load_model(path)


def is_registry_reference(reference: str) -> bool:
    return str(reference).startswith(("models:/", "runs:/"))


def dataset_kind_or_none(dataset: str | None) -> str | None:
    """The kind of a registered dataset with a fixed kind; None for ``custom``, unknown names or None."""
    from lens2logit.data.registry import REGISTRY

    entry = REGISTRY.get(dataset) if dataset else None
    return entry.kind if entry is not None else None


def dataset_in_results_path(path: str) -> str | None:
    """The dataset of a prepared array or view in the results layout (``results/data/…``,
    ``results/views/…``, :mod:`lens2logit.paths`) if its kind is fixed (not ``custom``), else None."""
    keys = paths.view_keys(path) or paths.data_file_keys(path)
    dataset = keys["dataset"] if keys else None
    return dataset if dataset_kind_or_none(dataset) is not None else None


def checkpoint_identity(ckpt: Any) -> tuple[str, str | None, str | None]:
    """``(model type, workflow dataset or None, kind or None)`` of a loaded checkpoint dict.

    The model type is :data:`TASK_MODEL`, :data:`ISP_MODEL` or ``"unknown"``.
    """
    if not isinstance(ckpt, dict):
        return "unknown", None, None
    config = ckpt.get("config") or {}
    dataset = ckpt.get("dataset") or config.get("dataset")
    if not dataset:
        for value in (config.get("views_path"), config.get("targets_path"), config.get("raw_path")):
            dataset = dataset_in_results_path(str(value or ""))
            if dataset:
                break
    if ckpt.get("type") == ISP_MODEL:
        return ISP_MODEL, dataset, ckpt.get("kind") or dataset_kind_or_none(dataset)
    if "state_dict" in ckpt and "arch" in ckpt:
        return TASK_MODEL, dataset, ckpt.get("kind")
    return "unknown", dataset, None


def _client(uri: str, reference: str, option: str):
    check_reachable(uri, f"needed by {option} {reference}")
    if is_local_sqlite(uri) and not sqlite_path(uri).is_file():
        raise InputError(f"{option} {reference}: no MLflow store at {sqlite_path(uri)} (run the workflow's ingest first, or set tracking.uri)")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _find_checkpoint(folder: Path, reference: str, option: str) -> Path:
    """The lens2logit checkpoint inside a downloaded artifact: ``extra_files/*.pt``, else the only ``*.pt``."""
    if folder.is_file():
        return folder
    extra = sorted(folder.glob("extra_files/*.pt"))
    if len(extra) == 1:
        return extra[0]
    candidates = [p for p in sorted(folder.rglob("*.pt")) if p.name != "model.pth"]
    if len(candidates) == 1:
        return candidates[0]
    raise InputError(f"{option} {reference}: the artifact holds {len(candidates)} checkpoint files, expected one")


def _download(client, artifact_uri: str, target: Path, reference: str, option: str) -> Path:
    """Download once into ``target`` (atomically: a temporary sibling renamed into place)."""
    if target.exists():
        return target
    import mlflow.artifacts

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=str(tmp)))
        if local.is_file():  # a single file: keep its name inside the target folder
            (tmp / "file").mkdir()
            shutil.move(str(local), tmp / "file" / local.name)
        os.replace(tmp, target)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{option} {reference}: cannot download {artifact_uri}: {type(exc).__name__}: {exc}") from exc
    return target


def _registry_file(reference: str, uri: str, cache: Path, option: str) -> tuple[Path, dict[str, str]]:
    from mlflow.exceptions import MlflowException

    client = _client(uri, reference, option)
    m = _MODELS_URI.match(reference)
    if m:
        name, version, alias = m["name"], m["version"], m["alias"]
        try:
            client.get_registered_model(name)
        except MlflowException as exc:
            raise InputError(f"{option} {reference}: no registered model {name!r} in {uri}") from exc
        try:
            if alias:
                mv = client.get_model_version_by_alias(name, alias)
            elif version == "latest":
                versions = client.search_model_versions(f"name = '{name}'")
                if not versions:
                    raise InputError(f"{option} {reference}: registered model {name!r} has no versions")
                mv = max(versions, key=lambda v: int(v.version))
            else:
                mv = client.get_model_version(name, version)
        except MlflowException as exc:
            raise InputError(f"{option} {reference}: registered model {name!r} has no version {alias or version!r} in {uri}") from exc
        folder = _download(client, f"models:/{name}/{mv.version}", cache / "registry" / name / str(mv.version), reference, option)
        return _find_checkpoint(folder, reference, option), dict(mv.tags or {})
    m = _RUNS_URI.match(reference)
    if not m:
        raise InputError(f"{option} {reference!r}: not a model reference (models:/NAME/VERSION, runs:/RUN_ID/PATH or a checkpoint path)")
    try:
        run = client.get_run(m["run"])
    except MlflowException as exc:
        raise InputError(f"{option} {reference}: no run {m['run']!r} in {uri}") from exc
    path = (m["path"] or "").strip("/")
    folder = _download(client, reference, cache / "runs" / m["run"] / (path or "_root"), reference, option)
    return _find_checkpoint(folder, reference, option), dict(run.data.tags or {})


def resolve_model(
    reference: str,
    *,
    option: str,
    model_type: str = TASK_MODEL,
    dataset: str | None = None,
    tracking_uri: str | None = None,
    results: str | os.PathLike = "results",
) -> str:
    """Resolve a model reference to a local checkpoint path and check it fits where it is used.

    Args:
        reference: ``models:/NAME/VERSION``, ``runs:/RUN_ID/PATH`` or a file path.
        option: the config key that holds it (named in every error).
        model_type: ``"task-model"`` or ``"isp"`` — what the stage needs.
        dataset: the workflow dataset it must belong to (``microscopy``, ``drone_segmentation``, …).
        tracking_uri: registry/tracking store (default as :func:`~lens2logit.tracking.store.resolve_tracking_uri`).
        results: the results folder (cache under ``results/cache/models``).

    Returns:
        The checkpoint path (a workflow output that does not exist yet is returned unchecked:
        the workflow builds it).

    Raises:
        InputError: unknown name/version/run, unreachable server, missing file, or a checkpoint of
            the wrong model type, dataset or kind — one line naming ``option`` and the reference.
    """
    from lens2logit.io import load_torch

    reference = str(reference)
    if is_registry_reference(reference):
        uri = resolve_tracking_uri(tracking_uri, results)
        path, tags = _registry_file(reference, uri, Path(results) / CACHE_DIR, option)
    else:
        path, tags = Path(reference), {}
        if not path.is_file():
            if path.as_posix().startswith(f"{Path(results).as_posix()}/") and path.suffix == ".pt":
                return reference  # produced by this workflow
            raise InputError(f"{option} {reference}: checkpoint file not found (a DVC-tracked file: `dvc pull {reference}` first)")
    ckpt = load_torch(path, f"{option} {reference}")
    found_type, found_dataset, found_kind = checkpoint_identity(ckpt)
    found_dataset = tags.get("lens2logit.dataset") or found_dataset  # the registry version's tag
    if found_type != model_type:
        raise InputError(f"{option} {reference} is a {found_type} checkpoint, but {option} needs a {model_type}")
    if dataset is not None:
        expected_kind = dataset_kind_or_none(dataset)
        if found_dataset is not None and found_dataset != dataset:
            raise InputError(f"{option} {reference} is a {found_dataset} model, but it is used for dataset {dataset}" + (
                " (give the option as {dataset: reference} to set one model per dataset)" if option.startswith("forensics") else ""))
        if found_dataset is None and None not in (found_kind, expected_kind) and found_kind != expected_kind:
            raise InputError(f"{option} {reference} is a {found_kind} model, but dataset {dataset} is {expected_kind}")
    return str(path)


def fetch_model(reference: str, out_path: str | os.PathLike, *, option: str, model_type: str, dataset: str | None,
                tracking_uri: str | None = None, results: str | os.PathLike = "results") -> None:
    """:func:`resolve_model` (fetch through the lab log if need be, check type, dataset and kind), then
    copy the checkpoint to ``out_path`` atomically: the workflow's rule resolve_model_reference."""
    from lens2logit.io import atomic_path

    source = resolve_model(reference, option=option, model_type=model_type, dataset=dataset, tracking_uri=tracking_uri, results=results)
    with atomic_path(out_path) as tmp:
        shutil.copyfile(source, tmp)
