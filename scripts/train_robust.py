import json

from lens2logit.experiments.isp_random import train_on_random_isp
from lens2logit.experiments.options import training_arguments
from lens2logit.experiments.robust import lovo_label, train_on_views
from lens2logit.stages.scoring import score_model
from lens2logit.training import save_checkpoint
from lens2logit.workflow import job

with job(snakemake):
    test_views = list(snakemake.input.test_views)
    classes = json.load(open(snakemake.input.meta))["classes"]
    options = training_arguments(
        snakemake.params.training,
        kind=snakemake.params.kind,
        augmentation=snakemake.params.augmentation,
        seed=snakemake.params.seed,
        classes=classes,
        threads=snakemake.threads,
    )
    for fold, model_path, metrics_path in zip(
        snakemake.params.folds, snakemake.output.models, snakemake.output.metrics
    ):
        if snakemake.params.regime == "isp_random":
            ckpt = train_on_random_isp(
                snakemake.input.raw,
                snakemake.input.targets,
                snakemake.input.meta,
                snakemake.input.folds,
                fold,
                snakemake.params.view_labels,
                held_out=snakemake.params.held_out,
                **options,
            )
        else:
            ckpt = train_on_views(
                list(snakemake.input.views),
                snakemake.params.view_labels,
                snakemake.input.targets,
                snakemake.input.folds,
                fold,
                regime=snakemake.params.regime,
                **options,
            )
        save_checkpoint(model_path, ckpt)
        score_model(
            model_path,
            test_views,
            [snakemake.input.targets] * len(test_views),
            snakemake.params.test_labels,
            metrics_path,
            train={
                "train_view": lovo_label(snakemake.params.held_out),
                "train_intensity": 1.0,
                "augmentation": snakemake.params.augmentation,
                "fold": fold,
            },
            batch_size=snakemake.params.batch_size,
            device=snakemake.params.training["device"],
        )
