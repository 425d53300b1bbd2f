"""The static ISP: raw Bayer mosaics → the paper's twelve RGB views.

Public API::

    render(raw, view, camera, *, unsharp="paper")        # (N, H, W) → (N, 3, H, W)
    render_views(raw, camera, views=VIEWS, *, unsharp="paper")  # {label: (N, 3, H, W)}
    render_steps(raw, view, camera)                        # {stage: tensor}, STAGES order
    VIEWS, VIEW_SLUGS, get_view, View, STAGES
    CameraProfile, get_camera, CAMERAS, MICROSCOPY, DRONE, camera_from_dng
    BayerPattern
    ParametrizedISP, GROUPS, ScaledGroups, tap_stages     # the differentiable ISP
    NeuralISP

One definition of each step: the step functions of ``isp.demosaic``, ``isp.color`` and
``isp.filters``, composed by ``isp.pipeline.run_steps`` (used by ``render_steps`` and
``ParametrizedISP``); ``render``/``render_views`` are a tested-equal optimisation of that
composition. Raw file reading in ``isp.io`` (imports rawpy/tifffile lazily).
"""

import importlib

# Exports load their module on first use (PEP 562): the view names (``isp.views``, ``isp.methods``)
# import no PyTorch, so the workflow plans without it. The code hash (workflow.codehash) follows
# import statements only, so library code imports these names from their modules, not from here.
_EXPORTS = {
    "camera": ("CAMERAS", "DRONE", "MICROSCOPY", "CameraProfile", "get_camera"),
    "cfa": ("BayerPattern",),
    "io": ("camera_from_dng",),
    "neural": ("NeuralISP",),
    "parametrized": ("GROUPS", "ParametrizedISP", "ScaledGroups", "tap_stages"),
    "pipeline": ("STAGES", "render", "render_steps", "render_views"),
    "views": ("VIEW_SLUGS", "VIEW_SPECS", "VIEWS", "View", "get_view"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)


__all__ = [
    "render",
    "render_views",
    "render_steps",
    "STAGES",
    "VIEWS",
    "VIEW_SLUGS",
    "VIEW_SPECS",
    "View",
    "get_view",
    "CameraProfile",
    "get_camera",
    "camera_from_dng",
    "CAMERAS",
    "MICROSCOPY",
    "DRONE",
    "BayerPattern",
    "ParametrizedISP",
    "GROUPS",
    "ScaledGroups",
    "tap_stages",
    "NeuralISP",
]
