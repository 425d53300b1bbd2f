if PLAN.forensics_enabled:

    rule drift_forensics:
        input:
            models=forensics_models,
            raw=paths.data_file("{dataset}", REF, "raw.npy"),
            targets=paths.data_file("{dataset}", REF, "targets.npy"),
            meta=paths.data_file("{dataset}", REF, "meta.json"),
        output:
            table=report(
                "results/forensics/{dataset}/table.csv",
                caption="../report/forensics_table.rst",
                category="4 Drift forensics",
                subcategory="{dataset}",
            ),
            figure=report(
                "results/forensics/{dataset}/figure.png",
                caption="../report/forensics_figure.rst",
                category="4 Drift forensics",
                subcategory="{dataset}",
            ),
            distance=report(
                "results/forensics/{dataset}/figure_distance.png",
                caption="../report/forensics_distance.rst",
                category="4 Drift forensics",
                subcategory="{dataset}",
            ),
            strips=report(
                "results/forensics/{dataset}/strips.png",
                caption="../report/forensics_strips.rst",
                category="4 Drift forensics",
                subcategory="{dataset}",
            ),
            params="results/forensics/{dataset}/params.json",
            attacks="results/forensics/{dataset}/attacks.json",
        log:
            "logs/drift_forensics/{dataset}.log",
        benchmark:
            "results/benchmarks/drift_forensics/{dataset}.tsv"
        # a long single job: started among the first, so that it does not finish alone after the rest
        priority: 1
        conda:
            "../envs/lens2logit.yaml"
        threads: 1
        params:
            code=script_code("forensics.py"),
            forensics=config["forensics"],
            training=training_params,
            seed=config["seed"],
            segmentation_headline=config["report"]["segmentation_headline"],
        script:
            "../scripts/forensics.py"
