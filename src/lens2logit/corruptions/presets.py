"""The corruption benchmark's options: the two presets, their corruption names and default severities,
and the check of the config's ``corruptions`` section (:func:`resolve_corruptions`, at plan time).
Free of PyTorch and the corruption code (:mod:`.benchmark`), so the workflow plans without them."""

from __future__ import annotations

import numbers
from typing import Any, Mapping

from lens2logit.errors import InputError
from lens2logit.schema import schema_default

IDENTITY = "identity"

# ---- presets -----------------------------------------------------------------------------

PAPER = "paper"
IMAGENET_C_PRESET = "imagenet-c"
PRESETS = (PAPER, IMAGENET_C_PRESET)
DEFAULT_PRESET = schema_default("corruptions.preset")  # paper

# The original's ten transforms, in its order (reference-spec §5.5).
PAPER_CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "gaussian_blur", "zoom_blur",
    "contrast", "brightness", "saturate", "elastic_transform",
)  # fmt: skip
# The 15 corruptions of the ImageNet-C benchmark (the imagenet-c preset's default list).
IMAGENET_C = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
    "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
    "jpeg_compression",
)  # fmt: skip
# Every name imagecorruptions offers (get_corruption_names("all")); kept static so that plan-time
# validation does not import the package (a test checks it against the package).
IMAGENET_C_ALL = IMAGENET_C + ("speckle_noise", "gaussian_blur", "spatter", "saturate")

PRESET_NAMES = {PAPER: PAPER_CORRUPTIONS, IMAGENET_C_PRESET: IMAGENET_C_ALL}  # accepted names
PRESET_DEFAULT_NAMES = {PAPER: PAPER_CORRUPTIONS, IMAGENET_C_PRESET: IMAGENET_C}
PRESET_SEVERITY = {PAPER: 1, IMAGENET_C_PRESET: 3}
DEFAULT_SEVERITY = PRESET_SEVERITY[DEFAULT_PRESET]
SEVERITIES = (1, 2, 3, 4, 5)

# ---- options ------------------------------------------------------------------------------


def check_preset(preset: str) -> str:
    """Return ``preset`` if it is one of :data:`PRESETS`, else InputError naming ``corruptions.preset``."""
    if preset not in PRESETS:
        raise InputError(f"unknown corruption preset {preset!r} (option corruptions.preset); valid presets: {', '.join(PRESETS)}")
    return preset


def check_corruption(name: str, preset: str = DEFAULT_PRESET) -> str:
    """Return ``name`` if ``identity`` or a name of ``preset``, else one InputError listing the valid ones."""
    check_preset(preset)
    if name != IDENTITY and name not in PRESET_NAMES[preset]:
        raise InputError(
            f"unknown corruption {name!r} (option corruptions.names, preset {preset!r}); "
            f"valid names: {', '.join((IDENTITY,) + PRESET_NAMES[preset])}"
        )
    return name


def check_severity(severity: int | None, preset: str = DEFAULT_PRESET) -> int:
    """Severity 1…5; ``None`` → the preset's default (:data:`PRESET_SEVERITY`)."""
    if severity is None:
        return PRESET_SEVERITY[check_preset(preset)]
    # numbers.Integral takes numpy integers too
    if isinstance(severity, bool) or not isinstance(severity, numbers.Integral) or int(severity) not in SEVERITIES:
        raise InputError(f"corruption severity must be an integer in 1..5 (option corruptions.severity), got {severity!r}")
    return int(severity)


_check_severity = check_severity  # old private name


def resolve_corruptions(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate the config's ``corruptions`` section and fill in the preset's defaults.

    Called at plan time by ``lens2logit.workflow.plan.build_plan`` so that a bad name fails before any job runs.

    Returns:
        ``{"enabled", "preset", "names", "severity", "max_samples"}`` with ``names`` a list
        (the preset's default list when the option is missing or null) and ``severity`` an int.

    Example:
        >>> resolve_corruptions({"preset": "paper"})["severity"]
        1
    """
    options = dict(options or {})
    preset = check_preset(options.get("preset") or DEFAULT_PRESET)
    names = options.get("names")
    names = list(PRESET_DEFAULT_NAMES[preset]) if names is None else [check_corruption(n, preset) for n in names]
    return {
        "enabled": bool(options.get("enabled", True)),
        "preset": preset,
        "names": names,
        "severity": check_severity(options.get("severity"), preset),
        "max_samples": options.get("max_samples"),
    }
