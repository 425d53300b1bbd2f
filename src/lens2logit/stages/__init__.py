"""What the workflow calls that is not an experiment: the stages around the experiments.

One module per stage, each called by thin scripts under ``scripts/`` (see docs/architecture.md):
:mod:`~lens2logit.stages.prepare` (dataset → raw arrays), :mod:`~lens2logit.stages.views` (raw → ISP
views), :mod:`~lens2logit.stages.scoring` (trained models → long metric tables),
:mod:`~lens2logit.stages.aggregate` (metric tables → drift / corruption / intensity tables),
:mod:`~lens2logit.stages.summary` (the run's one-page summary, compared with
:mod:`~lens2logit.stages.paper`), :mod:`~lens2logit.stages.timing` (where the time went) and
:mod:`~lens2logit.stages.statistics` (fold summary and headline metric, shared by all tables).

Submodules are imported where they are used (nothing is re-exported here), so that a script pays
only for what it runs.
"""
