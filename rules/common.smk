import functools
from types import SimpleNamespace

from snakemake.utils import validate

from lens2logit.config import check_config, check_schema, coerce_config
from lens2logit.data.layout import intensity_from_slug, intensity_slug
from lens2logit.data.registry import (
    check_datasets,
    dataset_kind,
    dataset_root,
    dataset_source,
    get_dataset,
    is_real_source,
)
from lens2logit.experiments.corruptions import resolve_corruptions
from lens2logit.stages.paper import claims_text
from lens2logit.data.manifest import checked_branch_fingerprint
from lens2logit.isp.views import VIEWS, get_view
from lens2logit.training.device import resolve_device

# --config passes nested values as strings ('drift={folds: 3}'): typed where the schema is unambiguous.
_config = coerce_config(config, f"{workflow.basedir}/schemas/config.schema.yaml")
config.clear()
config.update(_config)
# One line naming the key, the value and what is allowed (validate() would dump schema and config).
check_schema(config, f"{workflow.basedir}/schemas/config.schema.yaml")
validate(config, schema="../schemas/config.schema.yaml")
# Everything that could otherwise fail only inside a job, checked before planning.
check_config(config)


# ---- configuration, resolved once --------------------------------------------------------

DATASETS = config["datasets"]
# Datasets come from the registry (lens2logit.data.registry): kind and source folder of each.
check_datasets(config)
DATASET_KIND = {t: dataset_kind(t, config) for t in DATASETS}
# Source folder (on-disk root) of each dataset.
DATASET_SOURCE = {t: dataset_source(t) for t in DATASETS}
VIEW_LABELS = VIEWS if config["views"] == "all" else list(config["views"])
VIEW_SLUGS = [get_view(v).slug for v in VIEW_LABELS]
AUGMENTATIONS = config["drift"]["augmentations"]
PRIMARY_AUG = AUGMENTATIONS[0]
# drift.use_folds: only the first k of the drift.folds folds are trained and evaluated (check_config).
FOLDS = list(range(config["drift"]["use_folds"] or config["drift"]["folds"]))
REF = intensity_slug(1.0)
SEGMENTATION_HEADLINE = config["report"]["segmentation_headline"]

# validate() filled every option left out with the schema's default (the one source of defaults).
INTENSITY = config["intensity_drift"]
INTENSITY_ENABLED = INTENSITY["enabled"]
INTENSITY_VIEW = get_view(INTENSITY["view"]).slug
INTENSITY_SLUGS = [intensity_slug(i) for i in INTENSITY["intensities"]]
INTENSITY_FOLDS = FOLDS[: INTENSITY["folds"]]  # null = all
CORRUPTIONS = resolve_corruptions(config["corruptions"])
CORRUPTIONS_ENABLED = CORRUPTIONS["enabled"]


FORENSICS = config["forensics"]
FORENSICS_ENABLED = FORENSICS["enabled"]
FORENSICS_VIEW = get_view(FORENSICS["view"]).slug
FORENSICS_FOLDS = FOLDS[: FORENSICS["folds"]]

CUSTOMIZATION = config["customization"]
CUSTOMIZATION_ENABLED = CUSTOMIZATION["enabled"]
CUSTOMIZATION_VIEW = get_view(CUSTOMIZATION["view"]).slug
CUSTOMIZATION_INTENSITIES = [float(i) for i in CUSTOMIZATION["intensities"]]
CUSTOMIZATION_SLUGS = [intensity_slug(i) for i in CUSTOMIZATION_INTENSITIES]

# Fails at plan time (before any job) for an unknown device or an absent GPU.
DEVICE = config["training"]["device"]
resolve_device(DEVICE)

# ---- lab log (MLflow) and model references, resolved at plan time ------------------------

TRACKING = config["tracking"]
TRACKING_ENABLED = TRACKING["enabled"]


def resolve_reference(reference, option, model_type, dataset):
    """A model reference (models:/NAME/VERSION, runs:/ID/PATH, checkpoint path) → local checkpoint."""
    from lens2logit.tracking.references import resolve_model

    return resolve_model(
        reference,
        option=option,
        model_type=model_type,
        dataset=dataset,
        tracking_uri=TRACKING["uri"],
    )


