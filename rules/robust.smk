# Drift-robust training (issue 20, option section `robust`): for every view, one model trained
# with regime isp_views on the OTHER views (leave one view out), scored on all views, per fold.
# One job per (dataset, held-out view) trains and scores its robust.folds folds in turn.

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


rule train_robust:
    input:
        views=robust_training_views,
        test_views=ref_view_files(VIEW_SLUGS),
        targets=f"results/data/{{dataset}}/{REF}/targets.npy",
        meta=f"results/data/{{dataset}}/{REF}/meta.json",
        folds="results/splits/{dataset}.json",
    output:
        models=[
            f"results/robust/{{dataset}}/models/{{view}}/fold{k}.pt"
            for k in ROBUST_FOLDS
        ],
        metrics=[
            f"results/robust/{{dataset}}/metrics/{{view}}/fold{k}.csv"
            for k in ROBUST_FOLDS
        ],
    log:
        "logs/train_robust/{dataset}/{view}.log",
    benchmark:
        "results/benchmarks/train_robust/{dataset}/{view}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=2000,
    params:
        code=script_code("train_robust.py"),
        folds=ROBUST_FOLDS,
        regime=ROBUST["regime"],
        view_labels=robust_training_labels,
        held_out=lambda wildcards: get_view(wildcards.view).label,
        test_labels=[
            {"test_view": get_view(v).label, "test_intensity": 1.0} for v in VIEW_SLUGS
        ],
        augmentation=PRIMARY_AUG,
        training=training_params,
        kind=kind_param,
        seed=config["seed"],
        batch_size=config["evaluation"]["batch_size"],
    script:
        "../scripts/train_robust.py"


rule aggregate_robust:
    input:
        metrics=robust_metrics,
        static="results/drift/{dataset}/matrix.csv",
    output:
        matrix=report(
            "results/robust/{dataset}/matrix.csv",
            caption="../report/robust_matrix.rst",
            category="1 Drift synthesis",
            subcategory="{dataset}",
        ),
        summary="results/robust/{dataset}/summary.json",
    log:
        "logs/aggregate_robust/{dataset}.log",
    benchmark:
        "results/benchmarks/aggregate_robust/{dataset}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("aggregate_robust.py"),
        views=VIEW_LABELS,
        kind=kind_param,
        segmentation_headline=SEGMENTATION_HEADLINE,
    script:
        "../scripts/aggregate_robust.py"
