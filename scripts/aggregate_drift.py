from lens2logit.drift.aggregate import write_drift
from lens2logit.workflow import job

with job(snakemake):
    write_drift(
        snakemake.input.metrics,
        snakemake.params.views,
        snakemake.params.augmentations,
        snakemake.params.kind,
        matrix_path=snakemake.output.matrix,
        summary_path=snakemake.output.summary,
        figure_path=snakemake.output.figure,
        difference_path=snakemake.output.difference,
        dataset=snakemake.wildcards.dataset,
        segmentation_headline=snakemake.params.segmentation_headline,
    )
