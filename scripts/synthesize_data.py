from lens2logit.data.synth import synthesize
from lens2logit.workflow import job

with job(snakemake):
    synthesize(snakemake.wildcards.source, snakemake.params.root, seed=snakemake.params.seed, **snakemake.params.synth)