def references_per_dataset(value, option, model_type):
    """{dataset: checkpoint} for a reference (same for every dataset) or a {dataset: reference} mapping."""
    if not value:
        return {}
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(DATASETS))
        if unknown:
            raise ValueError(
                f"config {option}: unknown dataset(s) {unknown}; datasets are {DATASETS}"
            )
        return {
            t: resolve_reference(r, f"{option}.{t}", model_type, t)
            for t, r in value.items()
        }
    return {t: resolve_reference(value, option, model_type, t) for t in DATASETS}


FORENSICS_MODEL = (
    references_per_dataset(FORENSICS["model"], "forensics.model", "task-model")
    if FORENSICS_ENABLED
    else {}
)
CUSTOMIZATION_START = {}
if CUSTOMIZATION_ENABLED:
    for _option, _model_type in (("classifier", "task-model"), ("isp", "isp")):
        for _dataset, _path in references_per_dataset(
            CUSTOMIZATION[_option], f"customization.{_option}", _model_type
        ).items():
            CUSTOMIZATION_START.setdefault(_dataset, {})[_option] = _path


wildcard_constraints:
    dataset="|".join(DATASET_KIND),
    source="microscopy|drone",
    intensity=r"\d{3}",
    view=r"[a-z]{2}-[su]-[a-z]{2}",
    aug="none|weak|strong",
    fold=r"\d+",


# ---- input functions and params ---------------------------------------------------------


DATA_ROOT = config["data"]["root"]


def source_root(source):
    return f"{DATA_ROOT}/{source}"


def source_root_param(wildcards):
    return source_root(wildcards.source)


def dataset_root_param(wildcards):
    return dataset_root(wildcards.dataset, config)


def published_counts_param(wildcards):
    # Real data are checked against the published sizes (warnings in the job log).
    return is_real_source(wildcards.dataset, config)


def declared_kind_param(wildcards):
    return DATASET_KIND[wildcards.dataset] if wildcards.dataset == "custom" else None


def tile_cache_param(wildcards):
    # Derived tiles stay out of the dataset folder, which DVC versions as it was made.
    return f"results/cache/tiles/{DATASET_SOURCE[wildcards.dataset]}"


def dataset_marker(wildcards):
    """The file that says a source dataset is complete (its verified manifest)."""
    source = config["data"]["source"]
    if source == "path" or source not in get_dataset(wildcards.dataset).sources:
        return []  # data already on disk (custom data always are): no marker
    return f"{source_root(DATASET_SOURCE[wildcards.dataset])}/MANIFEST.sha256"


def data_fingerprint(wildcards):
    """Content of the files a (dataset, intensity) branch reads, for path data (a params value, so a
    relabelled, replaced, added or removed file reruns exactly that branch), plus the names in every
    intensity folder (the loader compares them). Hashes are cached by size, mtime, ctime and inode;
    a folder with a MANIFEST.sha256 is checked against it here, before any job.
    """
    if config["data"]["source"] != "path" or wildcards.dataset == "custom":
        # made by the workflow itself: the manifest (an input) stands for the content;
        # custom folders have no fixed layout to fingerprint (yet)
        return ""
    return _source_fingerprint(
        DATASET_SOURCE[wildcards.dataset], intensity_from_slug(wildcards.intensity)
    )


@functools.cache
def _source_fingerprint(source, intensity):
    # Once per (source, intensity) and plan: both drone datasets read the same branch.
    return checked_branch_fingerprint(
        source,
        source_root(source),
        intensity,
        tile_size=config["data"]["tile_size"],
        accept_changes=config["data"]["accept_changes"],
    )


def synth_params(wildcards):
    # Unset options (null) are left out: params stay those of earlier runs (no param-triggered rerun).
    synth = config["data"]["synthetic"][wildcards.source]
    return {key: value for key, value in synth.items() if value is not None}


def kind_param(wildcards):
    return DATASET_KIND[wildcards.dataset]


def paper_claims(wildcards):
    """The paper's published findings about this dataset, for report captions."""
    return claims_text(wildcards.dataset)


def training_params(wildcards):
    params = dict(config["training"][DATASET_KIND[wildcards.dataset]])
    for key in ("threads", "progress", "amp"):
        params[key] = config["training"][key]
    params["device"] = DEVICE
    return params


