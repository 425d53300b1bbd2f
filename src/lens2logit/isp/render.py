"""Compatibility alias: the renderer lives in :mod:`lens2logit.isp.pipeline`.

Prefer ``from lens2logit.isp import render, render_views``. (``lens2logit.isp.render`` is the
function once the package is imported; this module only serves ``from lens2logit.isp.render import ...``.)
"""

from lens2logit.isp.pipeline import render, render_steps, render_views  # noqa: F401
