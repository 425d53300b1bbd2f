# Named targets for partial runs (`snakemake all_views`) and for the DVC stages in dvc.yaml.


localrules:
    all_data,
    all_views,
    all_rendered_views,
    all_drift,
    all_corruptions,
    all_findings,
    all_intensity,
    all_forensics,
    all_customization,
    all_robust,
    report_inputs,


rule all_data:
    input:
        PLAN.data_outputs(),


rule all_views:
    input:
        PLAN.view_outputs(),


rule all_rendered_views:
    input:
        PLAN.rendered_view_outputs(),


rule all_drift:
    input:
        PLAN.drift_outputs(),


rule all_corruptions:
    input:
        PLAN.corruption_outputs(),


rule all_findings:
    input:
        PLAN.findings_outputs(),


rule all_intensity:
    input:
        PLAN.intensity_outputs(),


rule all_forensics:
    input:
        PLAN.forensics_outputs(),


rule all_customization:
    input:
        PLAN.customization_outputs(),


rule all_robust:
    input:
        PLAN.robust_outputs(),


rule report_inputs:
    input:
        PLAN.final_outputs(),
        PLAN.robust_outputs(),
        PLAN.timing_outputs(),
