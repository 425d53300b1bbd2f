# One job scores every fold's model of one (dataset, augmentation, intensity, view) on its test sets
# (same fold sets as rules/train.smk).
rule evaluate_models:
    input:
        models=fold_files("results/models", FOLDS, ".pt"),
        views=test_set_views,
        targets=test_set_targets,
    output:
        metrics=fold_files("results/metrics", FOLDS, ".csv"),
    log:
        "logs/evaluate_models/{dataset}/{aug}/{intensity}/{view}.log",
    benchmark:
        "results/benchmarks/evaluate_models/{dataset}/{aug}/{intensity}/{view}.tsv"
    wildcard_constraints:
        intensity=REF,
    conda:
        "../envs/lens2logit.yaml"
    threads: 1
    params:
        code=script_code("evaluate_models.py"),
        folds=FOLDS,
        labels=test_set_labels,
        batch_size=config["evaluation"]["batch_size"],
        device=DEVICE,
    script:
        "../scripts/evaluate_models.py"


use rule evaluate_models as evaluate_models_intensity with:
    input:
        models=fold_files("results/models", INTENSITY_FOLDS, ".pt"),
        views=test_set_views,
        targets=test_set_targets,
    output:
        metrics=fold_files("results/metrics", INTENSITY_FOLDS, ".csv"),
    wildcard_constraints:
        intensity=NON_REF_INTENSITY,
    params:
        code=script_code("evaluate_models.py"),
        folds=INTENSITY_FOLDS,
        labels=test_set_labels,
        batch_size=config["evaluation"]["batch_size"],
        device=DEVICE,
