from lens2logit.drift.aggregate import write_corruptions
from lens2logit.workflow import job

with job(snakemake):
    write_corruptions(
        snakemake.input.tables,
        snakemake.input.drift,
        snakemake.params.views,
        snakemake.params.kind,
        table_path=snakemake.output.table,
        comparison_path=snakemake.output.comparison,
        figure_path=snakemake.output.figure,
        dataset=snakemake.wildcards.dataset,
        targets_path=snakemake.input.targets,
        segmentation_headline=snakemake.params.segmentation_headline,
    )
