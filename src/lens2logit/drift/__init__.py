"""Drift synthesis, the paper's headline experiment (§5.1): every raw image through the 12 static
views, a model trained on each view and scored on all of them.

:mod:`.render` (raw arrays → view files), then the core's training and scoring
(:func:`lens2logit.training.train.train_on_view`, :func:`lens2logit.training.scoring.score_models`),
:mod:`.aggregate` (long metric tables → drift, corruption and intensity matrices; entry point
:func:`~.aggregate.write_drift`), :mod:`.bootstrap` (the findings with their intervals) and
:mod:`.paper` (the published findings and their bands).

Submodules are imported where they are used (nothing is re-exported), so a job pays only for
what it runs.
"""
