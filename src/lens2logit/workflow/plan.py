"""The workflow's plan: which jobs the study needs and which files each reads, from the validated config.

``rules/common.smk`` builds one :class:`Plan` (:func:`build_plan`) after validating the config,
and the rules call it: constants (``PLAN.view_slugs``), target lists (``PLAN.final_outputs()``)
and, through thin input functions that pass the job's wildcards, per-job inputs
(``PLAN.evaluation_models(dataset)``). Nothing here needs Snakemake, so the
plan is unit-tested directly (``tests/test_plan.py``). Paths come from :mod:`.paths`.

What the plan decides (docs/architecture.md):

* the science: which (view, intensity) test sets each drift model is scored on (:meth:`Plan.test_sets`),
  which models the corruption, intensity-drift, forensics, QA and robust studies read;
* the render jobs: the reference-intensity views split into a static and an unsharp-masked job,
  the few views other intensities need in a third (:attr:`Plan.other_intensity_views`);
* the targets of ``rule all`` and of the named partial targets (``rules/targets.smk``).

Every argument named ``dataset``, ``aug``, ``intensity`` (slug), ``view`` (slug) or ``fold`` is a
string as Snakemake passes wildcards; a value, or a wildcard pattern such as ``"{dataset}"`` where a
method builds a rule's output patterns.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from lens2logit.workflow.config import study_datasets
from lens2logit.data.layout import intensity_from_slug, intensity_slug
from lens2logit.data.registry import REGISTRY, dataset_kind, dataset_source, get_dataset
from lens2logit.isp.views import VIEWS, get_view
from lens2logit.tracking.references import ISP_MODEL, TASK_MODEL, is_registry_reference
from lens2logit import paths

REFERENCE = intensity_slug(1.0)
UNSHARP = "unsharp_masking"  # the sharpening whose views depend on the option `unsharp`
DRIFT_FILES = ("matrix.csv", "matrix.png", "difference.png", "summary.json")
CORRUPTION_FILES = ("table.csv", "comparison.csv", "figure.png")
INTENSITY_FILES = ("matrix.csv", "matrix.png")
FORENSICS_FILES = ("table.csv", "figure.png")
CUSTOMIZATION_FILES = ("curves.csv", "final.csv", "verdict.csv", "figure.png")
QA_FILES = ("table.csv", "corruptions.csv", "summary.csv", "scatter.png")
ROBUST_FILES = ("matrix.csv", "summary.json")
TRAINING_SHARED = ("threads", "progress", "amp")  # training options common to both kinds

# The options that take a model reference (a registry name, a run artifact or a checkpoint file) and
# the checkpoint each needs; rule resolve_model_reference fetches and checks it.
MODEL_REFERENCE_TYPES = {"forensics.model": TASK_MODEL, "customization.classifier": TASK_MODEL, "customization.isp": ISP_MODEL}


def check_device(spec: str) -> None:
    """Refuse an unknown ``training.device`` or an accelerator this machine lacks, before any job runs.

    ``auto`` and ``cpu`` always resolve: PyTorch is imported (≈ 1.4 s) only to look for a named accelerator.
    """
    if spec.strip().lower() in ("auto", "cpu"):
        return
    from lens2logit.training.device import resolve_device  # imports torch

    resolve_device(spec)


def fetched_sources() -> list[str]:
    """Source folders the workflow can make itself (synthesis, download): the ``{source}`` wildcard."""
    return list(dict.fromkeys(e.source for e in REGISTRY.values() if set(e.sources) - {"path"}))


def references_per_dataset(value, option: str, datasets: list[str]) -> dict[str, str]:
    """{dataset: reference} for a reference (the same for every dataset) or a {dataset: reference} mapping.

    Raises:
        ValueError: naming ``option``, for a dataset the run does not have, or a checkpoint file that
            is neither on disk nor a file this workflow makes (under ``results/``).
    """
    if not value:
        return {}
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(datasets))
        if unknown:
            raise ValueError(f"config {option}: unknown dataset(s) {unknown}; datasets are {datasets}")
        found = {t: str(r) for t, r in value.items()}
    else:
        found = {t: str(value) for t in datasets}
    for reference in found.values():
        if not is_registry_reference(reference) and not os.path.isfile(reference) and not reference.startswith(f"{paths.RESULTS}/"):
            raise ValueError(f"config {option}: {reference}: checkpoint file not found (a DVC-tracked file: `dvc pull {reference}` first)")
    return found


def other_intensity_views(intensity: list[tuple[str, str]], customization: list[tuple[str, str]]) -> dict[str, list[str]]:
    """{intensity slug: [view slugs]} needed below the reference intensity, sorted by intensity.

    Args:
        intensity: (intensity slug, view slug) of the intensity-drift study (empty when disabled).
        customization: the same for the customization study's static baseline.
    """
    views: dict[str, list[str]] = {}
    for i, v in [*intensity, *customization]:
        views.setdefault(i, []).append(v)
    views.pop(REFERENCE, None)
    return {i: list(dict.fromkeys(v)) for i, v in sorted(views.items())}


@dataclass(frozen=True)
class Plan:
    """What the workflow computes for one validated config (see the module docstring)."""

    config: Mapping[str, Any]
    datasets: list[str]
    dataset_kind: dict[str, str]
    dataset_source: dict[str, str]
    view_labels: list[str]
    view_slugs: list[str]
    augmentations: list[str]
    folds: list[int]  # drift.use_folds: the first k of drift.folds
    intensity_enabled: bool
    intensity_view: str
    intensity_slugs: list[str]
    intensity_folds: list[int]
    corruptions: dict[str, Any]  # the section with the preset's defaults filled in
    forensics_enabled: bool
    forensics_datasets: list[str]
    forensics_view: str
    forensics_folds: list[int]
    customization_enabled: bool
    customization_datasets: list[str]
    customization_view: str
    customization_intensities: list[float]
    customization_slugs: list[str]
    model_references: dict[tuple[str, str], str]  # {(dataset, option): reference} of MODEL_REFERENCE_TYPES' options
    robust_datasets: list[str]
    robust_folds: list[int]

    ref = REFERENCE

    # ---- options, resolved -----------------------------------------------------------------

    @property
    def primary_aug(self) -> str:
        return self.augmentations[0]

    @property
    def corruptions_enabled(self) -> bool:
        return self.corruptions["enabled"]

    @property
    def qa_enabled(self) -> bool:
        return self.config["qa"]["enabled"]

    @property
    def robust_enabled(self) -> bool:
        return self.config["robust"]["enabled"]

    @property
    def tracking_enabled(self) -> bool:
        return self.config["tracking"]["enabled"]

    @property
    def device(self) -> str:
        return self.config["training"]["device"]

    def training_params(self, dataset: str) -> dict[str, Any]:
        """The training options of the dataset's kind plus those shared by both kinds."""
        params = dict(self.config["training"][self.dataset_kind[dataset]])
        for key in TRAINING_SHARED:
            params[key] = self.config["training"][key]
        params["device"] = self.device
        return params

    def synth_params(self, source: str) -> dict[str, Any]:
        """data.synthetic.<source> without unset (null) options, so params stay those of earlier runs."""
        synth = self.config["data"]["synthetic"][source]
        return {key: value for key, value in synth.items() if value is not None}

    def dataset_marker(self, dataset: str) -> list[str] | str:
        """The verified manifest that says a dataset's source folder is complete; [] for data already on disk."""
        source = self.config["data"]["source"]
        if source == "path" or source not in get_dataset(dataset).sources:
            return []
        return paths.source_manifest(self.config["data"]["root"], self.dataset_source[dataset])

    # ---- the science plan: test sets ---------------------------------------------------------

    def test_sets(self, aug: str, intensity: str, view: str) -> list[tuple[str, str]]:
        """(view slug, intensity slug) pairs the model trained on (aug, intensity, view) is scored on.

        Models trained at the reference intensity are tested on every view; models of the
        intensity-drift view (primary augmentation) are also tested at every intensity.
        """
        pairs = []
        if intensity == self.ref:
            pairs += [(v, self.ref) for v in self.view_slugs]
        if self.intensity_enabled and view == self.intensity_view and aug == self.primary_aug:
            pairs += [(view, i) for i in self.intensity_slugs if (view, i) not in pairs]
        return pairs

    def evaluation_keys(self) -> list[tuple[str, str, str, int]]:
        """(aug, intensity, view, fold) of every model one dataset's evaluation job scores: the drift
        models (every augmentation), then the intensity-drift models below the reference."""
        keys = self._drift_keys(self.augmentations, self.folds)
        if self.intensity_enabled:
            keys += [key for key in self._intensity_keys() if key not in keys]
        return keys

    def evaluation_files(self, path: Callable[..., str]) -> list[str]:
        """Output patterns of rule evaluate_models ({dataset} a wildcard), one per evaluated model;
        ``path`` is :func:`.paths.metrics_path` or :func:`.paths.samples_path`."""
        return [path("{dataset}", *key) for key in self.evaluation_keys()]

    def evaluation_models(self, dataset: str) -> list[str]:
        return [paths.model_path(dataset, *key) for key in self.evaluation_keys()]

    def evaluation_test_sets(self, dataset: str) -> list[tuple[str, str]]:
        """(view file, targets file) of every test set the dataset's evaluation job reads, each once."""
        pairs = [
            (paths.view_path(dataset, i, v), paths.data_file(dataset, i, "targets.npy"))
            for aug, intensity, view, _ in self.evaluation_keys()
            for v, i in self.test_sets(aug, intensity, view)
        ]
        return list(dict.fromkeys(pairs))

    def evaluation_jobs(self, dataset: str) -> list[dict[str, Any]]:
        """Per evaluated model (in the order of :meth:`evaluation_keys`): ``train`` (the columns that
        describe the model) and ``test_sets`` (``views``, ``targets``, ``test_view``, ``test_intensity``)."""
        return [
            {
                "train": {
                    "train_view": get_view(view).label,
                    "train_intensity": intensity_from_slug(intensity),
                    "augmentation": aug,
                    "fold": fold,
                },
                "test_sets": [
                    {
                        "views": paths.view_path(dataset, i, v),
                        "targets": paths.data_file(dataset, i, "targets.npy"),
                        "test_view": get_view(v).label,
                        "test_intensity": intensity_from_slug(i),
                    }
                    for v, i in self.test_sets(aug, intensity, view)
                ],
            }
            for aug, intensity, view, fold in self.evaluation_keys()
        ]

    # ---- job granularity: one training job and one corruption-scoring job per view ----------
    # (a cluster that wants larger units groups them: Snakemake `--groups`/`--group-components`)

    @property
    def other_intensity(self) -> str:
        """Intensities of the twin rule train_models_intensity (its first ``intensity_drift.folds``
        folds only): every one but the reference."""
        return rf"(?!{self.ref})\d{{3}}"

    @staticmethod
    def fold_files(path: Callable[..., str], folds: list[int]) -> list[str]:
        """Output patterns of one training job: every fold of its view (``path``: :func:`.paths.model_path`)."""
        return [path("{dataset}", "{aug}", "{intensity}", "{view}", k) for k in folds]

    def corruption_models(self, dataset: str, aug: str, view: str) -> list[str]:
        """Every fold's model of the job's view."""
        return [paths.model_path(dataset, aug, self.ref, view, k) for k in self.folds]

    # ---- what each study reads ---------------------------------------------------------------

    def _drift_keys(self, augmentations: list[str], folds: list[int]) -> list[tuple[str, str, str, int]]:
        """(aug, intensity, view, fold) of the reference-intensity models, aug → view → fold."""
        return [(aug, self.ref, v, k) for aug in augmentations for v in self.view_slugs for k in folds]

    def _intensity_keys(self) -> list[tuple[str, str, str, int]]:
        """(aug, intensity, view, fold) of the intensity-drift models, intensity → fold."""
        return [(self.primary_aug, i, self.intensity_view, k) for i in self.intensity_slugs for k in self.intensity_folds]

    def drift_metrics(self, dataset: str) -> list[str]:
        return [paths.metrics_path(dataset, *key) for key in self._drift_keys(self.augmentations, self.folds)]

    def primary_drift_metrics(self, dataset: str) -> list[str]:
        return [paths.metrics_path(dataset, *key) for key in self._drift_keys([self.primary_aug], self.folds)]

    def primary_drift_samples(self, dataset: str) -> list[str]:
        """Per-sample records of the primary augmentation's drift models (reference light)."""
        return [paths.samples_path(dataset, *key) for key in self._drift_keys([self.primary_aug], self.folds)]

    def corruption_tables(self, dataset: str) -> list[str]:
        return [paths.corruption_table_path(dataset, self.primary_aug, v) for v in self.view_slugs]

    def corruption_samples(self, dataset: str) -> list[str]:
        """Per-sample records of the corruption scoring; [] when corruptions are disabled."""
        if not self.corruptions_enabled:
            return []
        return [paths.corruption_samples_path(dataset, self.primary_aug, v) for v in self.view_slugs]

    def intensity_metrics(self, dataset: str) -> list[str]:
        return [paths.metrics_path(dataset, *key) for key in self._intensity_keys()]

    def forensics_models(self, dataset: str) -> list[str]:
        """The models the forensics attack: static view, primary augmentation, reference light, or
        the one model ``forensics.model`` names."""
        if (dataset, "forensics.model") in self.model_references:
            return [paths.reference_model_path(dataset, "forensics.model")]
        return [paths.model_path(dataset, self.primary_aug, self.ref, self.forensics_view, k) for k in self.forensics_folds]

    def customization_start(self, dataset: str) -> dict[str, str]:
        """{"classifier"?: path, "isp"?: path}: the checkpoints customization starts from (options
        ``customization.classifier`` / ``isp``)."""
        return {option.split(".")[1]: paths.reference_model_path(d, option)
                for d, option in self.model_references if d == dataset and option.startswith("customization.")}  # fmt: skip

    def reference_files(self, dataset: str, option: str) -> list[str]:
        """The checkpoint file a reference names (an input of resolve_model_reference), or none for a
        registry name or run artifact."""
        reference = self.model_references[(dataset, option)]
        return [] if is_registry_reference(reference) else [reference]

    def customization_data(self, dataset: str, name: str) -> list[str]:
        """``name`` (raw.npy, targets.npy, meta.json) of the dataset at each customization intensity."""
        return [paths.data_file(dataset, i, name) for i in self.customization_slugs]

    def customization_views(self, dataset: str) -> list[str]:
        return [paths.view_path(dataset, i, self.customization_view) for i in self.customization_slugs]

    def qa_samples(self, dataset: str) -> list[str]:
        """Per-sample records of every drift model (reference intensity) on every view."""
        return [paths.samples_path(dataset, *key) for key in self._drift_keys(self.augmentations, self.folds)]

    def robust_training_inputs(self, dataset: str) -> dict[str, Any]:
        """What the leave-one-view-out job reads besides the views: the reference-intensity mosaics
        (``raw``) with regime isp_random, which renders them in the job."""
        if self.config["robust"]["regime"] == "isp_random":
            return {"raw": paths.data_file(dataset, self.ref, "raw.npy")}
        return {}

    def robust_files(self, path: Callable[..., str]) -> list[str]:
        """Output patterns of rule train_robust ({dataset} a wildcard), held-out view after view, fold
        after fold; ``path`` is :func:`.paths.robust_model_path` or :func:`.paths.robust_metrics_path`."""
        return [path("{dataset}", v, k) for v in self.view_slugs for k in self.robust_folds]

    def robust_metrics(self, dataset: str) -> list[str]:
        return [paths.robust_metrics_path(dataset, v, k) for v in self.view_slugs for k in self.robust_folds]

    def robust_static_metrics(self, dataset: str) -> list[str]:
        """The static-view models' tables on the robust folds (compared fold for fold)."""
        return [paths.metrics_path(dataset, *key) for key in self._drift_keys([self.primary_aug], self.robust_folds)]

    def tracking_inputs(self) -> list[str]:
        """Every finished result the lab log ingests (the ingest itself reads the results folder).

        The customization job's models/ folder comes with its tables; a folder has no checksum, so
        as an input it would rerun the ingest after every `dvc pull`.
        """
        files = []
        for dataset in self.datasets:
            keys = self._drift_keys(self.augmentations, self.folds)
            if self.intensity_enabled:
                keys += self._intensity_keys()
            files += [paths.metrics_path(dataset, *key) for key in keys]
            files += [paths.model_path(dataset, *key) for key in keys]
        files += self.drift_outputs() + self.findings_outputs() + self.corruption_outputs() + self.intensity_outputs()
        files += self.forensics_outputs() + self.customization_outputs()
        if self.forensics_enabled:
            files += [paths.stage_file("forensics", t, "attacks.json") for t in self.forensics_datasets]
        return sorted(set(files))

    # ---- render jobs -------------------------------------------------------------------------

    @property
    def ref_static_slugs(self) -> list[str]:
        """Views at the reference intensity rendered by one job per dataset (no unsharp masking)."""
        return [s for s in self.view_slugs if get_view(s).sharpen != UNSHARP]

    @property
    def ref_unsharp_slugs(self) -> list[str]:
        """The unsharp-masked ones: a job of their own, so that `unsharp` reruns only them."""
        return [s for s in self.view_slugs if get_view(s).sharpen == UNSHARP]

    @property
    def other_intensity_views(self) -> dict[str, list[str]]:
        """{intensity slug: [view slugs]} the intensity-drift and customization studies need below the reference."""
        intensity = [(i, self.intensity_view) for i in self.intensity_slugs] if self.intensity_enabled else []
        custom = [(i, self.customization_view) for i in self.customization_slugs] if self.customization_enabled else []
        return other_intensity_views(intensity, custom)

    @property
    def other_intensity_unsharp(self) -> str:
        """The `unsharp` mode of the other-intensity job: the option only if one of its views is unsharp-masked."""
        views = [v for vs in self.other_intensity_views.values() for v in vs]
        return self.config["unsharp"] if any(get_view(v).sharpen == UNSHARP for v in views) else "paper"

    def ref_view_files(self, slugs: list[str]) -> list[str]:
        """Patterns of the views ``slugs`` at the reference intensity ({dataset} a wildcard)."""
        return [paths.view_path("{dataset}", self.ref, s) for s in slugs]

    def other_intensity_data(self, name: str) -> list[str]:
        """Patterns of ``name`` (raw.npy, meta.json) at each intensity of the other-intensity job."""
        return [paths.data_file("{dataset}", i, name) for i in self.other_intensity_views]

    def other_intensity_view_files(self) -> list[str]:
        """Output patterns of rule render_views_other_intensities."""
        return [paths.view_path("{dataset}", i, v) for i, vs in self.other_intensity_views.items() for v in vs]

    # ---- targets -----------------------------------------------------------------------------

    def _stage_files(self, stage: str, names: tuple[str, ...], enabled: bool = True, datasets: list[str] | None = None) -> list[str]:
        """``names`` of ``stage`` for each dataset (default: every dataset), dataset after dataset; [] if not ``enabled``."""
        if not enabled:
            return []
        return [paths.stage_file(stage, t, name) for t in (self.datasets if datasets is None else datasets) for name in names]

    def data_outputs(self) -> list[str]:
        return [paths.data_file(t, self.ref, "meta.json") for t in self.datasets]

    def view_outputs(self) -> list[str]:
        return [paths.view_path(t, self.ref, v) for t in self.datasets for v in self.view_slugs]

    def rendered_view_outputs(self) -> list[str]:
        """Every view file the study uses, at every intensity (the DVC `views` stage's target)."""
        files = self.view_outputs()
        if self.intensity_enabled:
            files += [paths.view_path(t, i, self.intensity_view) for t in self.datasets for i in self.intensity_slugs]
        if self.customization_enabled:
            files += [paths.view_path(t, i, self.customization_view) for t in self.customization_datasets for i in self.customization_slugs]
        return list(dict.fromkeys(files))

    def drift_outputs(self) -> list[str]:
        return self._stage_files("drift", DRIFT_FILES)

    def drift_summaries(self) -> list[str]:
        return [paths.stage_file("drift", t, "summary.json") for t in self.datasets]

    def corruption_outputs(self) -> list[str]:
        return self._stage_files("corruptions", CORRUPTION_FILES, self.corruptions_enabled)

    def intensity_outputs(self) -> list[str]:
        return self._stage_files("intensity", INTENSITY_FILES, self.intensity_enabled)

    def forensics_outputs(self) -> list[str]:
        return self._stage_files("forensics", FORENSICS_FILES, self.forensics_enabled, self.forensics_datasets)

    def customization_outputs(self) -> list[str]:
        return self._stage_files("customization", CUSTOMIZATION_FILES, self.customization_enabled, self.customization_datasets)

    def qa_outputs(self) -> list[str]:
        return self._stage_files("qa", QA_FILES, self.qa_enabled)

    def robust_outputs(self) -> list[str]:
        return self._stage_files("robust", ROBUST_FILES, self.robust_enabled, self.robust_datasets)

    def findings_outputs(self) -> list[str]:
        return [paths.findings_path(t) for t in self.datasets]

    def tracking_outputs(self) -> list[str]:
        return [paths.INGEST] if self.tracking_enabled else []

    def timing_outputs(self) -> list[str]:
        """Time split by rule (rule `timing`, after the summary)."""
        return list(paths.TIMING)

    def summary_inputs(self, study: str) -> list[str]:
        """What rule summarize reads of ``study`` (corruptions, intensity, forensics, customization,
        qa, robust); [] when it is disabled."""
        return {
            "corruptions": [p for p in self.corruption_outputs() if p.endswith("comparison.csv")],
            "intensity": [p for p in self.intensity_outputs() if p.endswith(".csv")],
            "forensics": [p for p in self.forensics_outputs() if p.endswith(".csv")],
            "customization": [p for p in self.customization_outputs() if p.endswith(("final.csv", "verdict.csv"))],
            "qa": [p for p in self.qa_outputs() if p.endswith("summary.csv")],
            "robust": [p for p in self.robust_outputs() if p.endswith("summary.json")],
        }[study]

    def final_outputs(self) -> list[str]:
        """The study's results (``rule all`` adds the robust models and the timing)."""
        return (
            self.drift_outputs()
            + self.findings_outputs()
            + self.corruption_outputs()
            + self.qa_outputs()
            + self.intensity_outputs()
            + self.forensics_outputs()
            + self.customization_outputs()
            + [paths.SUMMARY]
            + self.tracking_outputs()
        )