def model_path(dataset, aug, intensity, view, fold):
    return f"results/models/{dataset}/{aug}/{intensity}/{view}/fold{fold}.pt"


def metrics_path(dataset, aug, intensity, view, fold):
    return f"results/metrics/{dataset}/{aug}/{intensity}/{view}/fold{fold}.csv"


# drift.jobs: one training/evaluation job per view (all its folds in turn) or per fold.
JOBS_PER_FOLD = config["drift"]["jobs"] == "per_fold"
# Jobs per view split the reference intensity (drift folds) from the others (intensity folds).
JOB_INTENSITY = r"\d{3}" if JOBS_PER_FOLD else REF


def fold_files(folder, folds, suffix):
    """Output files of one training/evaluation job: every fold of its view, or its {fold}."""
    if JOBS_PER_FOLD:
        return [
            f"{folder}/{{dataset}}/{{aug}}/{{intensity}}/{{view}}/fold{{fold}}{suffix}"
        ]
    return [
        f"{folder}/{{dataset}}/{{aug}}/{{intensity}}/{{view}}/fold{k}{suffix}"
        for k in folds
    ]


def job_folds(folds):
    """params: the folds a training/evaluation job handles (in the order of its files)."""
    if JOBS_PER_FOLD:
        return lambda wildcards: [int(wildcards.fold)]
    return list(folds)


def job_path(prefix, suffix):
    """Log/benchmark path of a training/evaluation job: one per view, or per fold."""
    job = "{view}/fold{fold}" if JOBS_PER_FOLD else "{view}"
    return f"{prefix}/{{dataset}}/{{aug}}/{{intensity}}/{job}{suffix}"


def test_sets(wildcards):
    """(view slug, intensity slug) pairs a model is scored on.

    Models trained at the reference intensity are tested on every view; models of the
    intensity-drift view are also tested at every intensity.
    """
    pairs = []
    if wildcards.intensity == REF:
        pairs += [(v, REF) for v in VIEW_SLUGS]
    if (
        INTENSITY_ENABLED
        and wildcards.view == INTENSITY_VIEW
        and wildcards.aug == PRIMARY_AUG
    ):
        pairs += [
            (wildcards.view, i)
            for i in INTENSITY_SLUGS
            if (wildcards.view, i) not in pairs
        ]
    return pairs


def test_set_views(wildcards):
    return [
        f"results/views/{wildcards.dataset}/{i}/{v}.npy"
        for v, i in test_sets(wildcards)
    ]


def test_set_targets(wildcards):
    return [
        f"results/data/{wildcards.dataset}/{i}/targets.npy"
        for v, i in test_sets(wildcards)
    ]


def test_set_labels(wildcards):
    return [
        {"test_view": get_view(v).label, "test_intensity": intensity_from_slug(i)}
        for v, i in test_sets(wildcards)
    ]


def drift_metrics(wildcards):
    return [
        metrics_path(wildcards.dataset, aug, REF, v, k)
        for aug in AUGMENTATIONS
        for v in VIEW_SLUGS
        for k in FOLDS
    ]


# corruptions.jobs: one scoring job per dataset (every view) or per view.
CORRUPTION_JOB_PER_VIEW = config["corruptions"]["jobs"] == "per_view"


def corruption_job_views(wildcards):
    """View slugs one score_corruptions job scores."""
    return [wildcards.view] if CORRUPTION_JOB_PER_VIEW else VIEW_SLUGS


def corruption_models(wildcards):
    """Every fold's model of each of the job's views, view after view."""
    return [
        model_path(wildcards.dataset, wildcards.aug, REF, v, k)
        for v in corruption_job_views(wildcards)
        for k in FOLDS
    ]


def corruption_view_files(wildcards):
    return [
        f"results/views/{wildcards.dataset}/{REF}/{v}.npy"
        for v in corruption_job_views(wildcards)
    ]


def corruption_view_labels(wildcards):
    return [get_view(v).label for v in corruption_job_views(wildcards)]


