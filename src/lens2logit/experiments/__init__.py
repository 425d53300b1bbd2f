"""The study's experiments: drift synthesis (:mod:`.splits`, :mod:`.augment`, :mod:`.train`,
:mod:`.evaluate`), common corruptions (:mod:`.corruptions`), drift forensics (:mod:`.forensics`,
with :mod:`.ssim`) and ISP customization (:mod:`.customization`).

What the workflow calls around them (prepare, render views, scoring, aggregation, summary) is
:mod:`lens2logit.stages`; their figures are :mod:`lens2logit.reporting`.
"""
