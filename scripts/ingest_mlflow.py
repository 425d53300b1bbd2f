from lens2logit.tracking import ingest
from lens2logit.workflow import job

with job(snakemake):
    summary = ingest(
        snakemake.params.results,
        tracking_uri=snakemake.params.uri,
        summary_path=snakemake.output.summary,
    )
    print(summary)
