rule evaluate_model:
    input:
        model="results/models/{dataset}/{aug}/{intensity}/{view}/fold{fold}.pt",
        views=test_set_views,
        targets=test_set_targets,
    output:
        metrics="results/metrics/{dataset}/{aug}/{intensity}/{view}/fold{fold}.csv",
    log:
        "logs/evaluate_model/{dataset}/{aug}/{intensity}/{view}/fold{fold}.log",
    benchmark:
        "results/benchmarks/evaluate_model/{dataset}/{aug}/{intensity}/{view}/fold{fold}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    threads: 1
    params:
        code=script_code("evaluate_model.py"),
        labels=test_set_labels,
        batch_size=config["evaluation"]["batch_size"],
        device=DEVICE,
    script:
        "../scripts/evaluate_model.py"
