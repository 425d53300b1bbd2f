from lens2logit.corruptions.benchmark import score_corruptions_views
from lens2logit.workflow import job

with job(snakemake):
    score_corruptions_views(
        snakemake.input.models,
        snakemake.input.views,
        snakemake.input.targets,
        snakemake.output.tables,
        views=snakemake.params.labels,
        samples_paths=snakemake.output.samples,
        preset=snakemake.params.preset,
        names=snakemake.params.names,
        severity=snakemake.params.severity,
        seed=snakemake.params.seed,
        max_samples=snakemake.params.max_samples,
        device=snakemake.params.device,
    )
