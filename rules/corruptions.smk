# corruptions.jobs: per_dataset (default): one job scores the models of every view of a dataset,
# view after view; per_view: one job per view (clusters).
rule score_corruptions:
    input:
        models=corruption_models,
        views=corruption_view_files,
        targets=paths.data_file("{dataset}", REF, "targets.npy"),
    output:
        tables=PLAN.corruption_job_files(paths.corruption_table_path),
        samples=PLAN.corruption_job_files(paths.corruption_samples_path),
    log:
        PLAN.corruption_job_log("logs/score_corruptions", ".log"),
    benchmark:
        PLAN.corruption_job_log("results/benchmarks/score_corruptions", ".tsv")
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
        labels=corruption_view_labels,
        device=PLAN.device,
    script:
        "../scripts/score_corruptions.py"
