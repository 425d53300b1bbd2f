# Proposed additions to rules/common.smk for rules/forensics.smk and rules/customization.smk
# (the lead owns common.smk; paste after the drift constants FOLDS / PRIMARY_AUG / REF and
# model_path are defined). Both rule files define their rule only when config <stage>.enabled,
# so nothing here is needed while `forensics` / `customization` are absent from the config.

FORENSICS = config.get("forensics", {})
FORENSICS_ENABLED = FORENSICS.get("enabled", False)
FORENSICS_VIEW = get_view(FORENSICS.get("view", "bi,s,ga")).slug
FORENSICS_FOLDS = FOLDS[: FORENSICS.get("folds", len(FOLDS))]

CUSTOMIZATION = config.get("customization", {})
CUSTOMIZATION_ENABLED = CUSTOMIZATION.get("enabled", False)
CUSTOMIZATION_VIEW = get_view(CUSTOMIZATION.get("view", "bi,s,ga")).slug
CUSTOMIZATION_INTENSITIES = [float(i) for i in CUSTOMIZATION.get("intensities", [0.01, 0.05])]
CUSTOMIZATION_SLUGS = [intensity_slug(i) for i in CUSTOMIZATION_INTENSITIES]

if FORENSICS_ENABLED and FORENSICS_VIEW not in VIEW_SLUGS:
    raise ValueError(f"config forensics.view {FORENSICS['view']!r} is not among config views {VIEW_LABELS}")


def forensics_models(wildcards):
    """The drift-synthesis models the forensics attack: static view, primary augmentation, reference light."""
    return [model_path(wildcards.task, PRIMARY_AUG, REF, FORENSICS_VIEW, k) for k in FORENSICS_FOLDS]


def customization_raw(wildcards):
    return [f"results/data/{wildcards.task}/{i}/raw.npy" for i in CUSTOMIZATION_SLUGS]


def customization_targets(wildcards):
    return [f"results/data/{wildcards.task}/{i}/targets.npy" for i in CUSTOMIZATION_SLUGS]


def customization_meta(wildcards):
    return [f"results/data/{wildcards.task}/{i}/meta.json" for i in CUSTOMIZATION_SLUGS]


def customization_views(wildcards):
    return [f"results/views/{wildcards.task}/{i}/{CUSTOMIZATION_VIEW}.npy" for i in CUSTOMIZATION_SLUGS]


# forensics_outputs() may also list strips.png and params.json; customization_outputs() is complete.