def corruption_job_tables(folder="results/corruptions"):
    """Output tables of one score_corruptions job: its {view}'s, or every view's."""
    views = ["{view}"] if CORRUPTION_JOB_PER_VIEW else VIEW_SLUGS
    return [f"{folder}/{{dataset}}/{{aug}}/{v}.csv" for v in views]


def corruption_job_path(prefix, suffix):
    """Log/benchmark path of one score_corruptions job."""
    job = "{aug}/{view}" if CORRUPTION_JOB_PER_VIEW else "{aug}"
    return f"{prefix}/{{dataset}}/{job}{suffix}"


def corruption_tables(wildcards):
    return [
        f"results/corruptions/{wildcards.dataset}/{PRIMARY_AUG}/{v}.csv"
        for v in VIEW_SLUGS
    ]


def primary_drift_metrics(wildcards):
    return [
        metrics_path(wildcards.dataset, PRIMARY_AUG, REF, v, k)
        for v in VIEW_SLUGS
        for k in FOLDS
    ]


def primary_drift_samples(wildcards):
    """Per-sample records of the primary augmentation's drift models (reference light)."""
    return [
        p.replace("results/metrics/", "results/samples/", 1)
        for p in primary_drift_metrics(wildcards)
    ]


def corruption_samples(wildcards):
    if not CORRUPTIONS_ENABLED:
        return []
    return [
        p.replace("results/corruptions/", "results/corruption_samples/", 1)
        for p in corruption_tables(wildcards)
    ]


def intensity_metrics(wildcards):
    return [
        metrics_path(wildcards.dataset, PRIMARY_AUG, i, INTENSITY_VIEW, k)
        for i in INTENSITY_SLUGS
        for k in INTENSITY_FOLDS
    ]


def forensics_models(wildcards):
    """The drift-synthesis models the forensics attack: static view, primary augmentation, reference light.

    With ``forensics.model`` set: that one model (resolved at plan time).
    """
    if wildcards.dataset in FORENSICS_MODEL:
        return [FORENSICS_MODEL[wildcards.dataset]]
    return [
        model_path(wildcards.dataset, PRIMARY_AUG, REF, FORENSICS_VIEW, k)
        for k in FORENSICS_FOLDS
    ]


def customization_raw(wildcards):
    return [
        f"results/data/{wildcards.dataset}/{i}/raw.npy" for i in CUSTOMIZATION_SLUGS
    ]


def customization_targets(wildcards):
    return [
        f"results/data/{wildcards.dataset}/{i}/targets.npy" for i in CUSTOMIZATION_SLUGS
    ]


def customization_meta(wildcards):
    return [
        f"results/data/{wildcards.dataset}/{i}/meta.json" for i in CUSTOMIZATION_SLUGS
    ]


def customization_views(wildcards):
    return [
        f"results/views/{wildcards.dataset}/{i}/{CUSTOMIZATION_VIEW}.npy"
        for i in CUSTOMIZATION_SLUGS
    ]


def customization_start(wildcards):
    """{"classifier"?: path, "isp"?: path}: the checkpoints customization starts from."""
    return CUSTOMIZATION_START.get(wildcards.dataset, {})


def customization_start_files(wildcards):
    return list(customization_start(wildcards).values())


def tracking_inputs(wildcards):
    """Every finished result the lab log ingests (the ingest itself reads the results folder)."""
    files = []
    for dataset in DATASETS:
        w = SimpleNamespace(dataset=dataset)
        metrics = drift_metrics(w) + (intensity_metrics(w) if INTENSITY_ENABLED else [])
        files += metrics + [
            m.replace("results/metrics/", "results/models/")[: -len(".csv")] + ".pt"
            for m in metrics
        ]
    files += (
        drift_outputs()
        + findings_outputs()
        + corruption_outputs()
        + intensity_outputs()
    )
    files += forensics_outputs() + customization_outputs()
    if FORENSICS_ENABLED:
        files += [f"results/forensics/{t}/attacks.json" for t in DATASETS]
    # The customization job's models/ folder comes with its tables (listed above); a folder has no
    # checksum, so as an input it would rerun the ingest after every `dvc pull`.
    return sorted(set(files))


def tracking_outputs():
    return ["results/mlflow/ingest.json"] if TRACKING_ENABLED else []


