"""The static ISP: raw Bayer mosaics → the paper's twelve RGB views.

Public API::

    render(raw, view, camera, *, unsharp="paper")        # (N, H, W) → (N, 3, H, W)
    render_views(raw, camera, views=VIEWS, *, unsharp="paper")  # {label: (N, 3, H, W)}
    VIEWS, VIEW_SLUGS, get_view, View
    CameraProfile, get_camera, CAMERAS, MICROSCOPY, DRONE, camera_from_dng
    BayerPattern

Step functions live in ``isp.demosaic``, ``isp.color`` and ``isp.filters``; raw file reading in
``isp.io`` (imports rawpy/tifffile lazily).
"""

from lens2logit.isp.camera import CAMERAS, DRONE, MICROSCOPY, CameraProfile, camera_from_dng, get_camera
from lens2logit.isp.cfa import BayerPattern
import lens2logit.isp.render  # noqa: F401  (alias module; imported first so the name below wins)
from lens2logit.isp.pipeline import render, render_steps, render_views
from lens2logit.isp.views import VIEW_SLUGS, VIEW_SPECS, VIEWS, View, get_view

__all__ = [
    "render",
    "render_views",
    "render_steps",
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
]
