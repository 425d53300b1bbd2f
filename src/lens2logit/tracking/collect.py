"""Read a finished results folder into run records (what to log), without importing MLflow.

One :class:`RunRecord` per

* trained drift model ``results/models/{dataset}/{aug}/{intensity}/{view}/fold{k}.pt`` (Train
  experiment; per-epoch history as metric histories, split indices, config, wall time; the model
  is registered as ``{dataset}.{aug}.{intensity}.{view}.fold{k}``),
* evaluation job ``results/metrics/...`` (Test experiment; metric ``{metric}.{test view}.{test
  intensity}`` per test set, e.g. ``accuracy.ma-s-me.100``; linked to its training run by the tags
  ``lens2logit.train_key``/``train_run_id``), plus one summary run per dataset with the
  drift/corruption/intensity tables and figures,
* forensics attack ``(parameter group, λ, regulariser, fold)`` from
  ``results/forensics/{dataset}/attacks.json`` (and the clean reference per fold), plus a summary
  run with table, figure, strips and parameters,
* customization ``(processing, intensity, fold)`` from ``results/customization/{dataset}/curves.csv``
  with the per-epoch stage/gradient images and the saved classifier and ISP (registered as
  ``{dataset}.{aug}.{intensity}.{processing}.fold{k}`` and ``isp.{dataset}.{intensity}.{processing}.fold{k}``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lens2logit.data.layout import intensity_from_slug, intensity_slug
from lens2logit.tracking.store import (
    CUSTOMIZATION_EXPERIMENTS,
    FORENSICS_EXPERIMENT,
    TEST_EXPERIMENT,
    TRAIN_EXPERIMENT,
)
from lens2logit import paths

# Bump when what is logged per run changes: every run is then replaced on the next ingest.
RECORD_VERSION = "2"  # 2: param/tag "task" became "dataset", "dataset" became "source"; summary runs "run": "summary"
KEY_TAG = "lens2logit.key"
DIGEST_TAG = "lens2logit.digest"
MAX_PARAM_LENGTH = 500
HISTORY_FIELDS = ("epoch", "split")
TASK_MODEL, ISP_MODEL = "task-model", "isp"

ANY = "*"  # a glob wildcard for every key of a results path
# The summary run of a dataset's drift study: its files in each study folder (artifact folder = study).
DRIFT_SUMMARY_FILES = (
    ("drift", ("matrix.csv", "matrix.png", "difference.png", "summary.json")),
    ("corruptions", ("table.csv", "comparison.csv", "figure.png")),
    ("intensity", ("matrix.csv", "matrix.png")),
)


@dataclass
class ModelRecord:
    """A model to register: ``name`` (stable registry name), its checkpoint file and model type."""

    name: str
    checkpoint: Path
    model_type: str  # TASK_MODEL | ISP_MODEL
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RunRecord:
    """Everything one MLflow run gets. ``sources`` define its digest (a changed file replaces the run)."""

    experiment: str
    key: str
    name: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[tuple[str, float, int]] = field(default_factory=list)  # (key, value, step)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: list[tuple[Path, str]] = field(default_factory=list)  # (local file, artifact dir)
    json_artifacts: dict[str, Any] = field(default_factory=dict)  # artifact file name → JSON content
    sources: list[Path] = field(default_factory=list)
    models: list[ModelRecord] = field(default_factory=list)
    train_key: str | None = None  # key of the training run this run evaluates

    def digest(self) -> str:
        h = hashlib.sha256(RECORD_VERSION.encode())
        for path in sorted(set(self.sources)):
            h.update(str(path).encode())
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        return h.hexdigest()[:32]


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_PARAM_LENGTH else text[: MAX_PARAM_LENGTH - 3] + "..."


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def source_of(dataset: str) -> str:
    """The source folder of a dataset (``microscopy`` | ``drone`` | ``custom``; unknown names as they are)."""
    from lens2logit.data.registry import REGISTRY

    entry = REGISTRY.get(dataset)
    return entry.source if entry is not None else dataset


def _view_label(slug: str) -> str:
    from lens2logit.isp.views import get_view

    return get_view(slug).label


def read_benchmark(path: Path) -> dict[str, float]:
    """Snakemake benchmark TSV → ``{wall_time_s, cpu_time_s, max_rss_mb}`` (empty if missing)."""
    if not path.is_file():
        return {}
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        return {}
    row = rows[-1]
    out = {}
    for column, name in (("s", "wall_time_s"), ("cpu_time", "cpu_time_s"), ("max_rss", "max_rss_mb")):
        if _finite(row.get(column)):
            out[name] = float(row[column])
    return out


def job_benchmark(results: Path, rule: str, dataset: str, aug: str, intensity: str, view: str) -> dict[str, float]:
    """The benchmark of the training job of one view (:func:`read_benchmark`): one job trains every
    fold of the view, so its time and memory are for all of them."""
    return read_benchmark(_in(results, paths.job_benchmark_path(rule, dataset, aug, intensity, view)))


def _in(results: Path, layout_path: str) -> Path:
    """A results-layout path (``results/…``, :mod:`lens2logit.paths`) in the folder ``results``."""
    return results / paths.under_results(layout_path)


def _files(results: Path, pattern: str, keys_of) -> Iterator[tuple[Path, dict[str, str]]]:
    """Every file of one results artefact in ``results`` with its keys, sorted by path.

    ``pattern``: its forward function with every key :data:`ANY`; ``keys_of``: its inverse (files
    it refuses, e.g. other slugs, are skipped).
    """
    for path in sorted(results.glob(paths.under_results(pattern))):
        keys = keys_of(paths.in_results(path.relative_to(results)))
        if keys is not None:
            yield path, keys


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def history_metrics(history: list[dict[str, Any]]) -> list[tuple[str, float, int]]:
    """Rows ``{"epoch", "split", metric...}`` → ``("{split}_{metric}", value, epoch)``."""
    out = []
    for row in history:
        for name, value in row.items():
            if name not in HISTORY_FIELDS and _finite(value):
                out.append((f"{row['split']}_{name}", float(value), int(row["epoch"])))
    return out


def checkpoint_device(ckpt: dict[str, Any]) -> str:
    """Device a checkpoint was trained on if it records one; the current training code runs on CPU."""
    config = ckpt.get("config") or {}
    return str(ckpt.get("device") or config.get("device") or "cpu")


# ------------------------------------------------------------------------------------------ train
def train_key(dataset: str, aug: str, intensity: str, view: str, fold: int | str) -> str:
    return f"train/{dataset}/{aug}/{intensity}/{view}/fold{fold}"


def task_model_name(dataset: str, aug: str, intensity: str, view_or_processing: str, fold: int | str) -> str:
    """Registry name of a task model, e.g. ``microscopy.none.100.bi-s-me.fold0``."""
    return f"{dataset}.{aug}.{intensity}.{view_or_processing}.fold{fold}"


def isp_model_name(dataset: str, intensity: str, processing: str, fold: int | str) -> str:
    """Registry name of a learned ISP, e.g. ``isp.microscopy.001.parametrized.fold0``."""
    return f"isp.{dataset}.{intensity}.{processing}.fold{fold}"


def train_records(results: Path) -> Iterator[RunRecord]:
    from lens2logit.io import load_torch

    for path, m in _files(results, paths.model_path(ANY, ANY, ANY, ANY, ANY), paths.model_keys):
        dataset, aug, intensity, view, fold = m["dataset"], m["aug"], m["intensity"], m["view"], int(m["fold"])
        ckpt = load_torch(path, "model file")
        config = dict(ckpt.get("config") or {})
        params = {
            "dataset": dataset, "source": source_of(dataset), "kind": ckpt.get("kind"), "view": _view_label(view),
            "view_slug": view, "intensity": intensity_from_slug(intensity), "augmentation": aug, "fold": fold,
            "arch": ckpt.get("arch"), "n_classes": ckpt.get("n_classes"), "classes": ckpt.get("classes"),
            "n_train": len(ckpt.get("train_indices", [])), "n_val": len(ckpt.get("val_indices", [])),
        }  # fmt: skip
        params.update({k: v for k, v in config.items() if k not in params})
        record = RunRecord(
            experiment=TRAIN_EXPERIMENT,
            key=train_key(dataset, aug, intensity, view, fold),
            name=task_model_name(dataset, aug, intensity, view, fold),
            params={k: _param(v) for k, v in params.items()},
            metrics=history_metrics(ckpt.get("history", [])),
            tags={"device": checkpoint_device(ckpt), "lens2logit.dataset": dataset, "lens2logit.source": path.as_posix()},
            json_artifacts={
                "splits.json": {"fold": fold, "train": ckpt.get("train_indices", []), "val": ckpt.get("val_indices", [])},
                "config.json": config,
            },
            sources=[path],
            models=[ModelRecord(task_model_name(dataset, aug, intensity, view, fold), path, TASK_MODEL, {"dataset": dataset, "view": view})],
        )
        bench = job_benchmark(results, "train_models", dataset, aug, intensity, view)
        record.metrics += [(f"job_{name}", value, 0) for name, value in bench.items()]
        yield record


# ------------------------------------------------------------------------------------------- test
def test_metric_key(metric: str, test_view_slug: str, test_intensity_slug: str) -> str:
    """Metric key of one test set in an evaluation run: ``accuracy.ma-s-me.100``."""
    return f"{metric}.{test_view_slug}.{test_intensity_slug}"


def test_records(results: Path) -> Iterator[RunRecord]:
    """One run per evaluation job (a model on every test view/intensity it was scored on)."""
    from lens2logit.isp.views import get_view

    for path, m in _files(results, paths.metrics_path(ANY, ANY, ANY, ANY, ANY), paths.metrics_keys):
        dataset, aug, intensity, view, fold = m["dataset"], m["aug"], m["intensity"], m["view"], int(m["fold"])
        metrics, test_sets = [], []
        for row in _read_csv(path):
            test_slug = get_view(row.get("test_view", "")).slug
            test_int = intensity_slug(float(row.get("test_intensity", "1.0")))
            if f"{test_slug}@{test_int}" not in test_sets:
                test_sets.append(f"{test_slug}@{test_int}")
            if _finite(row.get("value")):
                metrics.append((test_metric_key(row["metric"], test_slug, test_int), float(row["value"]), 0))
        yield RunRecord(
            experiment=TEST_EXPERIMENT,
            key=f"test/{dataset}/{aug}/{intensity}/{view}/fold{fold}",
            name=f"{task_model_name(dataset, aug, intensity, view, fold)} evaluation",
            params={k: _param(v) for k, v in {
                "dataset": dataset, "source": source_of(dataset), "augmentation": aug, "fold": fold,
                "train_view": _view_label(view), "train_view_slug": view, "train_intensity": intensity_from_slug(intensity),
                "test_sets": " ".join(test_sets), "train_model": task_model_name(dataset, aug, intensity, view, fold),
            }.items()},  # fmt: skip
            metrics=metrics,  # one evaluation job scores a whole dataset: no benchmark of its own
            tags={"lens2logit.dataset": dataset, "lens2logit.source": path.as_posix()},
            sources=[path],
            train_key=train_key(dataset, aug, intensity, view, fold),
        )


def _existing(results: Path, stage: str, dataset: str, names: tuple[str, ...]) -> list[Path]:
    """The files ``names`` of a study's per-dataset folder (:func:`.paths.stage_file`) that exist."""
    files = [_in(results, paths.stage_file(stage, dataset, n)) for n in names]
    return [f for f in files if f.is_file()]


