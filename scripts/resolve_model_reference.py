from lens2logit.tracking.references import fetch_model
from lens2logit.workflow import job

with job(snakemake):
    fetch_model(
        snakemake.params.reference,
        snakemake.output.model,
        option=snakemake.wildcards.option,
        model_type=snakemake.params.model_type,
        dataset=snakemake.wildcards.dataset,
        tracking_uri=snakemake.params.tracking_uri,
    )
