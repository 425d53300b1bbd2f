from lens2logit.forensics.attack import ForensicsOptions, run_forensics
from lens2logit.training.options import training_context
from lens2logit.workflow import job

with job(snakemake):
    options = ForensicsOptions.from_config(
        snakemake.params.forensics,  # the validated section; folds/model choose the inputs
        seed=snakemake.params.seed,
        segmentation_headline=snakemake.params.segmentation_headline,
        **training_context(snakemake.params.training),
    )
    run_forensics(
        list(snakemake.input.models),
        snakemake.input.raw,
        snakemake.input.targets,
        snakemake.input.meta,
        table_path=snakemake.output.table,
        figure_path=snakemake.output.figure,
        distance_figure_path=snakemake.output.distance,
        strips_path=snakemake.output.strips,
        params_path=snakemake.output.params,
        attacks_path=snakemake.output.attacks,
        options=options,
    )
