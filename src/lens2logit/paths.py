"""Where the workflow's files live: one function per artefact, relative to the workflow directory.

Every argument may be a value (``"microscopy"``, ``"100"``, ``0``) or a Snakemake wildcard
(``"{dataset}"``): the same function gives a concrete path for the plan and a pattern for a
rule's ``output:``. Intensities and views are slugs (:func:`lens2logit.data.layout.intensity_slug`,
:attr:`lens2logit.isp.views.View.slug`); a fold is its index (``fold{fold}``).

The layout (docs/architecture.md)::

    results/data/{dataset}/{intensity}/{raw.npy,targets.npy,meta.json}
    results/views/{dataset}/{intensity}/{view}.npy
    results/splits/{dataset}.json
    results/references/{dataset}/{option}.pt
    results/{models,metrics,samples}/{dataset}/{aug}/{intensity}/{view}/fold{k}.{pt,csv,csv}
    results/{corruptions,corruption_samples}/{dataset}/{aug}/{view}.csv
    results/robust/{dataset}/{models,metrics}/{view}/fold{k}.{pt,csv}
    results/{drift,corruptions,intensity,forensics,customization,qa,robust}/{dataset}/{name}
    results/findings/{dataset}.json, results/summary.md, results/timing.{csv,md}, results/mlflow/ingest.json
    results/benchmarks/train_models/{dataset}/{aug}/{intensity}/{view}.tsv
    results/customization/{dataset}/stages/{processing}_{intensity}_epoch{EEE}.png
    results/customization/{dataset}/models/{classifier,isp}_{processing}_{intensity}_fold{k}.pt

The artefacts the lab log reads back (models, metrics, samples, job benchmarks, customization stage
grids and saved models) are each one :class:`Template`: the forward function formats it, and its
``*_keys`` inverse matches a path against a regular expression compiled from the same template
(each wildcard constrained by :data:`WILDCARD_PATTERNS`). An inverse returns the keys as strings
(``{"dataset": "microscopy", ..., "fold": "0"}``) or ``None`` for a path of another layout.
"""

from __future__ import annotations

import functools
import os
import re
import string
from dataclasses import dataclass

RESULTS = "results"
MANIFEST = "MANIFEST.sha256"  # the verified list of a source folder's files (its completion marker)
SUMMARY = f"{RESULTS}/summary.md"
TIMING = (f"{RESULTS}/timing.csv", f"{RESULTS}/timing.md")
INGEST = f"{RESULTS}/mlflow/ingest.json"


# The values a wildcard takes in a results path: the inverses (``*_keys``) accept exactly these, and
# rules/common.smk constrains its {intensity}, {view} and {fold} wildcards with them. Datasets and
# augmentations are any lower-case names here (the workflow narrows them to the planned ones).
WILDCARD_PATTERNS: dict[str, str] = {
    "dataset": r"[a-z_]+",
    "aug": r"[a-z]+",
    "intensity": r"\d{3}",  # intensity_slug: 0.05 → 005
    "view": r"[a-z]{2}-[su]-[a-z]{2}",  # View.slug: bi-s-me
    "fold": r"\d+",
    "rule": r"[a-z_]+",
    "processing": r"[a-z]+",  # customization: static | parametrized | neural
    "role": r"classifier|isp",  # a saved customization model: the task model or the learned ISP
    "epoch": r"\d+",
    "name": r"raw\.npy|targets\.npy|meta\.json",  # a prepared dataset's files (data_file)
}
EPOCH_DIGITS = 3  # stage grids are numbered epoch001, epoch002, … (sorted by name = by epoch)


