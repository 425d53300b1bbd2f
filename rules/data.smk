if config["data"]["source"] == "synthetic":

    rule synthesize_data:
        output:
            manifest=paths.source_manifest(DATA_ROOT, "{source}"),
        log:
            "logs/synthesize_data/{source}.log",
        benchmark:
            "results/benchmarks/synthesize_data/{source}.tsv"
        conda:
            "../envs/lens2logit.yaml"
        params:
            code=script_code("synthesize_data.py"),
            root=source_root_param,
            seed=config["seed"],
            synth=synth_params,
        script:
            "../scripts/synthesize_data.py"

elif config["data"]["source"] in ("zenodo", "b2"):

    rule download_data:
        output:
            manifest=paths.source_manifest(DATA_ROOT, "{source}"),
        log:
            "logs/download_data/{source}.log",
        benchmark:
            "results/benchmarks/download_data/{source}.tsv"
        conda:
            "../envs/lens2logit.yaml"
        params:
            code=script_code("download_data.py"),
            root=source_root_param,
            source=config["data"]["source"],
        script:
            "../scripts/download_data.py"


rule prepare_dataset:
    input:
        marker=dataset_marker,
    output:
        raw=paths.data_file("{dataset}", "{intensity}", "raw.npy"),
        targets=paths.data_file("{dataset}", "{intensity}", "targets.npy"),
        meta=paths.data_file("{dataset}", "{intensity}", "meta.json"),
    log:
        "logs/prepare_dataset/{dataset}/{intensity}.log",
    benchmark:
        "results/benchmarks/prepare_dataset/{dataset}/{intensity}.tsv"
    conda:
        "../envs/lens2logit.yaml"
    params:
        code=script_code("prepare_dataset.py"),
        root=dataset_root_param,
        tile_size=config["data"]["tile_size"],
        cache_dir=tile_cache_param,
        published_counts=published_counts_param,
        kind=declared_kind_param,
        fingerprint=data_fingerprint,
    script:
        "../scripts/prepare_dataset.py"
