"""Where the workflow's files live: one function per artefact, relative to the workflow directory.

Every argument may be a value (``"bloodmnist"``, ``"100"``, ``0``) or a Snakemake wildcard
(``"{dataset}"``): the same function gives a concrete path for the plan and a pattern for a
rule's ``output:``. Intensities and views are slugs (:func:`lens2logit.data.layout.intensity_slug`,
:attr:`lens2logit.isp.views.View.slug`); a fold is its index (``fold{fold}``).

The layout (docs/architecture.md)::

    results/data/{dataset}/{intensity}/{raw.npy,targets.npy,meta.json}
    results/views/{dataset}/{intensity}/{view}.npy
    results/splits/{dataset}.json
    results/{models,metrics,samples}/{dataset}/{aug}/{intensity}/{view}/fold{k}.{pt,csv,csv}
    results/{corruptions,corruption_samples}/{dataset}/{aug}/{view}.csv
    results/robust/{dataset}/{models,metrics}/{view}/fold{k}.{pt,csv}
    results/{drift,corruptions,intensity,forensics,customization,qa,robust}/{dataset}/{name}
    results/findings/{dataset}.json, results/summary.md, results/timing.{csv,md}, results/mlflow/ingest.json
"""

from __future__ import annotations

RESULTS = "results"
MANIFEST = "MANIFEST.sha256"  # the verified list of a source folder's files (its completion marker)
SUMMARY = f"{RESULTS}/summary.md"
TIMING = (f"{RESULTS}/timing.csv", f"{RESULTS}/timing.md")
INGEST = f"{RESULTS}/mlflow/ingest.json"


def source_folder(data_root: str, source: str) -> str:
    """The raw-data folder of one source (``microscopy``, ``drone``) under ``data.root``."""
    return f"{data_root}/{source}"


def source_manifest(data_root: str, source: str) -> str:
    """The file that says a source folder is complete (made by synthesis or download)."""
    return f"{source_folder(data_root, source)}/{MANIFEST}"


def tile_cache(source: str) -> str:
    """Derived tiles of a source, kept out of the (DVC-versioned) data folder."""
    return f"{RESULTS}/cache/tiles/{source}"


def data_file(dataset, intensity, name: str) -> str:
    """A prepared array or its metadata: ``name`` is ``raw.npy``, ``targets.npy`` or ``meta.json``."""
    return f"{RESULTS}/data/{dataset}/{intensity}/{name}"


def view_path(dataset, intensity, view) -> str:
    """A rendered view, ``(N, 3, H, W)`` float array."""
    return f"{RESULTS}/views/{dataset}/{intensity}/{view}.npy"


def splits_path(dataset) -> str:
    """The dataset's cross-validation folds."""
    return f"{RESULTS}/splits/{dataset}.json"


def _model_file(folder: str, dataset, aug, intensity, view, fold, suffix: str) -> str:
    return f"{RESULTS}/{folder}/{dataset}/{aug}/{intensity}/{view}/fold{fold}{suffix}"


def model_path(dataset, aug, intensity, view, fold) -> str:
    """A drift model's checkpoint (trained on ``view`` at ``intensity``, augmentation ``aug``)."""
    return _model_file("models", dataset, aug, intensity, view, fold, ".pt")


def metrics_path(dataset, aug, intensity, view, fold) -> str:
    """A drift model's metrics on its test sets."""
    return _model_file("metrics", dataset, aug, intensity, view, fold, ".csv")


def samples_path(dataset, aug, intensity, view, fold) -> str:
    """A drift model's per-sample records on its test sets (next to its metrics)."""
    return _model_file("samples", dataset, aug, intensity, view, fold, ".csv")


def corruption_table_path(dataset, aug, view) -> str:
    """The corruption scores of one view's models (every fold)."""
    return f"{RESULTS}/corruptions/{dataset}/{aug}/{view}.csv"


def corruption_samples_path(dataset, aug, view) -> str:
    """The per-sample records of the corruption scoring of one view's models."""
    return f"{RESULTS}/corruption_samples/{dataset}/{aug}/{view}.csv"


def robust_model_path(dataset, view, fold) -> str:
    """The leave-one-view-out model that did not see ``view``."""
    return f"{RESULTS}/robust/{dataset}/models/{view}/fold{fold}.pt"


def robust_metrics_path(dataset, view, fold) -> str:
    """Its metrics on every view."""
    return f"{RESULTS}/robust/{dataset}/metrics/{view}/fold{fold}.csv"


def stage_file(stage: str, dataset, name: str) -> str:
    """A per-dataset result of a study (``stage``: drift, corruptions, intensity, forensics, customization, qa, robust)."""
    return f"{RESULTS}/{stage}/{dataset}/{name}"


def findings_path(dataset) -> str:
    """The paper-comparison findings of a dataset, with their bootstrap intervals."""
    return f"{RESULTS}/findings/{dataset}.json"
