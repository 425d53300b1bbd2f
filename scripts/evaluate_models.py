from lens2logit.training.scoring import score_models
from lens2logit.workflow import job

with job(snakemake):
    score_models(
        snakemake.input.models,
        snakemake.params.jobs,
        snakemake.output.metrics,
        snakemake.output.samples,
        batch_size=snakemake.params.batch_size,
        device=snakemake.params.device,
    )
