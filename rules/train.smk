rule make_splits:
    input:
        targets=f"results/data/{{task}}/{REF}/targets.npy",
    output:
        folds="results/splits/{task}.json",
    log:
        "logs/make_splits/{task}.log",
    benchmark:
        "results/benchmarks/make_splits/{task}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("make_splits.py"),
        k=config["drift"]["folds"],
        seed=config["seed"],
        kind=task_kind,
    script:
        "../scripts/make_splits.py"


# One job trains every fold of one (task, augmentation, intensity, view), one fold after the
# other: a job's start-up (Python, torch, the model library: ≈ 3 s CPU) is paid once per view,
# not once per fold. At the reference intensity these are the drift folds; at the other
# intensities (intensity drift) the first `intensity_drift.folds` of them.
rule train_models:
    input:
        views="results/views/{task}/{intensity}/{view}.npy",
        targets="results/data/{task}/{intensity}/targets.npy",
        meta="results/data/{task}/{intensity}/meta.json",
        folds="results/splits/{task}.json",
    output:
        models=fold_files("results/models", FOLDS, ".pt"),
    log:
        "logs/train_models/{task}/{aug}/{intensity}/{view}.log",
    benchmark:
        "results/benchmarks/train_models/{task}/{aug}/{intensity}/{view}.tsv"
    wildcard_constraints:
        intensity=REF,
    conda:
        "../envs/lens2logit.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=2000,
    params:
        code=script_code("train_models.py"),
        folds=FOLDS,
        training=training_params,
        kind=task_kind,
        seed=config["seed"],
    script:
        "../scripts/train_models.py"


use rule train_models as train_models_intensity with:
    output:
        models=fold_files("results/models", INTENSITY_FOLDS, ".pt"),
    wildcard_constraints:
        intensity=NON_REF_INTENSITY,
    params:
        code=script_code("train_models.py"),
        folds=INTENSITY_FOLDS,
        training=training_params,
        kind=task_kind,
        seed=config["seed"],
