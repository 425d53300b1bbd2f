"""Drift-robust training (issue 20), evaluated by leaving one view out: regime ``isp_views``
(:mod:`.train`: samples read through a random view on disk) and ``isp_random`` (:mod:`.isp_random`:
rendered per sample by the differentiable twin with drawn settings); entry point
:func:`~.train.train_leave_one_view_out`; :mod:`.summary` the leave-one-view-out tables."""
