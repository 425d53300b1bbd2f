from lens2logit.stages.scoring import score_corruptions
from lens2logit.workflow import job

with job(snakemake):
    labels = snakemake.params.labels
    folds = len(snakemake.input.models) // len(labels)  # every fold's model, view after view
    for i, (label, view_path, table) in enumerate(
        zip(labels, snakemake.input.views, snakemake.output.tables)
    ):
        score_corruptions(
            snakemake.input.models[i * folds : (i + 1) * folds],
            view_path,
            snakemake.input.targets,
            table,
            view=label,
            preset=snakemake.params.preset,
            names=snakemake.params.names,
            severity=snakemake.params.severity,
            seed=snakemake.params.seed,
            max_samples=snakemake.params.max_samples,
            device=snakemake.params.device,
        )
