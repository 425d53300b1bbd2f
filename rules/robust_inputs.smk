# Drift-robust training (issue 20, option section `robust`): for every view, one model trained
# with regime isp_views on the OTHER views (leave one view out), scored on all views, per fold.
# Constants and input functions here, rules in rules/robust.smk. One job per (dataset, held-out view) trains and scores its robust.folds folds in turn.

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
