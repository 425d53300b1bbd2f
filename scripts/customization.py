from lens2logit.customization.joint import run_customization
from lens2logit.customization.options import CustomizationOptions
from lens2logit.training.options import training_context
from lens2logit.workflow import job

with job(snakemake):
    training = snakemake.params.training
    options = CustomizationOptions.from_config(
        snakemake.params.customization,  # the validated section; intensities/classifier/isp resolved below
        arch=training["arch"],
        seed=snakemake.params.seed,
        segmentation_headline=snakemake.params.segmentation_headline,
        **training_context(training),
    )
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
        verdict_path=snakemake.output.verdict,
        classifier=snakemake.params.start.get("classifier"),
        isp=snakemake.params.start.get("isp"),
        dataset=snakemake.wildcards.dataset,
        options=options,
    )
