from lens2logit.stages.scoring import score_model
from lens2logit.data.layout import intensity_from_slug
from lens2logit.isp.views import get_view
from lens2logit.workflow import job

with job(snakemake):
    w = snakemake.wildcards
    for fold, model_path, metrics_path, samples_path in zip(
        snakemake.params.folds,
        snakemake.input.models,
        snakemake.output.metrics,
        snakemake.output.samples,
    ):
        score_model(
            model_path,
            snakemake.input.views,
            snakemake.input.targets,
            snakemake.params.labels,
            metrics_path,
            train={
                "train_view": get_view(w.view).label,
                "train_intensity": intensity_from_slug(w.intensity),
                "augmentation": w.aug,
                "fold": fold,
            },
            batch_size=snakemake.params.batch_size,
            device=snakemake.params.device,
            samples_path=samples_path,
        )
