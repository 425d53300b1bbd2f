"""Every figure the project draws (nothing outside this package imports matplotlib).

* :mod:`~lens2logit.reporting.study` — drift and difference matrices, corruption bars, intensity matrix.
* :mod:`~lens2logit.reporting.isp` — forensics figure and strips, customization curves, per-epoch ISP
  stage grids, the 12-view grid of ``lens2logit isp views``.
* :mod:`~lens2logit.reporting.datasets` — preview grids of the embedded synthetic datasets.

Submodules are imported where they are used (nothing is re-exported here).
"""
