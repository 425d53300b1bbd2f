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

from lens2logit.isp.camera import CAMERAS, DRONE, MICROSCOPY, CameraProfile, get_camera
from lens2logit.isp.cfa import BayerPattern
from lens2logit.isp.io import camera_from_dng
from lens2logit.isp.neural import NeuralISP
from lens2logit.isp.parametrized import GROUPS, ParametrizedISP, ScaledGroups, tap_stages
from lens2logit.isp.pipeline import STAGES, render, render_steps, render_views
from lens2logit.isp.views import VIEW_SLUGS, VIEW_SPECS, VIEWS, View, get_view

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
