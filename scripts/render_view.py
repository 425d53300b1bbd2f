from lens2logit.experiments.prepare import render_view_file
from lens2logit.workflow import job

with job(snakemake):
    render_view_file(
        snakemake.input.raw,
        snakemake.input.meta,
        snakemake.wildcards.view,
        snakemake.output.view,
        unsharp=snakemake.params.unsharp,
        batch_size=snakemake.params.batch_size,
    )
