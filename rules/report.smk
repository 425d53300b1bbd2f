rule summarize:
    input:
        drift=expand("results/drift/{dataset}/summary.json", dataset=DATASETS),
        findings=findings_outputs(),
        corruptions=summary_corruption_inputs(),
        intensity=summary_intensity_inputs(),
        forensics=summary_forensics_inputs(),
        customization=summary_customization_inputs(),
        qa=summary_qa_inputs(),
        robust=summary_robust_inputs(),
    output:
        summary=report(
            "results/summary.md",
            caption="../report/summary.rst",
            category="0 Summary",
        ),
    log:
        "logs/summarize/summary.log",
    benchmark:
        "results/benchmarks/summarize/summary.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("summarize.py"),
        datasets=DATASETS,
        kinds=[DATASET_KIND[t] for t in DATASETS],
        segmentation_headline=SEGMENTATION_HEADLINE,
    script:
        "../scripts/summarize.py"


# Time split by rule, from the benchmark files of every job that ran so far. It runs after the
# summary, i.e. after every other job of the study.
rule timing:
    input:
        summary="results/summary.md",
    output:
        csv="results/timing.csv",
        markdown="results/timing.md",
    log:
        "logs/timing/timing.log",
    benchmark:
        "results/benchmarks/timing/timing.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        benchmarks="results/benchmarks",
        code=script_code("timing.py"),
    script:
        "../scripts/timing.py"
