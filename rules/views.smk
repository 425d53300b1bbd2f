rule render_view:
    input:
        raw="results/data/{task}/{intensity}/raw.npy",
        meta="results/data/{task}/{intensity}/meta.json",
    output:
        view="results/views/{task}/{intensity}/{view}.npy",
    log:
        "logs/render_view/{task}/{intensity}/{view}.log",
    benchmark:
        "results/benchmarks/render_view/{task}/{intensity}/{view}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    threads: 1
    params:
        unsharp=view_unsharp,
        batch_size=config.get("render", {}).get("batch_size", 64),
    script:
        "../scripts/render_view.py"
