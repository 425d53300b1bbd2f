# Drift-robust training (option section `robust`); what it reads: lens2logit.workflow.plan (PLAN.robust_*).


rule train_robust:
    input:
        unpack(robust_training_inputs),
        test_views=PLAN.ref_view_files(PLAN.view_slugs),
        targets=paths.data_file("{dataset}", REF, "targets.npy"),
        meta=paths.data_file("{dataset}", REF, "meta.json"),
        folds=paths.splits_path("{dataset}"),
    output:
        models=[
            paths.robust_model_path("{dataset}", "{view}", k)
            for k in PLAN.robust_folds
        ],
        metrics=[
            paths.robust_metrics_path("{dataset}", "{view}", k)
            for k in PLAN.robust_folds
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
        folds=PLAN.robust_folds,
        regime=config["robust"]["regime"],
        view_labels=robust_training_labels,
        held_out=held_out_label,
        test_labels=PLAN.robust_test_labels(),
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