# ---- targets -----------------------------------------------------------------------------


def data_outputs():
    return [f"results/data/{t}/{REF}/meta.json" for t in DATASETS]


def view_outputs():
    return [f"results/views/{t}/{REF}/{v}.npy" for t in DATASETS for v in VIEW_SLUGS]


def drift_outputs():
    return [
        f"results/drift/{t}/{name}"
        for t in DATASETS
        for name in ("matrix.csv", "matrix.png", "difference.png", "summary.json")
    ]


def corruption_outputs():
    if not CORRUPTIONS_ENABLED:
        return []
    return [
        f"results/corruptions/{t}/{name}"
        for t in DATASETS
        for name in ("table.csv", "comparison.csv", "figure.png")
    ]


def intensity_outputs():
    if not INTENSITY_ENABLED:
        return []
    return [
        f"results/intensity/{t}/{name}"
        for t in DATASETS
        for name in ("matrix.csv", "matrix.png")
    ]


def forensics_outputs():
    if not FORENSICS_ENABLED:
        return []
    return [
        f"results/forensics/{t}/{name}"
        for t in DATASETS
        for name in ("table.csv", "figure.png")
    ]


def customization_outputs():
    if not CUSTOMIZATION_ENABLED:
        return []
    return [
        f"results/customization/{t}/{name}"
        for t in DATASETS
        for name in ("curves.csv", "final.csv", "verdict.csv", "figure.png")
    ]


def findings_outputs():
    return [f"results/findings/{t}.json" for t in DATASETS]


def summary_corruption_inputs():
    return [p for p in corruption_outputs() if p.endswith("comparison.csv")]


def summary_intensity_inputs():
    return [p for p in intensity_outputs() if p.endswith(".csv")]


def summary_forensics_inputs():
    return [p for p in forensics_outputs() if p.endswith(".csv")]


def summary_customization_inputs():
    return [
        p for p in customization_outputs() if p.endswith(("final.csv", "verdict.csv"))
    ]


def get_final_output():
    return (
        drift_outputs()
        + findings_outputs()
        + corruption_outputs()
        + qa_outputs()
        + intensity_outputs()
        + forensics_outputs()
        + customization_outputs()
        + ["results/summary.md"]
        + tracking_outputs()
    )


# ---- reruns follow the code; views rendered per job (helper "reruns") --------------------
# Every rule's params carry `code=script_code("<script>")`: a hash of the lens2logit modules
# its script imports (lens2logit.codehash), so a library change reruns exactly those jobs.

import os

from lens2logit.codehash import code_hash


def script_code(script):
    """Hash of the library code scripts/<script> runs (a params value: a change reruns the job)."""
    return code_hash(os.path.join(workflow.basedir, "scripts", script))


REF_STATIC_SLUGS = [s for s in VIEW_SLUGS if get_view(s).sharpen != "unsharp_masking"]
REF_UNSHARP_SLUGS = [s for s in VIEW_SLUGS if get_view(s).sharpen == "unsharp_masking"]
NON_REF_INTENSITY = rf"(?!{REF})\d{{3}}"


def ref_view_files(slugs):
    """Output files of the views `slugs` at the reference intensity ({dataset} left as a wildcard)."""
    return [f"results/views/{{dataset}}/{REF}/{s}.npy" for s in slugs]


def other_intensity_views():
    """{intensity slug: [view slugs]} needed below the reference intensity.

    The intensity-drift view at each of its intensities and the customization view at each of
    its intensities (static baseline).
    """
    views = {}
    if INTENSITY_ENABLED:
        for i in INTENSITY_SLUGS:
            views.setdefault(i, []).append(INTENSITY_VIEW)
    if CUSTOMIZATION_ENABLED:
        for i in CUSTOMIZATION_SLUGS:
            views.setdefault(i, []).append(CUSTOMIZATION_VIEW)
    views.pop(REF, None)
    return {i: list(dict.fromkeys(v)) for i, v in sorted(views.items())}


OTHER_INTENSITY_VIEWS = other_intensity_views()
# Only unsharp-masked views depend on the unsharp mode: a change reruns their job only.
OTHER_INTENSITY_UNSHARP = (
    config["unsharp"]
    if any(
        get_view(v).sharpen == "unsharp_masking"
        for vs in OTHER_INTENSITY_VIEWS.values()
        for v in vs
    )
    else "paper"
)


