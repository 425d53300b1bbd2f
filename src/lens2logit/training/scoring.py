"""Score trained models across test sets (views, intensities): one long table per model, written
atomically, that :mod:`lens2logit.drift.aggregate` reads. Under common corruptions:
:func:`lens2logit.corruptions.benchmark.score_corruptions`.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from lens2logit.io import write_csv


def score_model(model_path, views: Sequence[str], targets: Sequence[str], labels: Sequence[dict], out_path, *, train: dict, batch_size: int = 64, device: str = "cpu", samples_path=None) -> pd.DataFrame:
    """Evaluate one model on several test sets (on its own validation indices).

    Args:
        views, targets, labels: one entry per test set: rendered view ``.npy``, targets ``.npy``,
            label columns (``test_view``, ``test_intensity``).
        train: columns describing the model (``train_view``, ``train_intensity``, ``augmentation``, ``fold``).
        device: option ``training.device``.
        samples_path: where to write the per-sample records (None: not written).

    Writes columns ``<train keys>, test_view, test_intensity, metric, value``; at ``samples_path``
    ``<train keys>, test_view, test_intensity, sample, <record columns>``
    (:func:`lens2logit.training.evaluate.batch_records`).
    """
    from lens2logit.training.evaluate import evaluate_model

    if not (len(views) == len(targets) == len(labels)):
        raise ValueError("views, targets and labels must have one entry per test set")
    test_sets = [{"views": v, "targets": t, **lab} for v, t, lab in zip(views, targets, labels)]
    frame = evaluate_model(model_path, test_sets, batch_size=batch_size, device=device, with_samples=samples_path is not None)
    frame, samples = frame if samples_path is not None else (frame, None)
    for table in (frame, samples) if samples is not None else (frame,):
        for key, value in reversed(list(train.items())):
            table.insert(0, key, value)
    if samples is not None:
        write_csv(samples_path, samples)
    write_csv(out_path, frame)
    return frame


def score_models(model_paths: Sequence[str], jobs: Sequence[dict], out_paths: Sequence, samples_paths: Sequence, *,
                 batch_size: int = 64, device: str = "cpu") -> None:
    """:func:`score_model` for several models in one call (one workflow job per dataset).

    Args:
        model_paths, out_paths, samples_paths: one entry per model: checkpoint, metrics table, per-sample records.
        jobs: one entry per model, as :meth:`lens2logit.workflow.plan.Plan.evaluation_jobs` writes them:
            ``train`` (the columns describing the model) and ``test_sets`` (each ``views``, ``targets``,
            ``test_view``, ``test_intensity``).
    """
    if not (len(model_paths) == len(jobs) == len(out_paths) == len(samples_paths)):
        raise ValueError(f"score_models: {len(model_paths)} models, {len(jobs)} jobs, {len(out_paths)} tables and "
                         f"{len(samples_paths)} sample files: every model needs one of each")
    for model_path, entry, out_path, samples_path in zip(model_paths, jobs, out_paths, samples_paths):
        test_sets = entry["test_sets"]
        score_model(
            model_path,
            [t["views"] for t in test_sets],
            [t["targets"] for t in test_sets],
            [{"test_view": t["test_view"], "test_intensity": t["test_intensity"]} for t in test_sets],
            out_path,
            train=dict(entry["train"]),
            batch_size=batch_size,
            device=device,
            samples_path=samples_path,
        )
