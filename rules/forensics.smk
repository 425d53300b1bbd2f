if FORENSICS_ENABLED:

    rule drift_forensics:
        input:
            models=forensics_models,
            raw=f"results/data/{{task}}/{REF}/raw.npy",
            targets=f"results/data/{{task}}/{REF}/targets.npy",
            meta=f"results/data/{{task}}/{REF}/meta.json",
        output:
            table=report(
                "results/forensics/{task}/table.csv",
                caption="../report/forensics_table.rst",
                category="4 Drift forensics",
                subcategory="{task}",
            ),
            figure=report(
                "results/forensics/{task}/figure.png",
                caption="../report/forensics_figure.rst",
                category="4 Drift forensics",
                subcategory="{task}",
            ),
            strips=report(
                "results/forensics/{task}/strips.png",
                caption="../report/forensics_strips.rst",
                category="4 Drift forensics",
                subcategory="{task}",
            ),
            params="results/forensics/{task}/params.json",
            attacks="results/forensics/{task}/attacks.json",
        log:
            "logs/drift_forensics/{task}.log",
        benchmark:
            "results/benchmarks/drift_forensics/{task}.tsv"
        conda:
            "../envs/lens2logit.yaml"
        threads: 1
        params:
            code=script_code("forensics.py"),
            forensics=FORENSICS,
            training=training_params,
            seed=config["seed"],
            segmentation_headline=SEGMENTATION_HEADLINE,
        script:
            "../scripts/forensics.py"
