"""Score trained models: across test views/intensities, and under common corruptions.

Each function writes one long table (atomically) that :mod:`lens2logit.stages.aggregate` reads.
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
    (:func:`lens2logit.experiments.evaluate.batch_records`).
    """
    from lens2logit.experiments.evaluate import evaluate_model

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


def score_corruptions_views(model_paths: Sequence[str], views_paths: Sequence[str], targets_path, out_paths: Sequence,
                            *, views: Sequence[str], samples_paths: Sequence | None = None, **options) -> None:
    """:func:`score_corruptions` for several views in one call (one workflow job).

    ``model_paths`` holds every fold's model of ``views[0]``, then of ``views[1]``, …; ``views_paths``,
    ``out_paths`` and ``samples_paths`` (per-sample records; None: not written) one entry per view.
    ``options``: those of :func:`score_corruptions`.
    """
    views, views_paths, out_paths = list(views), list(views_paths), list(out_paths)
    if not views or not (len(views) == len(views_paths) == len(out_paths)) or len(model_paths) % len(views):
        raise ValueError(f"score_corruptions_views: {len(model_paths)} models, {len(views_paths)} view files and "
                         f"{len(out_paths)} tables for {len(views)} views: every view needs its folds' models, "
                         "its view file and its table")
    samples_paths = [None] * len(views) if samples_paths is None else list(samples_paths)
    if len(samples_paths) != len(views):
        raise ValueError(f"score_corruptions_views: {len(samples_paths)} sample files for {len(views)} views")
    folds = len(model_paths) // len(views)
    for i, (view, views_path, out_path) in enumerate(zip(views, views_paths, out_paths)):
        score_corruptions(model_paths[i * folds : (i + 1) * folds], views_path, targets_path, out_path, view=view,
                          samples_path=samples_paths[i], **options)


def score_corruptions(model_paths: Sequence[str], views_path, targets_path, out_path, *, view: str, names: Sequence[str], severity: int | None, seed: int, max_samples: int | None = None, preset: str = "paper", device: str = "cpu", samples_path=None) -> pd.DataFrame:
    """Score each fold's model on its own view under every corruption (plus ``identity``).

    Writes columns ``view, fold, corruption, metric, value``; at ``samples_path`` (None: not written)
    the per-sample records ``view, fold, corruption, sample, <record columns>``. ``device``: option
    ``training.device``.
    """
    from lens2logit.experiments.corruptions import evaluate_corruptions

    frames, sample_frames = [], []
    for fold, model_path in enumerate(model_paths):
        result = evaluate_corruptions(model_path, views_path, targets_path, list(names), severity, seed + fold, preset=preset,
                                      max_samples=max_samples, device=device, with_samples=samples_path is not None)
        frame, samples = result if samples_path is not None else (result, None)
        for table in (frame, samples) if samples is not None else (frame,):
            table.insert(0, "fold", fold)
            table.insert(0, "view", view)
        frames.append(frame)
        sample_frames.append(samples)
    table = pd.concat(frames, ignore_index=True)
    if samples_path is not None:
        write_csv(samples_path, pd.concat(sample_frames, ignore_index=True))
    write_csv(out_path, table)
    return table
