"""Small helpers shared by the typed option objects of the experiments (forensics, customization).

An experiment's options are a frozen dataclass built from its (schema-validated) config section by
``from_config``; its field defaults are the schema's (a unit test compares them). The ``check_*``
functions collect problems as one line each, naming the full key (``customization.processings[1]``),
and raise them together in one :class:`~lens2logit.errors.InputError`.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from lens2logit.errors import InputError


def unknown_keys(section: Mapping[str, Any], allowed: Iterable[str], prefix: str) -> list[str]:
    """One problem per key of ``section`` not in ``allowed``."""
    allowed = sorted(allowed)
    return [f"{prefix}.{key}: unknown option; allowed: {allowed}" for key in section if key not in allowed]


def positive_int(value: Any, key: str, *, minimum: int = 1) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return [f"{key}: {value!r} must be an integer ≥ {minimum}"]
    return []


def positive_number(value: Any, key: str, *, strict: bool = True) -> list[str]:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or value < 0 or (strict and value == 0):
        return [f"{key}: {value!r} must be a finite number {'> 0' if strict else '≥ 0'}"]
    return []


def names_in(values: Any, allowed: Iterable[str], key: str, *, unique: bool = True) -> list[str]:
    """A non-empty list of names from ``allowed``: one problem per bad item (``key[i]``)."""
    allowed = list(allowed)
    if isinstance(values, str) or not isinstance(values, (list, tuple)) or not values:
        return [f"{key}: {values!r} must be a non-empty list of {allowed}"]
    problems = [f"{key}[{i}]: {v!r} is unknown; allowed: {allowed}" for i, v in enumerate(values) if v not in allowed]
    if unique and len(set(map(str, values))) != len(values):
        problems.append(f"{key}: {list(values)} lists an entry twice")
    return problems


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
    """Keyword arguments of :func:`lens2logit.experiments.train.train_on_view` (and of the robust
    ``train_on_views``): the kind's training options (``training_params`` of the rules, with
    :func:`training_context`) and the job's own ``job`` (``kind``, ``augmentation``, ``seed``, ``classes``,
    ``threads``)."""
    return {**{key: training[key] for key in TRAINING_ARGUMENTS}, **training_context(training), **job}
