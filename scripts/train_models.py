import json

from lens2logit.experiments.options import training_context
from lens2logit.experiments.train import train_on_view
from lens2logit.training import save_checkpoint
from lens2logit.workflow import job

with job(snakemake):
    p = snakemake.params.training
    classes = json.load(open(snakemake.input.meta))["classes"]
    # Folds one after the other; each checkpoint is written (atomically) as soon as it is trained.
    for fold, model_path in zip(snakemake.params.folds, snakemake.output.models):
        ckpt = train_on_view(
            snakemake.input.views,
            snakemake.input.targets,
            snakemake.input.folds,
            fold,
            kind=snakemake.params.kind,
            arch=p["arch"],
            epochs=p["epochs"],
            batch_size=p["batch_size"],
            lr=p["lr"],
            schedule=p["schedule"],
            augmentation=snakemake.wildcards.aug,
            seed=snakemake.params.seed,
            classes=classes,
            pretrained=p["pretrained"],
            threads=snakemake.threads,
            progress=p["progress"],
            amp=p["amp"],
            **training_context(p),  # device; bce_weight (training.segmentation.bce_weight) for segmentation
        )
        save_checkpoint(model_path, ckpt)
