import numpy as np

from lens2logit.training.splits import make_folds, save_folds
from lens2logit.workflow import job

with job(snakemake):
    targets = np.load(snakemake.input.targets, mmap_mode="r")
    folds = make_folds(targets, snakemake.params.k, snakemake.params.seed, snakemake.params.kind)
    save_folds(snakemake.output.folds, folds, k=snakemake.params.k, seed=snakemake.params.seed)
