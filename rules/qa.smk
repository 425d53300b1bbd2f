# Label-free drop prediction (issue 20, docs/deploying.md): every drift model's metric on every other
# view, and under every corruption, predicted from the confidences evaluation stored (ATC, DoC, the
# "no drop" baseline) beside the measured value. Cheap: no model runs again.
rule qa:
    input:
        samples=qa_samples,
        corruption_samples=corruption_samples,
    output:
        table=report(
            "results/qa/{dataset}/table.csv",
            caption="../report/qa_table.rst",
            category="6 Camera QA",
            subcategory="{dataset}",
        ),
        corruptions="results/qa/{dataset}/corruptions.csv",
        summary="results/qa/{dataset}/summary.csv",
        figure=report(
            "results/qa/{dataset}/scatter.png",
            caption="../report/qa_scatter.rst",
            category="6 Camera QA",
            subcategory="{dataset}",
        ),
    log:
        "logs/qa/{dataset}.log",
    benchmark:
        "results/benchmarks/qa/{dataset}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("qa.py"),
        kind=kind_param,
        level=config["qa"]["level"],
        resamples=config["qa"]["resamples"],
        seed=config["seed"],
    script:
        "../scripts/qa.py"