def build_plan(config: Mapping[str, Any]) -> Plan:
    """The plan of a validated config (schema defaults filled in, ``check_config`` passed).

    Model references (``forensics.model``, ``customization.classifier``/``isp``) stay references: the
    rule resolve_model_reference fetches and checks each one (through the lab log for registry names),
    so planning contacts no tracking server.
    """
    from lens2logit.corruptions.presets import resolve_corruptions

    datasets = list(config["datasets"])
    kinds = {t: dataset_kind(t, config) for t in datasets}
    corruptions = resolve_corruptions(config["corruptions"])
    views = VIEWS if config["views"] == "all" else list(config["views"])
    drift = config["drift"]
    folds = list(range(drift["use_folds"] or drift["folds"]))
    intensity, forensics, custom, robust = (config[k] for k in ("intensity_drift", "forensics", "customization", "robust"))
    custom_intensities = [float(i) for i in custom["intensities"]]
    forensics_datasets, custom_datasets = (study_datasets(datasets, s["datasets"]) for s in (forensics, custom))

    model_references: dict[tuple[str, str], str] = {}
    for option in MODEL_REFERENCE_TYPES:
        study = option.split(".")[0]
        if config[study]["enabled"]:
            section, study_sets = config[study], (forensics_datasets if study == "forensics" else custom_datasets)
            for dataset, reference in references_per_dataset(section[option.split(".")[1]], option, study_sets).items():
                model_references[(dataset, option)] = reference

    return Plan(
        config=config,
        datasets=datasets,
        dataset_kind=kinds,
        dataset_source={t: dataset_source(t) for t in datasets},
        view_labels=views,
        view_slugs=[get_view(v).slug for v in views],
        augmentations=drift["augmentations"],
        folds=folds,
        intensity_enabled=intensity["enabled"],
        intensity_view=get_view(intensity["view"]).slug,
        intensity_slugs=[intensity_slug(i) for i in intensity["intensities"]],
        intensity_folds=folds[: intensity["folds"]],  # null = all
        corruptions=corruptions,
        forensics_enabled=forensics["enabled"],
        forensics_datasets=forensics_datasets,
        forensics_view=get_view(forensics["view"]).slug,
        forensics_folds=folds[: forensics["folds"]],
        customization_enabled=custom["enabled"],
        customization_datasets=custom_datasets,
        customization_view=get_view(custom["view"]).slug,
        customization_intensities=custom_intensities,
        customization_slugs=[intensity_slug(i) for i in custom_intensities],
        model_references=model_references,
        robust_datasets=study_datasets(datasets, robust["datasets"]),
        robust_folds=folds[: robust["folds"]],
    )
