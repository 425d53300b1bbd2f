rule summarize:
    input:
        drift=PLAN.drift_summaries(),
        findings=PLAN.findings_outputs(),
        corruptions=PLAN.summary_inputs("corruptions"),
        intensity=PLAN.summary_inputs("intensity"),
        forensics=PLAN.summary_inputs("forensics"),
        customization=PLAN.summary_inputs("customization"),
        qa=PLAN.summary_inputs("qa"),
        robust=PLAN.summary_inputs("robust"),
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
        datasets=PLAN.datasets,
        kinds=[PLAN.dataset_kind[t] for t in PLAN.datasets],
        segmentation_headline=config["report"]["segmentation_headline"],
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
