# Drift-robust training (option section `robust`); what it reads: lens2logit.workflow.plan (PLAN.robust_*).


# One job per dataset trains every leave-one-view-out model (each held-out view, each robust fold)
# and scores it on all views: one process start instead of one per view.
rule train_robust:
    input:
        unpack(robust_training_inputs),
        views=PLAN.ref_view_files(PLAN.view_slugs),
        targets=paths.data_file("{dataset}", REF, "targets.npy"),
        meta=paths.data_file("{dataset}", REF, "meta.json"),
        folds=paths.splits_path("{dataset}"),
    output:
        models=PLAN.robust_files(paths.robust_model_path),
        metrics=PLAN.robust_files(paths.robust_metrics_path),
    log:
        "logs/train_robust/{dataset}.log",
    benchmark:
        "results/benchmarks/train_robust/{dataset}.tsv"
    # a long single job: started among the first, so that it does not finish alone after the rest
    priority: 1
    conda:
        "../envs/lens2logit.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=2000,
    params:
        code=script_code("train_robust.py"),
        folds=PLAN.robust_folds,
        regime=config["robust"]["regime"],
        views=PLAN.view_labels,
        augmentation=PLAN.primary_aug,
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
        views=PLAN.view_labels,
        kind=kind_param,
        segmentation_headline=config["report"]["segmentation_headline"],
    script:
        "../scripts/aggregate_robust.py"
