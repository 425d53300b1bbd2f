from lens2logit.drift.bootstrap import write_findings
from lens2logit.workflow import job

with job(snakemake):
    write_findings(
        snakemake.input.samples,
        snakemake.params.views,
        snakemake.params.kind,
        snakemake.output.findings,
        dataset=snakemake.wildcards.dataset,
        corruption_paths=snakemake.input.corruption_samples,
        n_replicates=snakemake.params.replicates,
        seed=snakemake.params.seed,
    )
