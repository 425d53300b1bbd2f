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
        data_outputs(),


rule all_views:
    input:
        view_outputs(),


rule all_rendered_views:
    input:
        rendered_view_outputs(),


rule all_drift:
    input:
        drift_outputs(),


rule all_corruptions:
    input:
        corruption_outputs(),


rule all_findings:
    input:
        findings_outputs(),


rule all_intensity:
    input:
        intensity_outputs(),


rule all_forensics:
    input:
        forensics_outputs(),


rule all_customization:
    input:
        customization_outputs(),


rule all_robust:
    input:
        robust_outputs(),


rule report_inputs:
    input:
        get_final_output(),
        robust_outputs(),
        timing_outputs(),
