# One job per view (every fold's model of the view); a cluster that wants fewer, longer jobs
# groups them (`--groups score_corruptions=<name> --group-components <name>=12`).
rule score_corruptions:
    input:
        models=corruption_models,
        view=paths.view_path("{dataset}", REF, "{view}"),
        targets=paths.data_file("{dataset}", REF, "targets.npy"),
    output:
        table=paths.corruption_table_path("{dataset}", "{aug}", "{view}"),
        samples=paths.corruption_samples_path("{dataset}", "{aug}", "{view}"),
    log:
        "logs/score_corruptions/{dataset}/{aug}/{view}.log",
    benchmark:
        "results/benchmarks/score_corruptions/{dataset}/{aug}/{view}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    threads: 1
    params:
        code=script_code("score_corruptions.py"),
        preset=PLAN.corruptions["preset"],
        names=PLAN.corruptions["names"],
        severity=PLAN.corruptions["severity"],
        seed=config["seed"],
        max_samples=PLAN.corruptions["max_samples"],
        label=view_label,
        device=PLAN.device,
    script:
        "../scripts/score_corruptions.py"
