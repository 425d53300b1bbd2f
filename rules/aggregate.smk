rule aggregate_drift:
    input:
        metrics=drift_metrics,
    output:
        matrix=report(
            "results/drift/{task}/matrix.csv",
            caption="../report/drift_matrix_csv.rst",
            category="1 Drift synthesis",
            subcategory="{task}",
        ),
        summary="results/drift/{task}/summary.json",
        figure=report(
            "results/drift/{task}/matrix.png",
            caption="../report/drift_matrix.rst",
            category="1 Drift synthesis",
            subcategory="{task}",
        ),
        difference=report(
            "results/drift/{task}/difference.png",
            caption="../report/drift_difference.rst",
            category="1 Drift synthesis",
            subcategory="{task}",
        ),
    log:
        "logs/aggregate_drift/{task}.log",
    benchmark:
        "results/benchmarks/aggregate_drift/{task}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("aggregate_drift.py"),
        views=VIEW_LABELS,
        augmentations=AUGMENTATIONS,
        kind=task_kind,
        paper=paper_claims,
        segmentation_headline=SEGMENTATION_HEADLINE,
    script:
        "../scripts/aggregate_drift.py"


rule aggregate_corruptions:
    input:
        tables=corruption_tables,
        drift=primary_drift_metrics,
        targets=f"results/data/{{task}}/{REF}/targets.npy",
    output:
        table=report(
            "results/corruptions/{task}/table.csv",
            caption="../report/corruptions_table.rst",
            category="2 Corruption baseline",
            subcategory="{task}",
        ),
        comparison=report(
            "results/corruptions/{task}/comparison.csv",
            caption="../report/corruptions_comparison.rst",
            category="2 Corruption baseline",
            subcategory="{task}",
        ),
        figure=report(
            "results/corruptions/{task}/figure.png",
            caption="../report/corruptions_figure.rst",
            category="2 Corruption baseline",
            subcategory="{task}",
        ),
    log:
        "logs/aggregate_corruptions/{task}.log",
    benchmark:
        "results/benchmarks/aggregate_corruptions/{task}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("aggregate_corruptions.py"),
        views=VIEW_LABELS,
        kind=task_kind,
        segmentation_headline=SEGMENTATION_HEADLINE,
        paper=paper_claims,
    script:
        "../scripts/aggregate_corruptions.py"


rule aggregate_intensity:
    input:
        metrics=intensity_metrics,
    output:
        matrix=report(
            "results/intensity/{task}/matrix.csv",
            caption="../report/intensity_matrix_csv.rst",
            category="3 Intensity drift",
            subcategory="{task}",
        ),
        figure=report(
            "results/intensity/{task}/matrix.png",
            caption="../report/intensity_matrix.rst",
            category="3 Intensity drift",
            subcategory="{task}",
        ),
    log:
        "logs/aggregate_intensity/{task}.log",
    benchmark:
        "results/benchmarks/aggregate_intensity/{task}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("aggregate_intensity.py"),
        view=INTENSITY["view"],
        kind=task_kind,
        segmentation_headline=SEGMENTATION_HEADLINE,
    script:
        "../scripts/aggregate_intensity.py"
