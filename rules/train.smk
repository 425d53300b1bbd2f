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


rule train_model:
    input:
        views="results/views/{task}/{intensity}/{view}.npy",
        targets="results/data/{task}/{intensity}/targets.npy",
        meta="results/data/{task}/{intensity}/meta.json",
        folds="results/splits/{task}.json",
    output:
        model="results/models/{task}/{aug}/{intensity}/{view}/fold{fold}.pt",
    log:
        "logs/train_model/{task}/{aug}/{intensity}/{view}/fold{fold}.log",
    benchmark:
        "results/benchmarks/train_model/{task}/{aug}/{intensity}/{view}/fold{fold}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=2000,
    params:
        code=script_code("train_model.py"),
        training=training_params,
        kind=task_kind,
        seed=config["seed"],
    script:
        "../scripts/train_model.py"
