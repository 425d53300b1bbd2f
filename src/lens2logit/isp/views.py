"""The twelve static ISP views of the paper (reference-spec §1.3), in the paper's order."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from lens2logit.errors import InputError
from lens2logit.isp.methods import DEMOSAIC_METHODS, DENOISE_METHODS, LINEAR_DEMOSAIC_METHODS, SHARPEN_METHODS


@dataclass(frozen=True)
class View:
    """One static ISP configuration.

    ``label`` is the paper's short name (``bi,s,me``); ``slug`` is its file-system form (``bi-s-me``).
    """

    demosaic: str
    sharpen: str
    denoise: str

    def __post_init__(self) -> None:
        for field, value, known in (
            ("demosaic", self.demosaic, DEMOSAIC_METHODS),
            ("sharpen", self.sharpen, SHARPEN_METHODS),
            ("denoise", self.denoise, DENOISE_METHODS),
        ):
            if value not in known:
                raise ValueError(f"View: unknown {field} method {value!r}; expected one of {known}")

    @property
    def label(self) -> str:
        return f"{self.demosaic[:2]},{self.sharpen[0]},{self.denoise[:2]}"

    @property
    def slug(self) -> str:
        return self.label.replace(",", "-")


# Paper order: demosaic (outer) × sharpening × denoising (inner).
VIEW_SPECS: tuple[View, ...] = tuple(View(d, s, n) for d, s, n in itertools.product(DEMOSAIC_METHODS, SHARPEN_METHODS, DENOISE_METHODS))
VIEWS: list[str] = [v.label for v in VIEW_SPECS]
VIEW_SLUGS: list[str] = [v.slug for v in VIEW_SPECS]
_BY_NAME = {**{v.label: v for v in VIEW_SPECS}, **{v.slug: v for v in VIEW_SPECS}}


def get_view(view: "str | View") -> View:
    """Look up a view by label (``bi,s,me``) or slug (``bi-s-me``)."""
    if isinstance(view, View):
        return view
    try:
        return _BY_NAME[view]
    except (KeyError, TypeError):
        raise ValueError(f"unknown view {view!r}; expected one of {VIEWS} (or slugs {VIEW_SLUGS})") from None


# Static views with a differentiable twin (the parametrized ISP with the same steps): a demosaicer
# it can learn (one with filter weights), the sharpening filter and the Gaussian denoiser.
# Forensics and customization start from one of these.
TWIN_VIEWS: list[str] = [
    v.label for v in VIEW_SPECS
    if v.demosaic in LINEAR_DEMOSAIC_METHODS and v.sharpen == "sharpening_filter" and v.denoise == "gaussian_denoising"
]  # fmt: skip


def twin_view_problems(view: object, key: str) -> list[str]:
    """``[]`` if ``view`` is a static view with a differentiable twin, else one line naming option ``key``."""
    try:
        label = get_view(view).label
    except ValueError:
        label = None
    if label not in TWIN_VIEWS:
        return [f"{key}: {view!r} has no differentiable twin; allowed: {TWIN_VIEWS}"]
    return []


def differentiable_demosaic(view: str) -> str:
    """Demosaicer of the differentiable twin of a static view; InputError naming option ``view`` if it has none."""
    problems = twin_view_problems(view, "view")
    if problems:
        raise InputError(problems[0])
    return get_view(view).demosaic
