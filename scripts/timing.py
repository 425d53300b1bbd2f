from lens2logit.stages.timing import write_timing
from lens2logit.workflow import job

with job(snakemake):
    write_timing(
        snakemake.params.benchmarks,
        csv_path=snakemake.output.csv,
        md_path=snakemake.output.markdown,
    )
