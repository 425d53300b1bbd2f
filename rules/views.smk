# ISP views. At the reference intensity every configured view is needed: one job per (dataset,
# sharpening) renders them together through isp.render_views, which demosaics each mosaic
# once for all the views sharing a demosaicer (≈2× cheaper than a job per view, and 12× fewer
# process start-ups). The unsharp-masked views are a job of their own so that changing
# `unsharp` reruns only them and what depends on them. Other intensities need one or two views
# each (intensity drift, customization): one job per dataset renders them all.


if PLAN.ref_static_slugs:

    rule render_views:
        input:
            raw=[paths.data_file("{dataset}", REF, "raw.npy")],
            meta=[paths.data_file("{dataset}", REF, "meta.json")],
        output:
            PLAN.ref_view_files(PLAN.ref_static_slugs),
        log:
            "logs/render_views/{dataset}.log",
        benchmark:
            "results/benchmarks/render_views/{dataset}.tsv"
        conda:
            "../envs/lens2logit.yaml"
        threads: 1
        params:
            views=[PLAN.ref_static_slugs],
            unsharp="paper",
            batch_size=config["render"]["batch_size"],
            dtype=config["render"]["dtype"],
            code=script_code("render_views.py"),
        script:
            "../scripts/render_views.py"


if PLAN.ref_unsharp_slugs:

    rule render_views_unsharp:
        input:
            raw=[paths.data_file("{dataset}", REF, "raw.npy")],
            meta=[paths.data_file("{dataset}", REF, "meta.json")],
        output:
            PLAN.ref_view_files(PLAN.ref_unsharp_slugs),
        log:
            "logs/render_views_unsharp/{dataset}.log",
        benchmark:
            "results/benchmarks/render_views_unsharp/{dataset}.tsv"
        conda:
            "../envs/lens2logit.yaml"
        threads: 1
        params:
            views=[PLAN.ref_unsharp_slugs],
            unsharp=config["unsharp"],
            batch_size=config["render"]["batch_size"],
            dtype=config["render"]["dtype"],
            code=script_code("render_views.py"),
        script:
            "../scripts/render_views.py"


if PLAN.other_intensity_views:

    rule render_views_other_intensities:
        input:
            raw=PLAN.other_intensity_data("raw.npy"),
            meta=PLAN.other_intensity_data("meta.json"),
        output:
            PLAN.other_intensity_view_files(),
        log:
            "logs/render_views_other_intensities/{dataset}.log",
        benchmark:
            "results/benchmarks/render_views_other_intensities/{dataset}.tsv"
        conda:
            "../envs/lens2logit.yaml"
        threads: 1
        params:
            views=list(PLAN.other_intensity_views.values()),
            unsharp=PLAN.other_intensity_unsharp,
            batch_size=config["render"]["batch_size"],
            dtype=config["render"]["dtype"],
            code=script_code("render_views.py"),
        script:
            "../scripts/render_views.py"
