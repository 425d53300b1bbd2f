from lens2logit.experiments.customization import run_customization
from lens2logit.workflow import job

with job(snakemake):
    options = dict(snakemake.params.customization)
    options.pop("enabled", None)
    options.pop("intensities", None)  # passed resolved, in input order
    options.pop("classifier", None)  # model references, resolved at plan time
    options.pop("isp", None)
    training = snakemake.params.training
    run_customization(
        snakemake.params.intensities,
        list(snakemake.input.raw),
        list(snakemake.input.targets),
        list(snakemake.input.meta),
        list(snakemake.input.views),
        snakemake.input.folds,
        curves_path=snakemake.output.curves,
        final_path=snakemake.output.final,
        figure_path=snakemake.output.figure,
        stages_dir=snakemake.output.stages,
        models_dir=snakemake.output.models,
        classifier=snakemake.params.start.get("classifier"),
        isp=snakemake.params.start.get("isp"),
        task_name=snakemake.wildcards.task,
        arch=training["arch"],
        seed=snakemake.params.seed,
        segmentation_headline=snakemake.params.segmentation_headline,
        bce_weight=training.get("bce_weight", 0.0),
        device=training["device"],
        **options,
    )