def _datasets(results: Path, stage: str) -> list[str]:
    """The datasets with a folder of ``stage`` results (``results/{stage}/{dataset}/``), sorted."""
    return sorted(folder.name for folder in _in(results, paths.stage_folder(stage)).glob(ANY))


def _summary_record(
    experiment: str, study: str, dataset: str, files: list[Path], *,
    metrics: list[tuple[str, float, int]] | None = None, artifacts: list[tuple[Path, str]] | None = None,
) -> RunRecord:
    """The one summary run of ``dataset`` in a study (``drift`` | ``forensics`` | ``customization``):
    its tables and figures as artifacts (at the top level unless ``artifacts`` says otherwise)."""
    return RunRecord(
        experiment=experiment, key=f"summary/{study}/{dataset}", name=f"{dataset} {study} summary",
        params={"dataset": dataset, "source": source_of(dataset), "run": "summary"},
        metrics=metrics or [], tags={"lens2logit.dataset": dataset},
        artifacts=[(f, "") for f in files] if artifacts is None else artifacts, sources=files,
    )  # fmt: skip


def drift_summary_records(results: Path) -> Iterator[RunRecord]:
    """One run per dataset in the Test experiment with the aggregated tables and figures."""
    for dataset in _datasets(results, "drift"):
        stages = [(stage, _existing(results, stage, dataset, names)) for stage, names in DRIFT_SUMMARY_FILES]
        files = [f for _, stage_files in stages for f in stage_files]
        if not files:
            continue
        metrics = []
        summary = _in(results, paths.stage_file("drift", dataset, "summary.json"))
        if summary.is_file():
            for name, value in json.loads(summary.read_text()).items():
                if isinstance(value, (int, float)) and _finite(value):
                    metrics.append((name, float(value), 0))
        yield _summary_record(
            TEST_EXPERIMENT, "drift", dataset, files, metrics=metrics, artifacts=[(f, stage) for stage, stage_files in stages for f in stage_files]
        )


