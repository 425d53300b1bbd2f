# Drift-robust training (option section `robust`); constants and input functions: rules/common.smk.


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
        static=robust_static_metrics,
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
