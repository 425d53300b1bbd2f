import json

from lens2logit.experiments.options import training_context
from lens2logit.experiments.train import train_on_view
from lens2logit.training import save_checkpoint
from lens2logit.workflow import job

with job(snakemake):
    p = snakemake.params.training
    ckpt = train_on_view(
        snakemake.input.views,
        snakemake.input.targets,
        snakemake.input.folds,
        int(snakemake.wildcards.fold),
        kind=snakemake.params.kind,
        arch=p["arch"],
        epochs=p["epochs"],
        batch_size=p["batch_size"],
        lr=p["lr"],
        augmentation=snakemake.wildcards.aug,
        seed=snakemake.params.seed,
        classes=json.load(open(snakemake.input.meta))["classes"],
        pretrained=p["pretrained"],
        threads=snakemake.threads,
        progress=p["progress"],
        amp=p["amp"],
        **training_context(p),  # device; bce_weight (training.segmentation.bce_weight) for segmentation
    )
    save_checkpoint(snakemake.output.model, ckpt)
