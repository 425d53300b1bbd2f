"""The options of ISP customization (the ``customization`` section) and the checks the schema cannot
express; free of PyTorch, so the workflow checks them while planning without importing it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from lens2logit.isp.views import twin_view_problems
from lens2logit.schema import section_with_defaults
from lens2logit.training.options import context_settings, raise_problems


@dataclass(frozen=True)
class NeuralOptions:
    """Options of the :class:`~lens2logit.isp.neural.NeuralISP` (``customization.neural``; the
    schema's defaults are a small timm encoder, ``NeuralISP``'s own keyword defaults the paper's)."""

    encoder: str
    encoder_depth: int
    decoder_channels: tuple[int, ...]

    SECTION: ClassVar[str] = "customization.neural"

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> "NeuralOptions":
        values = section_with_defaults(cls.SECTION, section)
        raise_problems(neural_problems(values, cls.SECTION))
        return cls(**{**values, "decoder_channels": tuple(values["decoder_channels"])})


@dataclass(frozen=True)
class CustomizationOptions:
    """What :func:`run_customization` does: the ``customization`` section plus settings of others.

    ``arch`` is ``training.<kind>.arch`` (the drift models'); the others of
    :data:`~lens2logit.training.options.CONTEXT_KEYS` as for forensics. The schema defines every
    option and its default; build one with :meth:`from_config`.
    """

    arch: str
    processings: tuple[str, ...]
    view: str
    folds: int
    epochs: int
    batch_size: int
    lr: float
    schedule: str
    augmentation: str
    constrain: bool
    batchnorm: bool
    group_lr_scales: Mapping[str, float]
    neural: NeuralOptions
    stage_samples: int
    freeze_classifier: bool
    freeze_isp: bool
    seed: int
    bce_weight: float
    segmentation_headline: str
    device: str | None

    # Keys of the section the workflow resolves itself (input files, their order, start models).
    WORKFLOW_KEYS: ClassVar[tuple[str, ...]] = ("enabled", "datasets", "intensities", "classifier", "isp")
    SECTION: ClassVar[str] = "customization"

    @classmethod
    def from_config(cls, section: Mapping[str, Any], *, arch: str, **context: Any) -> "CustomizationOptions":
        """Options from a ``customization`` section (options left out take the schema's defaults);
        ``arch`` the drift models'; ``context``: ``seed``, ``bce_weight``, ``segmentation_headline``,
        ``device`` (left out → their options' defaults). InputError naming every bad key."""
        values = section_with_defaults(cls.SECTION, section)
        raise_problems(customization_problems(values, cls.SECTION))
        values = {k: v for k, v in values.items() if k not in cls.WORKFLOW_KEYS}
        values.update(processings=tuple(values["processings"]), group_lr_scales=dict(values["group_lr_scales"]),
                      neural=NeuralOptions.from_config(values["neural"]))
        return cls(arch=arch, **values, **context_settings(context))


def neural_problems(section: Mapping[str, Any], prefix: str) -> list[str]:
    """What the schema cannot check in a filled ``customization.neural`` section (the encoder
    name is checked by :func:`lens2logit.workflow.config.check_config`, which caches the answer)."""
    depth, channels = section["encoder_depth"], section["decoder_channels"]
    if len(channels) != depth:
        return [f"{prefix}.decoder_channels: {list(channels)} needs {depth} entries (encoder_depth)"]
    return []


def customization_problems(section: Mapping[str, Any], prefix: str = "customization") -> list[str]:
    """What the schema cannot check in a filled ``customization`` section: a view with a
    differentiable twin, the neural ISP's widths, and the freeze options together (the start models
    the workflow resolves: :func:`start_model_problems`)."""
    problems = twin_view_problems(section["view"], f"{prefix}.view")
    problems += neural_problems(section["neural"], f"{prefix}.neural")
    if section["freeze_classifier"] and section["freeze_isp"]:
        problems.append(f"{prefix}.freeze_classifier and {prefix}.freeze_isp together leave nothing to train")
    if section["freeze_classifier"] and "static" in section["processings"]:
        problems.append(f"{prefix}.freeze_classifier leaves nothing to train for processing 'static'; set {prefix}.processings to learned ISPs only")
    return problems


def start_model_problems(section: Mapping[str, Any], prefix: str = "customization") -> list[str]:
    """A frozen start model must be given: the workflow's options ``classifier`` / ``isp`` (the
    library takes them as arguments of :func:`run_customization`, which checks them there)."""
    return [f"{prefix}.freeze_{option} needs {prefix}.{option} (the model to keep fixed)"
            for option in ("classifier", "isp") if section[f"freeze_{option}"] and not section[option]]
