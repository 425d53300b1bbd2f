# One job per dataset scores every model of the drift and intensity-drift studies on its test sets
# (lens2logit.workflow.plan.Plan.evaluation_jobs): one process start instead of one per view, and a
# change of the scoring code reruns only this job. Next to each model's metrics it writes its
# per-sample records (results/samples/, docs/architecture.md).
rule evaluate_models:
    input:
        models=evaluation_models,
        views=evaluation_views,
        targets=evaluation_targets,
    output:
        metrics=PLAN.evaluation_files(paths.metrics_path),
        samples=PLAN.evaluation_files(paths.samples_path),
    log:
        "logs/evaluate_models/{dataset}.log",
    benchmark:
        "results/benchmarks/evaluate_models/{dataset}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    threads: 1
    params:
        code=script_code("evaluate_models.py"),
        jobs=evaluation_jobs,
        batch_size=config["evaluation"]["batch_size"],
        device=PLAN.device,
    script:
        "../scripts/evaluate_models.py"
