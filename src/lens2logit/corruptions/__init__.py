"""The common-corruptions baseline (§5.1): presets, the transforms, and scoring a view's models
under them (:mod:`.benchmark`; entry point :func:`~.benchmark.score_corruptions`)."""
