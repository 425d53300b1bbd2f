rule summarize:
    input:
        drift=expand("results/drift/{task}/summary.json", task=TASKS),
        corruptions=summary_corruption_inputs(),
        intensity=summary_intensity_inputs(),
        forensics=summary_forensics_inputs(),
        customization=summary_customization_inputs(),
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
        tasks=TASKS,
        kinds=[TASK_KIND[t] for t in TASKS],
        segmentation_headline=SEGMENTATION_HEADLINE,
    script:
        "../scripts/summarize.py"
