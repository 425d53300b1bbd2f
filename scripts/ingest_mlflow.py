from pathlib import Path

from lens2logit.tracking import ingest
from lens2logit.workflow import job

with job(snakemake):
    summary = ingest(
        Path(snakemake.output.summary).parents[1],  # results/mlflow/ingest.json → results
        tracking_uri=snakemake.params.uri,
        summary_path=snakemake.output.summary,
    )
    print(summary)
