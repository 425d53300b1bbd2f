from lens2logit.drift.render import render_view_sets
from lens2logit.workflow import job

with job(snakemake):
    render_view_sets(
        snakemake.input.raw,
        snakemake.input.meta,
        snakemake.params.views,
        list(snakemake.output),
        unsharp=snakemake.params.unsharp,
        batch_size=snakemake.params.batch_size,
        threads=snakemake.threads,
        dtype=snakemake.params.dtype,
    )
