from lens2logit.data.download import download
from lens2logit.workflow import job

with job(snakemake):
    download(snakemake.wildcards.source, snakemake.params.root, source=snakemake.params.source)
