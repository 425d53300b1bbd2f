"""ISP customization (§5.3): the differentiable (parametrized or neural) ISP learned jointly with
the task model (:mod:`.joint`; entry point :func:`~.joint.run_customization` with
:class:`~.joint.CustomizationOptions`)."""
