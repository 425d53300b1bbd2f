from lens2logit.stages.views import render_views_files
from lens2logit.workflow import job

with job(snakemake):
    render_views_files(
        snakemake.input.raw,
        snakemake.input.meta,
        snakemake.params.views,
        list(snakemake.output),
        unsharp=snakemake.params.unsharp,
        batch_size=snakemake.params.batch_size,
        threads=snakemake.threads,
    )
