from lens2logit.data.layout import intensity_from_slug
from lens2logit.data.manifest import check_branch
from lens2logit.data.registry import dataset_source
from lens2logit.data.export import export_dataset
from lens2logit.workflow import job

with job(snakemake):
    intensity = intensity_from_slug(snakemake.wildcards.intensity)
    # The files this job reads must still match the dataset's MANIFEST.sha256 (when it has one).
    source = dataset_source(snakemake.wildcards.dataset)
    if source != "custom":  # custom folders have no fixed layout to check
        check_branch(
            source,
            snakemake.params.root,
            intensity,
            tile_size=snakemake.params.tile_size,
            accept_changes=snakemake.config["data"]["accept_changes"],  # filled by validate()
        )
    export_dataset(
        snakemake.wildcards.dataset,
        snakemake.params.root,
        intensity,
        tile_size=snakemake.params.tile_size,
        cache_dir=snakemake.params.cache_dir,
        check_published_counts=snakemake.params.published_counts,
        kind=snakemake.params.kind,
        raw_path=snakemake.output.raw,
        targets_path=snakemake.output.targets,
        meta_path=snakemake.output.meta,
    )
