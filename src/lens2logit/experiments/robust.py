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
from lens2logit.experiments.splits import get_fold
from lens2logit.isp.views import get_view
from lens2logit.models import build_model, standardized
from lens2logit.training.batches import ArrayBatches, channel_statistics, check_indices, check_targets, check_view_array, open_array
from lens2logit.training.device import pin_memory
from lens2logit.training.loop import check_fit_options, check_schedule, fit

ROBUST_REGIMES = ("isp_views",)
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

    def _draw(self) -> dict[int, int]:
        epoch = self.epoch if self.redraw else VALIDATION_EPOCH
        drawn = draw_sample_views(len(self.given), len(self.view_arrays), seed=self.seed, epoch=epoch)
        self.record.append(drawn)
        self.epoch += 1
        return dict(zip(self.given.tolist(), drawn.tolist()))

    def __iter__(self):
        view_of = self._draw()
        order = self.indices
        if self.generator is not None:
            order = order[torch.randperm(len(order), generator=self.generator).numpy()]
        starts = self._starts()
        for start, stop in zip(starts[:-1], starts[1:]):
            chunk = np.sort(order[start:stop])
            images = np.stack([self.view_arrays[view_of[i]][i] for i in chunk.tolist()]).astype(np.float32, copy=False)
            yield self._tensor(images), self._tensor(self.targets[chunk])


def pooled_statistics(view_arrays: Sequence[np.ndarray], indices: Sequence[int]) -> tuple[list[float], list[float]]:
    """Per-channel mean/std of the training samples pooled over all views (equal weight per view)."""
    stats = [channel_statistics(a, indices) for a in view_arrays]
    means = np.array([m for m, _ in stats])  # (V, C)
    stds = np.array([s for _, s in stats])
    mean = means.mean(axis=0)
    second = (stds**2 + means**2).mean(axis=0)
    std = np.sqrt(np.maximum(second - mean**2, 0.0))
    return mean.tolist(), np.maximum(std, 1e-6).tolist()


def train_on_views(views_paths: Sequence[str | os.PathLike], view_labels: Sequence[str], targets_path, folds_path, fold: int,
                   *, kind: str, arch: str, epochs: int, batch_size: int, lr: float, augmentation: str, seed: int,
                   classes: Sequence[str] | None, device, threads: int = 1, progress: bool = False,
                   bce_weight: float = 0.0, amp: str = "none", schedule: str = "constant",
                   pretrained=None, regime: str = "isp_views") -> dict[str, Any]:
    """Train one task model with regime ``isp_views`` over ``views_paths`` on one fold.

    Arguments as :func:`lens2logit.experiments.train.train_on_view`, with one view file per entry of
    ``view_labels``. The checkpoint (same keys as ``train_on_view``'s) adds ``train_views`` (labels),
    ``regime`` and ``sample_views`` (per epoch, the index into ``train_views`` of each training sample,
    aligned with ``train_indices``).
    """
    check_regime(regime)
    amp, device = check_fit_options(kind, augmentation, amp, device)
    check_schedule(schedule)
    if len(views_paths) != len(view_labels) or not views_paths:
        raise InputError(f"isp_views: {len(views_paths)} view files for {len(view_labels)} view labels")
    arrays = [open_array(p, "views") for p in views_paths]
    for array, path in zip(arrays, views_paths):
        check_view_array(array, path)
    targets = open_array(targets_path, "targets")
    if kind == "classification":
        if classes is None:
            classes = [str(i) for i in range(int(np.max(targets)) + 1 if targets.size else 2)]
        n_classes = len(classes)
    else:
        classes = list(classes) if classes else ["foreground"]
        n_classes = 1
    check_targets(targets, arrays[0], kind, n_classes, targets_path)
    split = get_fold(folds_path, fold)
    train_idx = check_indices(split["train"], len(arrays[0]), f"fold {fold} train")
    val_idx = check_indices(split["val"], len(arrays[0]), f"fold {fold} val")
    if train_idx.size == 0:
        raise InputError(f"fold {fold} of {folds_path} has no training samples")
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        net = build_model(arch, kind, n_classes, pretrained=pretrained)
        mean, std = pooled_statistics(arrays, train_idx)
        model = standardized(net, mean, std)
        pin = pin_memory(device)
        train_batches = ViewMixBatches(arrays, targets, train_idx, batch_size, seed=seed,
                                       generator=torch.Generator().manual_seed(seed + 1), pin_memory=pin)
        val_batches = (ViewMixBatches(arrays, targets, val_idx, batch_size, seed=seed, redraw=False, pin_memory=pin)
                       if val_idx.size else None)
        history = fit(
            model, train_batches, val_batches, kind=kind, epochs=epochs, lr=lr, augmentation=augmentation,
            seed=seed, progress=progress, bce_weight=bce_weight, device=device, amp=amp, schedule=schedule,
        )  # fmt: skip
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "state_dict": {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()},
        "arch": arch, "kind": kind, "n_classes": n_classes, "classes": list(classes), "mean": mean, "std": std,
        "train_indices": train_idx.tolist(), "val_indices": val_idx.tolist(), "fold": int(fold), "history": history,
        "regime": regime,
        "train_views": [get_view(v).label for v in view_labels],
        "sample_views": [r.tolist() for r in train_batches.record],
        "config": {
            "views_paths": [str(p) for p in views_paths], "targets_path": str(targets_path),
            "folds_path": str(folds_path), "epochs": epochs, "batch_size": batch_size, "lr": lr,
            "schedule": schedule, "augmentation": augmentation, "regime": regime, "seed": seed,
            "pretrained": None if pretrained is None else str(pretrained), "bce_weight": bce_weight,
            "device": device.type, "amp": amp, "image_shape": list(arrays[0].shape[1:]),
        },
    }


def robust_problems(robust: dict, *, datasets: Sequence[str], views: Sequence[str], folds: int) -> list[str]:
    """One line per problem of the ``robust`` config section (empty if none), each naming its key."""
    problems = []
    if robust.get("regime", "isp_views") not in ROBUST_REGIMES:
        problems.append(f"robust.regime: {robust.get('regime')!r} is not one of {list(ROBUST_REGIMES)}")
    from lens2logit.data.registry import dataset_names

    # names the run does not train are skipped (a config overriding `datasets` keeps working); unknown names are not
    unknown = [d for d in (robust.get("datasets") or []) if d not in dataset_names()]
    if unknown:
        problems.append(f"robust.datasets: {unknown} are not datasets; known: {list(dataset_names())}")
    if int(robust.get("folds", 1)) > folds:
        problems.append(f"robust.folds: {robust.get('folds')} exceeds the trained drift folds ({folds}: drift.use_folds, else drift.folds)")
    if len(views) < 3:
        problems.append(f"robust.enabled: leaving one view out needs at least 3 views (option views), got {len(views)}")
    return problems
