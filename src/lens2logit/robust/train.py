"""Drift-robust training: every training sample drawn through a random one of several static views.

Regime ``isp_views`` (issue 20): the views already rendered on disk (``results/views/...``) are the
augmentation source. In every epoch each training sample is read through one view drawn uniformly at
random among the training views; the draw is a pure function of ``(seed, epoch)`` (:func:`draw_sample_views`),
so the same seed gives the same sample→view record on every machine. The usual geometric augmentation of
the drift study (``weak`` by default) is applied on top by :func:`lens2logit.training.fit`.

It is evaluated by leaving one view out (:func:`lovo_training_views`): the model trained on the other
views is scored on the held-out view it never saw, and on all views. The checkpoint stores the
sample→view record (``sample_views``: one list per epoch, aligned with ``train_indices``, of indices into
``train_views``), so that "never trained on the held-out view" is checkable after the fact.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch

from lens2logit.errors import InputError
from lens2logit.training.train import TrainingViews, train_on_view
from lens2logit.isp.views import get_view
from lens2logit.training.batches import ArrayBatches, channel_statistics, check_indices

ROBUST_REGIMES = ("isp_views", "isp_random")  # isp_random: lens2logit.robust.isp_random
LOVO_PREFIX = "lovo:"
# Validation batches read every sample through a view drawn once, with this epoch number.
VALIDATION_EPOCH = -1


def lovo_label(view: str) -> str:
    """``train_view`` of the model that left ``view`` out (``lovo:<view label>``)."""
    return f"{LOVO_PREFIX}{view}"


def check_regime(name: str) -> str:
    """Return ``name`` if it is a known robust regime, else InputError naming the option."""
    if name not in ROBUST_REGIMES:
        raise InputError(f"unknown robust regime {name!r} (option robust.regime); expected one of {ROBUST_REGIMES}")
    return name


def draw_sample_views(n_samples: int, n_views: int, *, seed: int, epoch: int) -> np.ndarray:
    """``(n_samples,)`` int64 view indices, uniform in ``[0, n_views)``; a pure function of (seed, epoch)."""
    if n_views < 1:
        raise InputError("isp_views needs at least one training view")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch) & 0xFFFFFFFF, 0x15F])
    return rng.integers(0, n_views, size=int(n_samples), dtype=np.int64)


def lovo_training_views(views: Sequence[str], held_out: str) -> list[str]:
    """Views a leave-one-view-out model trains on: all but ``held_out`` (labels or slugs, compared as views).

    InputError naming option ``robust`` if ``held_out`` is not among ``views`` or nothing is left.
    """
    slugs = [get_view(v).slug for v in views]
    held = get_view(held_out).slug
    if held not in slugs:
        raise InputError(f"robust: held-out view {held_out!r} is not one of the study's views {list(views)}")
    kept = [v for v, s in zip(views, slugs) if s != held]
    if not kept:
        raise InputError("robust: leaving one view out needs at least two views (option views)")
    return kept


class ViewMixBatches(ArrayBatches):
    """:class:`ArrayBatches` whose every sample is read through a randomly drawn view.

    ``view_arrays``: ``V`` arrays ``(N, 3, H, W)`` of the same samples through ``V`` views. On each
    iteration (an epoch) every index in ``indices`` gets a view from :func:`draw_sample_views` with
    ``(seed, epoch)``; with ``redraw=False`` the draw of epoch :data:`VALIDATION_EPOCH` is used every time.
    ``record`` holds one ``(len(indices),)`` int64 array per iteration, aligned with ``indices`` as given.
    """

    def __init__(self, view_arrays: Sequence[np.ndarray], targets: np.ndarray, indices: Sequence[int], batch_size: int,
                 *, seed: int, generator: torch.Generator | None = None, redraw: bool = True, pin_memory: bool = False):
        if not view_arrays:
            raise InputError("isp_views needs at least one training view")
        shape = view_arrays[0].shape
        for array in view_arrays[1:]:
            if array.shape != shape:
                raise InputError(f"isp_views: views must have the same shape, got {shape} and {array.shape}")
        given = check_indices(indices, shape[0], "batch")
        super().__init__(view_arrays[0], targets, given, batch_size, generator=generator, pin_memory=pin_memory)
        self.view_arrays = list(view_arrays)
        self.given = given
        self.seed, self.redraw, self.epoch = int(seed), redraw, 0
        self.record: list[np.ndarray] = []
        self.view_of: dict[int, int] = {}  # this iteration's draw: sample index → view index

    def _draw(self) -> dict[int, int]:
        epoch = self.epoch if self.redraw else VALIDATION_EPOCH
        drawn = draw_sample_views(len(self.given), len(self.view_arrays), seed=self.seed, epoch=epoch)
        self.record.append(drawn)
        self.epoch += 1
        return dict(zip(self.given.tolist(), drawn.tolist()))

    def __iter__(self):
        self.view_of = self._draw()
        yield from super().__iter__()

    def _read(self, chunk: np.ndarray) -> np.ndarray:
        return np.stack([self.view_arrays[self.view_of[i]][i] for i in chunk.tolist()])


def pooled_statistics(view_arrays: Sequence[np.ndarray], indices: Sequence[int]) -> tuple[list[float], list[float]]:
    """Per-channel mean/std of the training samples pooled over all views (equal weight per view)."""
    stats = [channel_statistics(a, indices) for a in view_arrays]
    means = np.array([m for m, _ in stats])  # (V, C)
    stds = np.array([s for _, s in stats])
    mean = means.mean(axis=0)
    second = (stds**2 + means**2).mean(axis=0)
    std = np.sqrt(np.maximum(second - mean**2, 0.0))
    return mean.tolist(), np.maximum(std, 1e-6).tolist()


class ViewMix(TrainingViews):
    """The images of a model of regime ``isp_views``: every sample through a view drawn per epoch.

    ``paths``: one view file per entry of ``labels``. Standardised with :func:`pooled_statistics`, read
    by :class:`ViewMixBatches` (training batches redraw every epoch, validation batches keep one draw);
    the checkpoint gets ``regime``, ``train_views`` (labels) and ``sample_views`` (per epoch, the index
    into ``train_views`` of each training sample, aligned with ``train_indices``).
    """

    def __init__(self, paths: Sequence[str | os.PathLike], labels: Sequence[str], *, seed: int, regime: str = "isp_views"):
        if len(paths) != len(labels) or not paths:
            raise InputError(f"isp_views: {len(paths)} view files for {len(labels)} view labels")
        self.paths, self.arrays = list(paths), []
        self.labels = [get_view(v).label for v in labels]
        self.seed, self.regime = seed, check_regime(regime)
        if self.regime != "isp_views":
            raise InputError(f"ViewMix reads the rendered views (regime isp_views), not regime {regime!r}")

    def statistics(self, indices: np.ndarray) -> tuple[list[float], list[float]]:
        return pooled_statistics(self.arrays, indices)

    def batches(self, targets: np.ndarray, indices: np.ndarray, batch_size: int, *,
                generator: torch.Generator | None = None, pin_memory: bool = False) -> ViewMixBatches:
        return ViewMixBatches(self.arrays, targets, indices, batch_size, seed=self.seed, generator=generator,
                              redraw=generator is not None, pin_memory=pin_memory)

    def config(self) -> dict[str, Any]:
        return {"views_paths": [str(p) for p in self.paths], "regime": self.regime}

    def checkpoint_entries(self, train_batches: ViewMixBatches) -> dict[str, Any]:
        return {"regime": self.regime, "train_views": self.labels,
                "sample_views": [r.tolist() for r in train_batches.record]}


def train_on_views(views_paths: Sequence[str | os.PathLike], view_labels: Sequence[str], targets_path, folds_path, fold: int,
                   *, seed: int, regime: str = "isp_views", **options: Any) -> dict[str, Any]:
    """Train one task model with regime ``regime`` over ``views_paths`` (one per ``view_labels``) on one fold.

    :func:`lens2logit.training.train.train_on_view` reading its images through a :class:`ViewMix`;
    ``options`` are that function's keyword arguments. The checkpoint has its keys plus ``regime``,
    ``train_views`` and ``sample_views``; ``config`` names ``views_paths`` and ``regime``.
    """
    views = ViewMix(views_paths, view_labels, seed=seed, regime=regime)
    return train_on_view(views, targets_path, folds_path, fold, seed=seed, **options)


def train_leave_one_view_out(views_paths: Sequence[str | os.PathLike], view_labels: Sequence[str], targets_path,
                             meta_path, folds_path, folds: Sequence[int], model_paths: Sequence, metrics_paths: Sequence,
                             *, regime: str, augmentation: str, seed: int, eval_batch_size: int, raw_path=None,
                             **options: Any) -> None:
    """Every leave-one-view-out model of one dataset (one workflow job): for each view of ``view_labels``
    in turn and each of ``folds``, train on the other views with ``regime`` (``isp_views``: their files
    among ``views_paths``; ``isp_random``: ``raw_path`` through the differentiable twin), write the
    checkpoint, and score it on every view (all of ``views_paths``, the held-out one included).

    ``model_paths`` and ``metrics_paths`` hold one entry per (view, fold), view after view; ``eval_batch_size``
    is option ``evaluation.batch_size``. ``options``: :func:`lens2logit.training.train.train_on_view`'s other
    keyword arguments (``device`` among them).
    """
    from lens2logit.robust.isp_random import train_on_random_isp  # imports this module
    from lens2logit.training.scoring import score_model
    from lens2logit.training.checkpoint import save_checkpoint

    views_paths, view_labels, folds = list(views_paths), list(view_labels), list(folds)
    if len(views_paths) != len(view_labels) or len(model_paths) != len(metrics_paths) or len(model_paths) != len(view_labels) * len(folds):
        raise ValueError(f"train_leave_one_view_out: {len(views_paths)} view files for {len(view_labels)} views, "
                         f"{len(model_paths)} models and {len(metrics_paths)} tables for {len(folds)} folds per view")
    check_regime(regime)
    test_labels = [{"test_view": label, "test_intensity": 1.0} for label in view_labels]
    outputs = iter(zip(model_paths, metrics_paths))
    for held_out in view_labels:
        kept = lovo_training_views(view_labels, held_out)
        kept_paths = [p for p, label in zip(views_paths, view_labels) if label in kept]
        for fold in folds:
            model_path, metrics_path = next(outputs)
            if regime == "isp_random":
                ckpt = train_on_random_isp(raw_path, targets_path, meta_path, folds_path, fold, kept, held_out=held_out,
                                           seed=seed, augmentation=augmentation, **options)
            else:
                ckpt = train_on_views(kept_paths, kept, targets_path, folds_path, fold, seed=seed, regime=regime,
                                      augmentation=augmentation, **options)
            save_checkpoint(model_path, ckpt)
            score_model(model_path, views_paths, [targets_path] * len(views_paths), test_labels, metrics_path,
                        train={"train_view": lovo_label(held_out), "train_intensity": 1.0, "augmentation": augmentation,
                               "fold": fold},
                        batch_size=eval_batch_size, device=options["device"])