# -------------------------------------------------------------------------------------- forensics
def forensics_records(results: Path) -> Iterator[RunRecord]:
    for dataset in _datasets(results, "forensics"):
        attacks_path = _in(results, paths.stage_file("forensics", dataset, "attacks.json"))
        strips = _in(results, paths.stage_file("forensics", dataset, "strips.png"))
        if attacks_path.is_file():
            attacks = json.loads(attacks_path.read_text())
            setup = attacks.get("setup", {})
            for entry in attacks.get("attacks", []):
                group, lam, reg, fold = entry["parameter_group"], entry.get("lambda"), entry.get("regularizer") or "", entry["fold"]
                lam_token = "clean" if lam is None else f"{float(lam):g}"
                params = {"dataset": dataset, "source": source_of(dataset), "parameter_group": group,
                          "lambda": "" if lam is None else float(lam), "regularizer": reg, "fold": fold,
                          "attacked_model": entry.get("model", ""), **setup}  # fmt: skip
                metrics = [(k, float(v), 0) for k, v in entry.get("metrics", {}).items() if _finite(v)]
                for step in entry.get("history", []):
                    metrics += [(f"attack_{k}", float(v), int(step["step"])) for k, v in step.items() if k != "step" and _finite(v)]
                record = RunRecord(
                    experiment=FORENSICS_EXPERIMENT,
                    key=f"forensics/{dataset}/{group}/{lam_token}/{reg or 'none'}/fold{fold}",
                    name=f"{dataset} {group} λ={lam_token} {reg} fold{fold}".replace("  ", " "),
                    params={k: _param(v) for k, v in params.items()},
                    metrics=metrics,
                    tags={"lens2logit.dataset": dataset, "lens2logit.source": attacks_path.as_posix()},
                    json_artifacts={"isp_parameters.json": entry.get("values", {})} if entry.get("values") else {},
                    sources=[attacks_path],
                )
                if entry.get("in_strip") and strips.is_file():
                    record.artifacts.append((strips, "images"))
                    record.sources.append(strips)
                yield record
        files = _existing(results, "forensics", dataset, ("table.csv", "figure.png", "figure_distance.png", "strips.png", "params.json", "attacks.json"))
        if files:
            yield _summary_record(FORENSICS_EXPERIMENT, "forensics", dataset, files)


