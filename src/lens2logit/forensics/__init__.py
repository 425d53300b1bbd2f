"""Drift forensics (§5.2): a differentiable ISP optimised adversarially against a frozen task
model, per parameter group and regularisation weight λ (:mod:`.attack`; entry point
:func:`~.attack.run_forensics` with :class:`~.attack.ForensicsOptions`)."""
