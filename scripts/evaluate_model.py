from lens2logit.stages.scoring import score_model
from lens2logit.isp.views import get_view
from lens2logit.workflow import job

with job(snakemake):
    w = snakemake.wildcards
    score_model(
        snakemake.input.model,
        snakemake.input.views,
        snakemake.input.targets,
        snakemake.params.labels,
        snakemake.output.metrics,
        train={
            "train_view": get_view(w.view).label,
            "train_intensity": int(w.intensity) / 100,
            "augmentation": w.aug,
            "fold": int(w.fold),
        },
        batch_size=snakemake.params.batch_size,
        device=snakemake.params.device,
    )
