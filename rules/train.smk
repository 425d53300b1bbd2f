rule make_splits:
    input:
        targets=f"results/data/{{dataset}}/{REF}/targets.npy",
    output:
        folds="results/splits/{dataset}.json",
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


rule train_model:
    input:
        views="results/views/{dataset}/{intensity}/{view}.npy",
        targets="results/data/{dataset}/{intensity}/targets.npy",
        meta="results/data/{dataset}/{intensity}/meta.json",
        folds="results/splits/{dataset}.json",
    output:
        model="results/models/{dataset}/{aug}/{intensity}/{view}/fold{fold}.pt",
    log:
        "logs/train_model/{dataset}/{aug}/{intensity}/{view}/fold{fold}.log",
    benchmark:
        "results/benchmarks/train_model/{dataset}/{aug}/{intensity}/{view}/fold{fold}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=2000,
    params:
        code=script_code("train_model.py"),
        training=training_params,
        kind=kind_param,
        seed=config["seed"],
    script:
        "../scripts/train_model.py"
