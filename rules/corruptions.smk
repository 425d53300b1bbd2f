# corruptions.jobs: per_dataset (default): one job scores the models of every view of a dataset,
# view after view; per_view: one job per view (clusters).
rule score_corruptions:
    input:
        models=corruption_models,
        views=corruption_view_files,
        targets=f"results/data/{{dataset}}/{REF}/targets.npy",
    output:
        tables=corruption_job_tables(),
        samples=corruption_job_tables("results/corruption_samples"),
    log:
        corruption_job_path("logs/score_corruptions", ".log"),
    benchmark:
        corruption_job_path("results/benchmarks/score_corruptions", ".tsv")
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
        labels=corruption_view_labels,
        device=DEVICE,
    script:
        "../scripts/score_corruptions.py"