@dataclass(frozen=True)
class Template:
    """One path layout: ``text`` is a :meth:`str.format` template whose fields are wildcards of
    :data:`WILDCARD_PATTERNS`; :meth:`format` is the forward direction, :meth:`keys` the inverse."""

    text: str

    @property
    def fields(self) -> tuple[str, ...]:
        """The wildcards in the order they appear (``("dataset", "aug", …)``)."""
        return tuple(dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(self.text) if name))

    def format(self, **keys) -> str:
        """The path of ``keys`` (values, or wildcard patterns such as ``"{dataset}"``)."""
        return self.text.format(**keys)

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        """The template as a regular expression: one named group per wildcard, any leading folders."""
        parts, seen = [], set()
        for literal, name, spec, conversion in string.Formatter().parse(self.text):
            parts.append(re.escape(literal))
            if name is None:
                continue
            if spec or conversion or name not in WILDCARD_PATTERNS:
                raise ValueError(f"path template {self.text!r}: field {{{name}}} is not a plain wildcard of WILDCARD_PATTERNS")
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{WILDCARD_PATTERNS[name]})")
            seen.add(name)
        return re.compile(r"(?:.*/)?" + "".join(parts))

    def keys(self, path: str | os.PathLike) -> dict[str, str] | None:
        """The wildcard values of ``path`` (strings), or ``None`` if ``path`` is not of this layout.

        ``path`` may be relative to the workflow directory (``results/…``) or any path ending in
        that form at a folder boundary (``/abs/dir/results/…``).
        """
        match = self.regex.fullmatch(os.fspath(path).replace(os.sep, "/"))
        return match.groupdict() if match else None


_VIEW_MODELS = "{dataset}/{aug}/{intensity}/{view}"  # one training job: every fold of a view
_FOLD_MODEL = _VIEW_MODELS + "/fold{fold}"
DATA_FILE = Template(f"{RESULTS}/data/{{dataset}}/{{intensity}}/{{name}}")
VIEW = Template(f"{RESULTS}/views/{{dataset}}/{{intensity}}/{{view}}.npy")
MODEL = Template(f"{RESULTS}/models/{_FOLD_MODEL}.pt")
METRICS = Template(f"{RESULTS}/metrics/{_FOLD_MODEL}.csv")
SAMPLES = Template(f"{RESULTS}/samples/{_FOLD_MODEL}.csv")
TRAINING_BENCHMARK = Template(f"{RESULTS}/benchmarks/{{rule}}/{_VIEW_MODELS}.tsv")
# File names inside the folders a customization job is given (its outputs ``stages`` and ``models``).
CUSTOMIZATION_STAGE = Template("{processing}_{intensity}_epoch{epoch}.png")
CUSTOMIZATION_MODEL = Template("{role}_{processing}_{intensity}_fold{fold}.pt")


def under_results(path: str) -> str:
    """``path`` (``results/…``) relative to the results folder, e.g. to glob a results folder
    that lives elsewhere."""
    prefix = f"{RESULTS}/"
    if not path.startswith(prefix):
        raise ValueError(f"{path!r} is not under {prefix}")
    return path[len(prefix):]


def in_results(relative: str | os.PathLike) -> str:
    """Inverse of :func:`under_results`: a path relative to the results folder → ``results/…``."""
    return f"{RESULTS}/{os.fspath(relative).replace(os.sep, '/')}"


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
    return DATA_FILE.format(dataset=dataset, intensity=intensity, name=name)


def data_file_keys(path: str | os.PathLike) -> dict[str, str] | None:
    """Inverse of :func:`data_file`: ``{dataset, intensity, name}`` or ``None``."""
    return DATA_FILE.keys(path)


def view_path(dataset, intensity, view) -> str:
    """A rendered view, ``(N, 3, H, W)`` float array."""
    return VIEW.format(dataset=dataset, intensity=intensity, view=view)


def view_keys(path: str | os.PathLike) -> dict[str, str] | None:
    """Inverse of :func:`view_path`: ``{dataset, intensity, view}`` or ``None``."""
    return VIEW.keys(path)


def splits_path(dataset) -> str:
    """The dataset's cross-validation folds."""
    return f"{RESULTS}/splits/{dataset}.json"


def reference_model_path(dataset, option) -> str:
    """The checkpoint a model reference option (``forensics.model``, ``customization.isp`` …) names for
    ``dataset``, fetched and checked by rule resolve_model_reference."""
    return f"{RESULTS}/references/{dataset}/{option}.pt"