# ---------------------------------------------------------------------------------- customization
def customization_records(results: Path) -> Iterator[RunRecord]:
    from lens2logit.io import load_torch

    for dataset in _datasets(results, "customization"):
        experiment = CUSTOMIZATION_EXPERIMENTS.get(source_of(dataset), CUSTOMIZATION_EXPERIMENTS["microscopy"])
        curves = _in(results, paths.stage_file("customization", dataset, "curves.csv"))
        if curves.is_file():
            runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
            for row in _read_csv(curves):
                slug = intensity_slug(float(row["intensity"]))
                runs.setdefault((row["processing"], slug, int(row["fold"])), []).append(row)
            saved: dict[tuple[str, str, int], dict[str, Path]] = {}
            models_dir = _in(results, paths.customization_models_dir(dataset))
            for path in sorted(models_dir.glob(paths.customization_model_name(ANY, ANY, ANY, ANY))):
                m = paths.customization_model_keys(path.name)
                if m:
                    saved.setdefault((m["processing"], m["intensity"], int(m["fold"])), {})[m["role"]] = path
            stages: dict[tuple[str, str], list[tuple[int, Path]]] = {}
            stages_dir = _in(results, paths.customization_stages_dir(dataset))
            for path in sorted(stages_dir.glob(paths.customization_stage_name(ANY, ANY, ANY))):
                m = paths.customization_stage_keys(path.name)
                if m:
                    stages.setdefault((m["processing"], m["intensity"]), []).append((int(m["epoch"]), path))
            for (processing, slug, fold), rows in sorted(runs.items()):
                metrics = [(f"{r['split']}_{r['metric']}", float(r["value"]), int(r["epoch"])) for r in rows if _finite(r["value"])]
                params: dict[str, Any] = {"dataset": dataset, "source": source_of(dataset), "processing": processing,
                                          "intensity": intensity_from_slug(slug), "fold": fold}  # fmt: skip
                record = RunRecord(
                    experiment=experiment, key=f"customization/{dataset}/{processing}/{slug}/fold{fold}",
                    name=f"{dataset} {processing} @{slug} fold{fold}", metrics=metrics,
                    tags={"lens2logit.dataset": dataset, "lens2logit.source": curves.as_posix()}, sources=[curves],
                )  # fmt: skip
                files = saved.get((processing, slug, fold), {})
                if "classifier" in files:
                    ckpt = load_torch(files["classifier"], "model file")
                    config = dict(ckpt.get("config") or {})
                    params.update({"arch": ckpt.get("arch"), "n_train": len(ckpt.get("train_indices", [])),
                                   "n_val": len(ckpt.get("val_indices", []))})  # fmt: skip
                    params.update({k: v for k, v in config.items() if k not in params})
                    record.tags["device"] = checkpoint_device(ckpt)
                    record.json_artifacts["splits.json"] = {"fold": fold, "train": ckpt.get("train_indices", []), "val": ckpt.get("val_indices", [])}
                    aug = str(config.get("augmentation", "none"))
                    record.models.append(ModelRecord(task_model_name(dataset, aug, slug, processing, fold), files["classifier"], TASK_MODEL, {"dataset": dataset, "processing": processing}))
                    record.sources.append(files["classifier"])
                if "isp" in files:
                    record.models.append(ModelRecord(isp_model_name(dataset, slug, processing, fold), files["isp"], ISP_MODEL, {"dataset": dataset, "processing": processing}))
                    record.sources.append(files["isp"])
                if fold == 0:
                    for epoch, png in stages.get((processing, slug), []):
                        record.artifacts.append((png, f"stages/epoch_{epoch:03d}"))
                        record.sources.append(png)
                record.params = {k: _param(v) for k, v in params.items()}
                yield record
        files = _existing(results, "customization", dataset, ("curves.csv", "final.csv", "verdict.csv", "figure.png"))
        if files:
            yield _summary_record(experiment, "customization", dataset, files)


def collect(results: str | os.PathLike = "results") -> list[RunRecord]:
    """All run records of a results folder, training runs first (test runs link to them)."""
    results = Path(results)
    return [
        *train_records(results),
        *test_records(results),
        *drift_summary_records(results),
        *forensics_records(results),
        *customization_records(results),
    ]
