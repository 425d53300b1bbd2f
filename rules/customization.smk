if CUSTOMIZATION_ENABLED:

    rule isp_customization:
        input:
            raw=customization_raw,
            targets=customization_targets,
            meta=customization_meta,
            views=customization_views,
            folds="results/splits/{task}.json",
            start=customization_start_files,
        output:
            curves="results/customization/{task}/curves.csv",
            final=report(
                "results/customization/{task}/final.csv",
                caption="../report/customization_final.rst",
                category="5 ISP customization",
                subcategory="{task}",
            ),
            figure=report(
                "results/customization/{task}/figure.png",
                caption="../report/customization_figure.rst",
                category="5 ISP customization",
                subcategory="{task}",
            ),
            stages=directory("results/customization/{task}/stages"),
            models=directory("results/customization/{task}/models"),
        log:
            "logs/isp_customization/{task}.log",
        benchmark:
            "results/benchmarks/isp_customization/{task}.tsv"
        conda:
            "../envs/lens2logit.yaml"
        threads: 1
        params:
            code=script_code("customization.py"),
            customization=CUSTOMIZATION,
            intensities=CUSTOMIZATION_INTENSITIES,
            training=training_params,
            seed=config["seed"],
            segmentation_headline=SEGMENTATION_HEADLINE,
            start=customization_start,
        script:
            "../scripts/customization.py"
