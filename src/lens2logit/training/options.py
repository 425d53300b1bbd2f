"""What the experiments' option objects (forensics, customization) share.

An experiment's options are a frozen dataclass built by ``from_config`` from its config section,
which :func:`lens2logit.schema.section_with_defaults` validates and fills from the schema (the one
definition of every option and default). The few settings an experiment takes from other sections
are :data:`CONTEXT_KEYS`. Checks the schema cannot express are one line each naming the full key,
raised together in one :class:`~lens2logit.errors.InputError`.
"""

from __future__ import annotations

from typing import Any, Mapping

from lens2logit.errors import InputError
from lens2logit.schema import schema_default

# Settings of the option objects that come from other config sections than the experiment's own.
CONTEXT_KEYS = {
    "seed": "seed",
    "bce_weight": "training.segmentation.bce_weight",
    "segmentation_headline": "report.segmentation_headline",
    "device": "training.device",
}


def context_settings(context: Mapping[str, Any]) -> dict[str, Any]:
    """``context`` (some of :data:`CONTEXT_KEYS`) with the others at their options' defaults."""
    unknown = sorted(set(context) - set(CONTEXT_KEYS))
    if unknown:
        raise InputError(f"unknown setting(s) {unknown}; expected some of {list(CONTEXT_KEYS)}")
    return {name: context[name] if name in context else schema_default(key) for name, key in CONTEXT_KEYS.items()}


def raise_problems(problems: list[str]) -> None:
    if problems:
        raise InputError("config " + "\nconfig ".join(problems))


def training_context(training: Mapping[str, Any]) -> dict[str, Any]:
    """Settings an experiment takes from the kind's training options (``training_params`` of
    the rules): ``device``, and ``bce_weight`` where the kind has one (segmentation; classification
    has no BCE term and keeps the option's default)."""
    return {key: training[key] for key in ("device", "bce_weight") if key in training}


# Options of training.<kind> (and the shared training.*) that train_on_view takes as they are.
TRAINING_ARGUMENTS = ("arch", "epochs", "batch_size", "lr", "schedule", "pretrained", "progress", "amp")


def training_arguments(training: Mapping[str, Any], **job: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`lens2logit.training.train.train_on_view` (and of the robust
    ``train_on_views``): the kind's training options (``training_params`` of the rules, with
    :func:`training_context`) and the job's own ``job`` (``kind``, ``augmentation``, ``seed``, ``classes``,
    ``threads``)."""
    return {**{key: training[key] for key in TRAINING_ARGUMENTS}, **training_context(training), **job}
