from lens2logit.study.summary import write_summary
from lens2logit.workflow import job

with job(snakemake):
    i = snakemake.input
    write_summary(
        snakemake.output.summary,
        datasets=snakemake.params.datasets,
        drift=i.drift,
        findings=i.findings,
        corruptions=i.corruptions,
        intensity=i.intensity,
        forensics=i.forensics,
        customization=i.customization,
        qa=i.qa,
        robust=i.robust,
        kinds=snakemake.params.kinds,
        segmentation_headline=snakemake.params.segmentation_headline,
    )
