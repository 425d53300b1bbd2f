rule aggregate_drift:
    input:
        metrics=drift_metrics,
    output:
        matrix=report(
            "results/drift/{dataset}/matrix.csv",
            caption="../report/drift_matrix_csv.rst",
            category="1 Drift synthesis",
            subcategory="{dataset}",
        ),
        summary="results/drift/{dataset}/summary.json",
        figure=report(
            "results/drift/{dataset}/matrix.png",
            caption="../report/drift_matrix.rst",
            category="1 Drift synthesis",
            subcategory="{dataset}",
        ),
        difference=report(
            "results/drift/{dataset}/difference.png",
            caption="../report/drift_difference.rst",
            category="1 Drift synthesis",
            subcategory="{dataset}",
        ),
    log:
        "logs/aggregate_drift/{dataset}.log",
    benchmark:
        "results/benchmarks/aggregate_drift/{dataset}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("aggregate_drift.py"),
        views=PLAN.view_labels,
        augmentations=PLAN.augmentations,
        kind=kind_param,
        paper=paper_claims,
        segmentation_headline=config["report"]["segmentation_headline"],
    script:
        "../scripts/aggregate_drift.py"


# The findings the paper comparison uses, each with its 90 % bootstrap interval over test images and
# folds (lens2logit.drift.bootstrap), from the per-sample records of the primary augmentation.
rule bootstrap_findings:
    input:
        samples=primary_drift_samples,
        corruption_samples=corruption_samples,
    output:
        findings=paths.findings_path("{dataset}"),
    log:
        "logs/bootstrap_findings/{dataset}.log",
    benchmark:
        "results/benchmarks/bootstrap_findings/{dataset}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("bootstrap_findings.py"),
        views=PLAN.view_labels,
        kind=kind_param,
        replicates=config["report"]["bootstrap_replicates"],
        seed=config["seed"],
    script:
        "../scripts/bootstrap_findings.py"


rule aggregate_corruptions:
    input:
        tables=corruption_tables,
        drift=primary_drift_metrics,
        targets=paths.data_file("{dataset}", REF, "targets.npy"),
    output:
        table=report(
            "results/corruptions/{dataset}/table.csv",
            caption="../report/corruptions_table.rst",
            category="2 Corruption baseline",
            subcategory="{dataset}",
        ),
        comparison=report(
            "results/corruptions/{dataset}/comparison.csv",
            caption="../report/corruptions_comparison.rst",
            category="2 Corruption baseline",
            subcategory="{dataset}",
        ),
        figure=report(
            "results/corruptions/{dataset}/figure.png",
            caption="../report/corruptions_figure.rst",
            category="2 Corruption baseline",
            subcategory="{dataset}",
        ),
    log:
        "logs/aggregate_corruptions/{dataset}.log",
    benchmark:
        "results/benchmarks/aggregate_corruptions/{dataset}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("aggregate_corruptions.py"),
        views=PLAN.view_labels,
        kind=kind_param,
        segmentation_headline=config["report"]["segmentation_headline"],
        paper=paper_claims,
    script:
        "../scripts/aggregate_corruptions.py"


rule aggregate_intensity:
    input:
        metrics=intensity_metrics,
    output:
        matrix=report(
            "results/intensity/{dataset}/matrix.csv",
            caption="../report/intensity_matrix_csv.rst",
            category="3 Intensity drift",
            subcategory="{dataset}",
        ),
        figure=report(
            "results/intensity/{dataset}/matrix.png",
            caption="../report/intensity_matrix.rst",
            category="3 Intensity drift",
            subcategory="{dataset}",
        ),
    log:
        "logs/aggregate_intensity/{dataset}.log",
    benchmark:
        "results/benchmarks/aggregate_intensity/{dataset}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("aggregate_intensity.py"),
        view=config["intensity_drift"]["view"],
        kind=kind_param,
        segmentation_headline=config["report"]["segmentation_headline"],
    script:
        "../scripts/aggregate_intensity.py"
