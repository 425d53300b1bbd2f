# One job scores the models of one (dataset, augmentation, intensity, view) on their test sets:
# every fold's, or one fold's with drift.jobs: per_fold (same jobs as rules/train.smk). Next to each
# model's metrics it writes its per-sample records (results/samples/, docs/architecture.md).
rule evaluate_models:
    input:
        models=fold_files("results/models", FOLDS, ".pt"),
        views=test_set_views,
        targets=test_set_targets,
    output:
        metrics=fold_files("results/metrics", FOLDS, ".csv"),
        samples=fold_files("results/samples", FOLDS, ".csv"),
    log:
        job_path("logs/evaluate_models", ".log"),
    benchmark:
        job_path("results/benchmarks/evaluate_models", ".tsv")
    wildcard_constraints:
        intensity=JOB_INTENSITY,
    conda:
        "../envs/lens2logit.yaml"
    threads: 1
    params:
        code=script_code("evaluate_models.py"),
        folds=job_folds(FOLDS),
        labels=test_set_labels,
        batch_size=config["evaluation"]["batch_size"],
        device=DEVICE,
    script:
        "../scripts/evaluate_models.py"


if not JOBS_PER_FOLD:

    use rule evaluate_models as evaluate_models_intensity with:
        input:
            models=fold_files("results/models", INTENSITY_FOLDS, ".pt"),
            views=test_set_views,
            targets=test_set_targets,
        output:
            metrics=fold_files("results/metrics", INTENSITY_FOLDS, ".csv"),
            samples=fold_files("results/samples", INTENSITY_FOLDS, ".csv"),
        wildcard_constraints:
            intensity=NON_REF_INTENSITY,
        params:
            code=script_code("evaluate_models.py"),
            folds=job_folds(INTENSITY_FOLDS),
            labels=test_set_labels,
            batch_size=config["evaluation"]["batch_size"],
            device=DEVICE,