def model_path(dataset, aug, intensity, view, fold) -> str:
    """A drift model's checkpoint (trained on ``view`` at ``intensity``, augmentation ``aug``)."""
    return MODEL.format(dataset=dataset, aug=aug, intensity=intensity, view=view, fold=fold)


def model_keys(path: str | os.PathLike) -> dict[str, str] | None:
    """Inverse of :func:`model_path`: ``{dataset, aug, intensity, view, fold}`` or ``None``."""
    return MODEL.keys(path)


def metrics_path(dataset, aug, intensity, view, fold) -> str:
    """A drift model's metrics on its test sets."""
    return METRICS.format(dataset=dataset, aug=aug, intensity=intensity, view=view, fold=fold)


def metrics_keys(path: str | os.PathLike) -> dict[str, str] | None:
    """Inverse of :func:`metrics_path` (the keys of the model the metrics are of) or ``None``."""
    return METRICS.keys(path)


def samples_path(dataset, aug, intensity, view, fold) -> str:
    """A drift model's per-sample records on its test sets (next to its metrics)."""
    return SAMPLES.format(dataset=dataset, aug=aug, intensity=intensity, view=view, fold=fold)


def samples_keys(path: str | os.PathLike) -> dict[str, str] | None:
    """Inverse of :func:`samples_path` or ``None``."""
    return SAMPLES.keys(path)


def job_benchmark_path(rule: str, dataset, aug, intensity, view) -> str:
    """The Snakemake benchmark of a training job (``train_models``, ``train_models_intensity``): one per view."""
    return TRAINING_BENCHMARK.format(rule=rule, dataset=dataset, aug=aug, intensity=intensity, view=view)


def job_benchmark_keys(path: str | os.PathLike) -> dict[str, str] | None:
    """Inverse of :func:`job_benchmark_path`: ``{rule, dataset, aug, intensity, view}``, or ``None``."""
    return TRAINING_BENCHMARK.keys(path)


def customization_stage_name(processing, intensity, epoch) -> str:
    """File name of a learned ISP's stage grid at ``epoch`` (an int, numbered with
    :data:`EPOCH_DIGITS` digits, or a wildcard), inside the customization job's ``stages`` folder."""
    epoch = f"{epoch:0{EPOCH_DIGITS}d}" if isinstance(epoch, int) else epoch
    return CUSTOMIZATION_STAGE.format(processing=processing, intensity=intensity, epoch=epoch)


def customization_stage_keys(path: str | os.PathLike) -> dict[str, str] | None:
    """Inverse of :func:`customization_stage_name` (a name or a path ending in one) or ``None``."""
    return CUSTOMIZATION_STAGE.keys(path)


def customization_model_name(role, processing, intensity, fold) -> str:
    """File name of a model saved by customization (``role``: ``classifier`` for the task model,
    ``isp`` for the learned ISP), inside the customization job's ``models`` folder."""
    return CUSTOMIZATION_MODEL.format(role=role, processing=processing, intensity=intensity, fold=fold)


def customization_model_keys(path: str | os.PathLike) -> dict[str, str] | None:
    """Inverse of :func:`customization_model_name` or ``None``."""
    return CUSTOMIZATION_MODEL.keys(path)


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


def stage_folder(stage: str) -> str:
    """The folder of a study's results (``stage``: drift, corruptions, intensity, forensics, customization, qa, robust),
    one sub-folder per dataset."""
    return f"{RESULTS}/{stage}"


def stage_file(stage: str, dataset, name: str) -> str:
    """A per-dataset result of a study (:func:`stage_folder`)."""
    return f"{stage_folder(stage)}/{dataset}/{name}"


def customization_stages_dir(dataset) -> str:
    """The folder of a dataset's customization stage grids (:func:`customization_stage_name`)."""
    return stage_file("customization", dataset, "stages")


def customization_models_dir(dataset) -> str:
    """The folder of a dataset's saved customization models (:func:`customization_model_name`)."""
    return stage_file("customization", dataset, "models")


def findings_path(dataset) -> str:
    """The paper-comparison findings of a dataset, with their bootstrap intervals."""
    return f"{RESULTS}/findings/{dataset}.json"
