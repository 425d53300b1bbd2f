"""Label-free prediction of a model's accuracy / IoU on a new camera or ISP (camera QA).

:mod:`~lens2logit.qa.predict`: the estimators (ATC, DoC, the "no drop" baseline) and their
bootstrap intervals, on arrays of confidences; :mod:`~lens2logit.training.records`: per-sample confidences
and scores of a model's outputs; :mod:`~lens2logit.qa.table`: the workflow stage's table and summary
from the per-sample records that evaluation stores. ``docs/deploying.md`` explains the use.
"""

from lens2logit.qa.predict import METHODS, atc_predict, atc_threshold, doc_predict, no_drop_predict, predict

__all__ = ["METHODS", "atc_predict", "atc_threshold", "doc_predict", "no_drop_predict", "predict"]
