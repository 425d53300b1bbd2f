from lens2logit.qa.table import write_qa
from lens2logit.workflow import job

with job(snakemake):
    o, p = snakemake.output, snakemake.params
    write_qa(
        snakemake.input.samples,
        snakemake.input.corruption_samples,
        kind=p.kind,
        dataset=snakemake.wildcards.dataset,
        table_path=o.table,
        corruptions_path=o.corruptions,
        summary_path=o.summary,
        figure_path=o.figure,
        level=p.level,
        n_resamples=p.resamples,
        seed=p.seed,
    )
