from lens2logit.corruptions.benchmark import score_corruptions
from lens2logit.workflow import job

with job(snakemake):
    score_corruptions(
        snakemake.input.models,
        snakemake.input.view,
        snakemake.input.targets,
        snakemake.output.table,
        view=snakemake.params.label,
        samples_path=snakemake.output.samples,
        preset=snakemake.params.preset,
        names=snakemake.params.names,
        severity=snakemake.params.severity,
        seed=snakemake.params.seed,
        max_samples=snakemake.params.max_samples,
        device=snakemake.params.device,
    )
