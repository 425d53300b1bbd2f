# The plan lives in lens2logit.workflow.plan (unit-tested without Snakemake), the results layout in
# lens2logit.paths. This file validates the config, builds the plan once, and adapts the
# jobs' wildcards to the plan's calls (input functions and params helpers).

import functools
import os
import re

from snakemake.utils import validate

from lens2logit.schema import check_schema, coerce_config, schema_choices
from lens2logit.workflow.codehash import cached_code_hash
from lens2logit.workflow.config import check_config
from lens2logit.data.layout import intensity_from_slug
from lens2logit.data.manifest import checked_branch_fingerprint
from lens2logit.data.registry import check_datasets, dataset_root, is_real_source
from lens2logit.isp.views import get_view
from lens2logit.drift.paper import claims_text
from lens2logit import paths
from lens2logit.workflow.plan import (
    MODEL_REFERENCE_TYPES,
    build_plan,
    check_device,
    fetched_sources,
)

SCHEMA = f"{workflow.basedir}/schemas/config.schema.yaml"
# --config passes nested values as strings ('drift={folds: 3}'): typed where the schema is unambiguous.
_config = coerce_config(config, SCHEMA)
config.clear()
config.update(_config)
# One line naming the key, the value and what is allowed (validate() would dump schema and config).
check_schema(config, SCHEMA)
# validate() fills every option left out with the schema's default (the one source of defaults).
validate(config, schema="../schemas/config.schema.yaml")
# Everything that could otherwise fail only inside a job (cross-field rules, files on disk, an
# absent GPU), checked once before planning; not again in each cluster job, which parses this file
# anew (on a node that is to have the device).
if workflow.is_main_process:
    check_config(config)
    check_datasets(config)
    check_device(config["training"]["device"])

# Datasets, views, folds, test sets, render jobs, targets (lens2logit.workflow.plan).
PLAN = build_plan(config)
REF = PLAN.ref
DATA_ROOT = config["data"]["root"]


wildcard_constraints:
    dataset="|".join(PLAN.datasets),
    source="|".join(fetched_sources()),
    intensity=paths.WILDCARD_PATTERNS["intensity"],
    view=paths.WILDCARD_PATTERNS["view"],
    aug="|".join(schema_choices("augmentation")),
    fold=paths.WILDCARD_PATTERNS["fold"],


def script_code(script):
    """params: hash of the library code scripts/<script> runs (a change reruns the job).

    Every rule's params carry it (lens2logit.workflow.codehash): a library change reruns exactly those
    jobs. Computed for the jobs being planned, not while parsing: a cluster job, which parses the
    workflow anew, hashes its own script's code only.
    """
    path = os.path.join(workflow.basedir, "scripts", script)
    return lambda wildcards: _code_hash(path)


# The library does not change during a run.
_code_hash = functools.cache(cached_code_hash)


# ---- data: params of the data rules ------------------------------------------------------


def source_root_param(wildcards):
    return paths.source_folder(DATA_ROOT, wildcards.source)


def dataset_root_param(wildcards):
    return dataset_root(wildcards.dataset, config)


def published_counts_param(wildcards):
    # Real data are checked against the published sizes (warnings in the job log).
    return is_real_source(wildcards.dataset, config)


def declared_kind_param(wildcards):
    return kind_param(wildcards) if wildcards.dataset == "custom" else None


def tile_cache_param(wildcards):
    # Derived tiles stay out of the dataset folder, which DVC versions as it was made.
    return paths.tile_cache(PLAN.dataset_source[wildcards.dataset])


def dataset_marker(wildcards):
    """The file that says a source dataset is complete (its verified manifest), or none."""
    return PLAN.dataset_marker(wildcards.dataset)


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
        PLAN.dataset_source[wildcards.dataset], intensity_from_slug(wildcards.intensity)
    )


@functools.cache
def _source_fingerprint(source, intensity):
    # Once per (source, intensity) and plan: both drone datasets read the same branch.
    return checked_branch_fingerprint(
        source,
        paths.source_folder(DATA_ROOT, source),
        intensity,
        tile_size=config["data"]["tile_size"],
        accept_changes=config["data"]["accept_changes"],
    )


def synth_params(wildcards):
    return PLAN.synth_params(wildcards.source)


# ---- params shared by the study rules ----------------------------------------------------


def kind_param(wildcards):
    return PLAN.dataset_kind[wildcards.dataset]


def paper_claims(wildcards):
    """The paper's published findings about this dataset, for report captions."""
    return claims_text(wildcards.dataset)


def training_params(wildcards):
    return PLAN.training_params(wildcards.dataset)


# ---- input functions: the job's wildcards → the plan -------------------------------------


def evaluation_models(wildcards):
    return PLAN.evaluation_models(wildcards.dataset)


def evaluation_views(wildcards):
    return [views for views, _ in PLAN.evaluation_test_sets(wildcards.dataset)]


def evaluation_targets(wildcards):
    return list(
        dict.fromkeys(t for _, t in PLAN.evaluation_test_sets(wildcards.dataset))
    )


def evaluation_jobs(wildcards):
    return PLAN.evaluation_jobs(wildcards.dataset)


def corruption_models(wildcards):
    return PLAN.corruption_models(wildcards.dataset, wildcards.aug, wildcards.view)


def view_label(wildcards):
    return get_view(wildcards.view).label


def drift_metrics(wildcards):
    return PLAN.drift_metrics(wildcards.dataset)


def primary_drift_metrics(wildcards):
    return PLAN.primary_drift_metrics(wildcards.dataset)


def primary_drift_samples(wildcards):
    return PLAN.primary_drift_samples(wildcards.dataset)


def corruption_tables(wildcards):
    return PLAN.corruption_tables(wildcards.dataset)


def corruption_samples(wildcards):
    return PLAN.corruption_samples(wildcards.dataset)


def intensity_metrics(wildcards):
    return PLAN.intensity_metrics(wildcards.dataset)


def forensics_models(wildcards):
    return PLAN.forensics_models(wildcards.dataset)


def customization_raw(wildcards):
    return PLAN.customization_data(wildcards.dataset, "raw.npy")


def customization_targets(wildcards):
    return PLAN.customization_data(wildcards.dataset, "targets.npy")


def customization_meta(wildcards):
    return PLAN.customization_data(wildcards.dataset, "meta.json")


def customization_views(wildcards):
    return PLAN.customization_views(wildcards.dataset)


def customization_start(wildcards):
    """{"classifier"?: path, "isp"?: path}: the checkpoints customization starts from."""
    return PLAN.customization_start(wildcards.dataset)


def customization_start_files(wildcards):
    return list(customization_start(wildcards).values())


def reference_files(wildcards):
    return PLAN.reference_files(wildcards.dataset, wildcards.option)


def model_reference(wildcards):
    return PLAN.model_references[(wildcards.dataset, wildcards.option)]


def qa_samples(wildcards):
    return PLAN.qa_samples(wildcards.dataset)


def robust_training_inputs(wildcards):
    return PLAN.robust_training_inputs(wildcards.dataset)


def robust_metrics(wildcards):
    return PLAN.robust_metrics(wildcards.dataset)


def robust_static_metrics(wildcards):
    return PLAN.robust_static_metrics(wildcards.dataset)


def tracking_inputs(wildcards):
    return PLAN.tracking_inputs()
