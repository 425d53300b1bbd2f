"""The whole study, above the single experiments: the run's one-page summary (:mod:`.summary`),
seed stability of its findings across runs (:mod:`.seeds`) and where its time went (:mod:`.timing`)."""
