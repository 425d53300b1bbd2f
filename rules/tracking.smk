# The lab log: one job at the end ingests the finished results into MLflow (no job imports it).


if TRACKING_ENABLED:

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
            uri=TRACKING["uri"],
            code=script_code("ingest_mlflow.py"),
        script:
            "../scripts/ingest_mlflow.py"
