# The lab log: one job at the end ingests the finished results into MLflow (no job imports it).


if PLAN.tracking_enabled:

    localrules:
        ingest_mlflow,

    rule ingest_mlflow:
        input:
            results=tracking_inputs,
        output:
            summary="results/mlflow/ingest.json",
        log:
            "logs/ingest_mlflow/ingest.log",
        benchmark:
            "results/benchmarks/ingest_mlflow/ingest.tsv"
        conda:
            "../envs/lens2logit.yaml"
        threads: 1
        params:
            uri=config["tracking"]["uri"],
            code=script_code("ingest_mlflow.py"),
        script:
            "../scripts/ingest_mlflow.py"
