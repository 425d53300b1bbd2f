"""Every figure the project draws (nothing outside this package imports matplotlib).

* :mod:`~lens2logit.reporting.study` — drift and difference matrices, corruption bars, intensity matrix.
* :mod:`~lens2logit.reporting.isp` — forensics figure and strips, customization curves, per-epoch ISP
  stage grids, the 12-view grid of ``lens2logit isp views``.
* :mod:`~lens2logit.reporting.datasets` — preview grids of the embedded synthetic datasets.
* :mod:`~lens2logit.reporting.figure` — what they share: pyplot on the Agg backend, ``save_figure`` (atomic, closes the figure).

Submodules are imported where they are used (nothing is re-exported here).
"""
