rule score_corruptions:
    input:
        models=corruption_models,
        views=f"results/views/{{dataset}}/{REF}/{{view}}.npy",
        targets=f"results/data/{{dataset}}/{REF}/targets.npy",
    output:
        table="results/corruptions/{dataset}/{aug}/{view}.csv",
    log:
        "logs/score_corruptions/{dataset}/{aug}/{view}.log",
    benchmark:
        "results/benchmarks/score_corruptions/{dataset}/{aug}/{view}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    threads: 1
    params:
        code=script_code("score_corruptions.py"),
        preset=CORRUPTIONS["preset"],
        names=CORRUPTIONS["names"],
        severity=CORRUPTIONS["severity"],
        seed=config["seed"],
        max_samples=CORRUPTIONS["max_samples"],
        label=view_label,
        device=DEVICE,
    script:
        "../scripts/score_corruptions.py"
