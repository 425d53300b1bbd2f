rule make_splits:
    input:
        targets=paths.data_file("{dataset}", REF, "targets.npy"),
    output:
        folds=paths.splits_path("{dataset}"),
    log:
        "logs/make_splits/{dataset}.log",
    benchmark:
        "results/benchmarks/make_splits/{dataset}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("make_splits.py"),
        k=config["drift"]["folds"],
        seed=config["seed"],
        kind=kind_param,
    script:
        "../scripts/make_splits.py"


# One job trains every fold of one (dataset, augmentation, intensity, view) in turn, so a job's
# start-up (Python, torch, the model library: ≈ 2-3 s CPU) is paid once per view; the twin rule
# covers the intensities other than the reference (their first `intensity_drift.folds` folds).
rule train_models:
    input:
        views=paths.view_path("{dataset}", "{intensity}", "{view}"),
        targets=paths.data_file("{dataset}", "{intensity}", "targets.npy"),
        meta=paths.data_file("{dataset}", "{intensity}", "meta.json"),
        folds=paths.splits_path("{dataset}"),
    output:
        models=PLAN.fold_files(paths.model_path, PLAN.folds),
    log:
        "logs/train_models/{dataset}/{aug}/{intensity}/{view}.log",
    benchmark:
        paths.job_benchmark_path(
            "train_models", "{dataset}", "{aug}", "{intensity}", "{view}"
        )
    wildcard_constraints:
        intensity=REF,
    conda:
        "../envs/lens2logit.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=2000,
    params:
        code=script_code("train_models.py"),
        folds=PLAN.folds,
        training=training_params,
        kind=kind_param,
        seed=config["seed"],
    script:
        "../scripts/train_models.py"


use rule train_models as train_models_intensity with:
    output:
        models=PLAN.fold_files(paths.model_path, PLAN.intensity_folds),
    wildcard_constraints:
        intensity=PLAN.other_intensity,
    params:
        code=script_code("train_models.py"),
        folds=PLAN.intensity_folds,
        training=training_params,
        kind=kind_param,
        seed=config["seed"],
