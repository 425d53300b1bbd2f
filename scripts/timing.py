from lens2logit.study.timing import write_timing
from lens2logit.workflow import job

with job(snakemake):
    write_timing(
        snakemake.params.benchmarks,
        csv_path=snakemake.output.csv,
        md_path=snakemake.output.markdown,
    )
