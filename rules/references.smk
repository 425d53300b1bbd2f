# A model named by forensics.model or customization.classifier/isp: fetched (a registry name or a
# run artifact, through the lab log) or read (a checkpoint file), checked for its type, dataset and
# kind, and copied into results/references/. Planning contacts no tracking server; `latest` and
# aliases are read when this job runs (`--forcerun resolve_model_reference` picks up a newer version).
# A local rule, like ingest_mlflow: on a cluster the submitting host is the one that reaches the lab log.


localrules:
    resolve_model_reference,


rule resolve_model_reference:
    input:
        checkpoint=reference_files,
    output:
        model=paths.reference_model_path("{dataset}", "{option}"),
    log:
        "logs/resolve_model_reference/{dataset}/{option}.log",
    benchmark:
        "results/benchmarks/resolve_model_reference/{dataset}/{option}.tsv"
    wildcard_constraints:
        option="|".join(re.escape(o) for o in MODEL_REFERENCE_TYPES),
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("resolve_model_reference.py"),
        reference=model_reference,
        model_type=lambda wildcards: MODEL_REFERENCE_TYPES[wildcards.option],
        tracking_uri=config["tracking"]["uri"],
    script:
        "../scripts/resolve_model_reference.py"
