from lens2logit.drift.aggregate import write_intensity
from lens2logit.workflow import job

with job(snakemake):
    write_intensity(
        snakemake.input.metrics,
        snakemake.params.view,
        snakemake.params.kind,
        matrix_path=snakemake.output.matrix,
        figure_path=snakemake.output.figure,
        dataset=snakemake.wildcards.dataset,
        segmentation_headline=snakemake.params.segmentation_headline,
    )
