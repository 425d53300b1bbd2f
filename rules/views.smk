# ISP views. At the reference intensity every configured view is needed: one job per (dataset,
# sharpening) renders them together through isp.render_views, which demosaics each mosaic
# once for all the views sharing a demosaicer (≈2× cheaper than a job per view, and 12× fewer
# process start-ups). The unsharp-masked views are a job of their own so that changing
# `unsharp` reruns only them and what depends on them. Other intensities need one or two views
# each (intensity drift, customization): one job per dataset renders them all.


if REF_STATIC_SLUGS:

    rule render_views:
        input:
            raw=[f"results/data/{{dataset}}/{REF}/raw.npy"],
            meta=[f"results/data/{{dataset}}/{REF}/meta.json"],
        output:
            ref_view_files(REF_STATIC_SLUGS),
        log:
            "logs/render_views/{dataset}.log",
        benchmark:
            "results/benchmarks/render_views/{dataset}.tsv"
        conda:
            "../envs/lens2logit.yaml"
        threads: 1
        params:
            views=[REF_STATIC_SLUGS],
            unsharp="paper",
            batch_size=config["render"]["batch_size"],
            code=script_code("render_views.py"),
        script:
            "../scripts/render_views.py"


if REF_UNSHARP_SLUGS:

    rule render_views_unsharp:
        input:
            raw=[f"results/data/{{dataset}}/{REF}/raw.npy"],
            meta=[f"results/data/{{dataset}}/{REF}/meta.json"],
        output:
            ref_view_files(REF_UNSHARP_SLUGS),
        log:
            "logs/render_views_unsharp/{dataset}.log",
        benchmark:
            "results/benchmarks/render_views_unsharp/{dataset}.tsv"
        conda:
            "../envs/lens2logit.yaml"
        threads: 1
        params:
            views=[REF_UNSHARP_SLUGS],
            unsharp=config["unsharp"],
            batch_size=config["render"]["batch_size"],
            code=script_code("render_views.py"),
        script:
            "../scripts/render_views.py"


if OTHER_INTENSITY_VIEWS:

    rule render_views_other_intensities:
        input:
            raw=[f"results/data/{{dataset}}/{i}/raw.npy" for i in OTHER_INTENSITY_VIEWS],
            meta=[
                f"results/data/{{dataset}}/{i}/meta.json"
                for i in OTHER_INTENSITY_VIEWS
            ],
        output:
            other_intensity_view_files(),
        log:
            "logs/render_views_other_intensities/{dataset}.log",
        benchmark:
            "results/benchmarks/render_views_other_intensities/{dataset}.tsv"
        conda:
            "../envs/lens2logit.yaml"
        threads: 1
        params:
            views=list(OTHER_INTENSITY_VIEWS.values()),
            unsharp=OTHER_INTENSITY_UNSHARP,
            batch_size=config["render"]["batch_size"],
            code=script_code("render_views.py"),
        script:
            "../scripts/render_views.py"