def other_intensity_view_files():
    """Output files of rule render_views_other_intensities ({dataset} left as a wildcard)."""
    return [
        f"results/views/{{dataset}}/{i}/{v}.npy"
        for i, vs in OTHER_INTENSITY_VIEWS.items()
        for v in vs
    ]


def rendered_view_outputs():
    """Every view file the study uses, at every intensity (the DVC `views` stage's target)."""
    files = view_outputs()
    if INTENSITY_ENABLED:
        files += [
            f"results/views/{t}/{i}/{INTENSITY_VIEW}.npy"
            for t in DATASETS
            for i in INTENSITY_SLUGS
        ]
    if CUSTOMIZATION_ENABLED:
        files += [
            f"results/views/{t}/{i}/{CUSTOMIZATION_VIEW}.npy"
            for t in DATASETS
            for i in CUSTOMIZATION_SLUGS
        ]
    return list(dict.fromkeys(files))


def timing_outputs():
    """Time split by rule (rule `timing`, after the summary)."""
    return ["results/timing.csv", "results/timing.md"]


# ---- label-free drop prediction (issue 20, rules/qa.smk) ---------------------------------

QA = config["qa"]
QA_ENABLED = QA["enabled"]


def qa_outputs():
    if not QA_ENABLED:
        return []
    return [
        f"results/qa/{t}/{name}"
        for t in DATASETS
        for name in ("table.csv", "corruptions.csv", "summary.csv", "scatter.png")
    ]


def summary_qa_inputs():
    return [p for p in qa_outputs() if p.endswith("summary.csv")]


def qa_samples(wildcards):
    """Per-sample records of every drift model (reference intensity) on every view."""
    return [
        f"results/samples/{wildcards.dataset}/{aug}/{REF}/{v}/fold{k}.csv"
        for aug in AUGMENTATIONS
        for v in VIEW_SLUGS
        for k in FOLDS
    ]


def qa_corruption_samples(wildcards):
    """Per-sample records of the corruption scoring (the second QA test bed), if it runs."""
    if not CORRUPTIONS_ENABLED:
        return []
    return [
        f"results/corruption_samples/{wildcards.dataset}/{PRIMARY_AUG}/{v}.csv"
        for v in VIEW_SLUGS
    ]


# ---- drift-robust training (issue 20, option section `robust`, rules/robust.smk) ----------
# For every view, one model trained with regime isp_views on the OTHER views (leave one view out),
# scored on all views, per fold. One job per (dataset, held-out view) trains and scores its
# robust.folds folds in turn.

ROBUST = config["robust"]
ROBUST_ENABLED = ROBUST["enabled"]
ROBUST_DATASETS = [
    t for t in DATASETS if ROBUST["datasets"] in (None, []) or t in ROBUST["datasets"]
]
ROBUST_FOLDS = FOLDS[: ROBUST["folds"]]


def robust_training_views(wildcards):
    slugs = [s for s in VIEW_SLUGS if s != wildcards.view]
    return [f"results/views/{wildcards.dataset}/{REF}/{s}.npy" for s in slugs]


def robust_training_labels(wildcards):
    return [get_view(s).label for s in VIEW_SLUGS if s != wildcards.view]


def robust_metrics(wildcards):
    return [
        f"results/robust/{wildcards.dataset}/metrics/{v}/fold{k}.csv"
        for v in VIEW_SLUGS
        for k in ROBUST_FOLDS
    ]


def robust_static_metrics(wildcards):
    """The static-view models' tables on the robust folds (compared fold for fold)."""
    return [
        metrics_path(wildcards.dataset, PRIMARY_AUG, REF, v, k)
        for v in VIEW_SLUGS
        for k in ROBUST_FOLDS
    ]


def robust_outputs():
    if not ROBUST_ENABLED:
        return []
    return expand(
        "results/robust/{dataset}/{name}",
        dataset=ROBUST_DATASETS,
        name=["matrix.csv", "summary.json"],
    )


def summary_robust_inputs():
    return [p for p in robust_outputs() if p.endswith("summary.json")]
