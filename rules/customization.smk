if PLAN.customization_enabled:

    rule isp_customization:
        input:
            raw=customization_raw,
            targets=customization_targets,
            meta=customization_meta,
            views=customization_views,
            folds=paths.splits_path("{dataset}"),
            start=customization_start_files,
        output:
            curves="results/customization/{dataset}/curves.csv",
            final=report(
                "results/customization/{dataset}/final.csv",
                caption="../report/customization_final.rst",
                category="5 ISP customization",
                subcategory="{dataset}",
            ),
            verdict=report(
                "results/customization/{dataset}/verdict.csv",
                caption="../report/customization_verdict.rst",
                category="5 ISP customization",
                subcategory="{dataset}",
            ),
            figure=report(
                "results/customization/{dataset}/figure.png",
                caption="../report/customization_figure.rst",
                category="5 ISP customization",
                subcategory="{dataset}",
            ),
            stages=directory(paths.customization_stages_dir("{dataset}")),
            models=directory(paths.customization_models_dir("{dataset}")),
        log:
            "logs/isp_customization/{dataset}.log",
        benchmark:
            "results/benchmarks/isp_customization/{dataset}.tsv"
        # a long single job: started among the first, so that it does not finish alone after the rest
        priority: 1
        conda:
            "../envs/lens2logit.yaml"
        threads: 1
        params:
            code=script_code("customization.py"),
            customization=config["customization"],
            intensities=PLAN.customization_intensities,
            training=training_params,
            seed=config["seed"],
            segmentation_headline=config["report"]["segmentation_headline"],
            start=customization_start,
        script:
            "../scripts/customization.py"
