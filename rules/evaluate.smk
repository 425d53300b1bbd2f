# One job scores the models of one (dataset, augmentation, intensity, view) on their test sets:
# every fold's, or one fold's with drift.jobs: per_fold (same jobs as rules/train.smk). Next to each
# model's metrics it writes its per-sample records (results/samples/, docs/architecture.md).
rule evaluate_models:
    input:
        models=PLAN.fold_files(paths.model_path, PLAN.folds),
        views=test_set_views,
        targets=test_set_targets,
    output:
        metrics=PLAN.fold_files(paths.metrics_path, PLAN.folds),
        samples=PLAN.fold_files(paths.samples_path, PLAN.folds),
    log:
        PLAN.job_log("logs/evaluate_models", ".log"),
    benchmark:
        PLAN.job_benchmark("evaluate_models")
    wildcard_constraints:
        intensity=PLAN.job_intensity,
    conda:
        "../envs/lens2logit.yaml"
    threads: 1
    params:
        code=script_code("evaluate_models.py"),
        folds=job_folds(PLAN.folds),
        labels=test_set_labels,
        batch_size=config["evaluation"]["batch_size"],
        device=PLAN.device,
    script:
        "../scripts/evaluate_models.py"


if not PLAN.jobs_per_fold:

    use rule evaluate_models as evaluate_models_intensity with:
        input:
            models=PLAN.fold_files(paths.model_path, PLAN.intensity_folds),
            views=test_set_views,
            targets=test_set_targets,
        output:
            metrics=PLAN.fold_files(paths.metrics_path, PLAN.intensity_folds),
            samples=PLAN.fold_files(paths.samples_path, PLAN.intensity_folds),
        wildcard_constraints:
            intensity=PLAN.other_intensity,
        params:
            code=script_code("evaluate_models.py"),
            folds=job_folds(PLAN.intensity_folds),
            labels=test_set_labels,
            batch_size=config["evaluation"]["batch_size"],
            device=PLAN.device,
