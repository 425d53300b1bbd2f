from lens2logit.robust.summary import write_robust
from lens2logit.workflow import job

with job(snakemake):
    write_robust(
        snakemake.input.metrics,
        snakemake.input.static,
        snakemake.params.views,
        snakemake.params.kind,
        matrix_path=snakemake.output.matrix,
        summary_path=snakemake.output.summary,
        dataset=snakemake.wildcards.dataset,
        segmentation_headline=snakemake.params.segmentation_headline,
    )
