import json

from lens2logit.training.options import training_arguments
from lens2logit.robust.train import train_leave_one_view_out
from lens2logit.workflow import job

with job(snakemake):
    options = training_arguments(
        snakemake.params.training,
        kind=snakemake.params.kind,
        augmentation=snakemake.params.augmentation,
        seed=snakemake.params.seed,
        classes=json.load(open(snakemake.input.meta))["classes"],
        threads=snakemake.threads,
    )
    train_leave_one_view_out(
        snakemake.input.views,
        snakemake.params.views,
        snakemake.input.targets,
        snakemake.input.meta,
        snakemake.input.folds,
        snakemake.params.folds,
        snakemake.output.models,
        snakemake.output.metrics,
        regime=snakemake.params.regime,
        raw_path=snakemake.input.get("raw"),
        eval_batch_size=snakemake.params.batch_size,
        **options,
    )
