from lens2logit.experiments.forensics import run_forensics
from lens2logit.workflow import job

with job(snakemake):
    options = dict(snakemake.params.forensics)
    options.pop("enabled", None)
    options.pop("folds", None)  # selects the model inputs, see rules/common.smk
    options.pop("model", None)  # resolved to the model input at plan time
    run_forensics(
        list(snakemake.input.models),
        snakemake.input.raw,
        snakemake.input.targets,
        snakemake.input.meta,
        table_path=snakemake.output.table,
        figure_path=snakemake.output.figure,
        strips_path=snakemake.output.strips,
        params_path=snakemake.output.params,
        attacks_path=snakemake.output.attacks,
        seed=snakemake.params.seed,
        segmentation_headline=snakemake.params.segmentation_headline,
        bce_weight=snakemake.params.training.get("bce_weight", 0.0),
        device=snakemake.params.training["device"],
        **options,
    )
