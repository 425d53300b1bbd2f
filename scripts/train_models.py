import json

from lens2logit.training.options import training_arguments
from lens2logit.training.train import train_on_view
from lens2logit.training.checkpoint import save_checkpoint
from lens2logit.workflow import job

with job(snakemake):
    classes = json.load(open(snakemake.input.meta))["classes"]
    # training.<kind> options, device; bce_weight (training.segmentation.bce_weight) for segmentation
    options = training_arguments(
        snakemake.params.training,
        kind=snakemake.params.kind,
        augmentation=snakemake.wildcards.aug,
        seed=snakemake.params.seed,
        classes=classes,
        threads=snakemake.threads,
    )
    # Folds one after the other; each checkpoint is written (atomically) as soon as it is trained.
    for fold, model_path in zip(snakemake.params.folds, snakemake.output.models):
        ckpt = train_on_view(
            snakemake.input.views,
            snakemake.input.targets,
            snakemake.input.folds,
            fold,
            **options,
        )
        save_checkpoint(model_path, ckpt)
