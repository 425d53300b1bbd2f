"""ISP customization (paper §5.3): learn the ISP jointly with the task model at low light.

At each configured intensity a fresh task model (same arch as the drift models) is trained

* ``static``: on the rendered static view (``bi,s,ga`` by default),
* ``parametrized``: on raw mosaics through a :class:`~lens2logit.isp.parametrized.ParametrizedISP`
  initialised from the camera profile, both trained jointly,
* ``neural``: on raw mosaics through a :class:`~lens2logit.isp.neural.NeuralISP`, jointly,

for each of the first ``folds`` folds; the validation metric per epoch gives the learning curves
(paper fig. 3). For every processing the model starts from the same seeded initialisation and
standardises its input with the statistics of its processor's *initial* output on the training
split (for the parametrized ISP this equals the static view's statistics), or, with
``batchnorm``, the learned ISPs are followed by ``BatchNorm2d(3, affine=False)`` as in the paper
(reference-spec §2.3, step 10) and the model takes its output as it is.

The original trained at full light only (intensity 1.0, the anchor); lower intensities are our
extension. :func:`verdict_table` says per (intensity, learned ISP) whether it beats the static
view with a 90 % t-interval over folds, or that the run cannot tell (curves not flat, one fold,
or an interval that contains 0).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from lens2logit.customization.options import CustomizationOptions, NeuralOptions
from lens2logit.errors import InputError
from lens2logit.data.export import load_dataset_arrays
from lens2logit.isp.views import differentiable_demosaic
from lens2logit.training.splits import fold_seed, load_folds
from lens2logit.statistics import fold_summary, headline_metric
from lens2logit.training.batches import ArrayBatches, channel_statistics, check_view_array, open_array
from lens2logit.training.device import pin_memory, resolve_device, to_device
from lens2logit.training.loop import fit
from lens2logit.training.losses import task_loss
from lens2logit.training.metrics import KIND_METRICS
from lens2logit.io import write_csv
from lens2logit.isp.neural import NeuralISP
from lens2logit.isp.parametrized import PROCESSOR_GROUPS, ParametrizedISP, ScaledGroups, tap_stages
from lens2logit.isp.views import get_view
from lens2logit.models import build_model, standardized
from lens2logit import paths

log = logging.getLogger(__name__)

CURVE_COLUMNS = ["processing", "intensity", "epoch", "fold", "split", "metric", "value"]
FINAL_COLUMNS = ["processing", "intensity", "metric", "mean", "std", "n"]
VERDICT_COLUMNS = ["intensity", "processing", "metric", "static", "learned", "difference", "low", "high", "n",
                   "last_change", "converged", "verdict"]  # fmt: skip
STATISTICS_BATCH = 64
# A pair's curves count as flat when the fold-mean validation metric of every processing changed
# by at most this much over the last epoch; the learned-vs-static interval is a two-sided t-interval.
FLAT_CHANGE = 0.02
VERDICT_LEVEL = 0.90
BATCHNORM_STAGE = "batchnorm"


# Groups of the parametrized ISP that customization learns (the additive image is forensics only).
# Their step-size scales under the shared Adam rate are option customization.group_lr_scales; why
# the black level's default is 0.01 is measured in docs/architecture.md.
LEARNED_GROUPS = PROCESSOR_GROUPS


@torch.no_grad()
def processor_statistics(processor: nn.Module, raw: torch.Tensor, indices: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of ``processor(raw[indices])``, in eval mode, in chunks (on the processor's device)."""
    mode = processor.training
    processor.eval()
    device = next(processor.parameters(), torch.empty(0)).device
    try:
        chunks = [
            processor(to_device(raw[torch.as_tensor(indices[i : i + STATISTICS_BATCH])], device)).cpu().numpy()
            for i in range(0, len(indices), STATISTICS_BATCH)
        ]
    finally:
        processor.train(mode)
    rendered = np.concatenate(chunks)
    return channel_statistics(rendered, np.arange(len(rendered)))


class BatchNormAfter(nn.Module):
    """An ISP followed by ``BatchNorm2d(3, affine=False)`` (the paper's joint training, reference-spec §2.3 step 10).

    Batch statistics in training mode, running statistics (momentum 0.1, torch's default as the
    paper's) in eval mode. ``forward(raw, return_stages=True)`` passes the ISP's stages through and
    adds :data:`BATCHNORM_STAGE`.

    Shape: ``(N, H, W) → (N, 3, H, W)``.
    """

    def __init__(self, isp: nn.Module) -> None:
        super().__init__()
        self.isp = isp
        self.norm = nn.BatchNorm2d(3, affine=False)

    def forward(self, raw: torch.Tensor, *, return_stages: bool = False):
        if not return_stages:
            return self.norm(self.isp(raw))
        rgb, stages = self.isp(raw, return_stages=True)
        out = self.norm(rgb)
        return out, {**stages, BATCHNORM_STAGE: out}


def unwrap_isp(processor: nn.Module) -> nn.Module:
    """The ISP itself: without :class:`BatchNormAfter`, with :class:`ScaledGroups` merged back."""
    isp = processor.isp if isinstance(processor, BatchNormAfter) else processor
    return isp.merged() if isinstance(isp, ScaledGroups) else isp


def build_processor(
    processing: str, camera, *, view: str, neural: NeuralOptions | Mapping[str, Any], constrain: bool, group_lr_scales: Mapping[str, float] | None = None,
    state_dict: dict[str, torch.Tensor] | None = None, batchnorm: bool = False, batchnorm_state: dict[str, torch.Tensor] | None = None,
) -> nn.Module | None:
    """The ISP module of a processing (None for ``static``), optionally starting from a saved ``state_dict``;
    with ``batchnorm`` followed by :class:`BatchNormAfter`'s normalisation (its statistics from ``batchnorm_state``)."""
    if processing == "static":
        return None
    if processing == "parametrized":
        isp = ParametrizedISP(camera, demosaic=differentiable_demosaic(view), constrain=constrain)
        _load_state(isp, state_dict, "ISP")
        isp = ScaledGroups(isp, group_lr_scales) if group_lr_scales else isp
    else:
        if not isinstance(neural, NeuralOptions):
            neural = NeuralOptions.from_config(neural)
        isp = NeuralISP(camera, **dataclasses.asdict(neural))
        _load_state(isp, state_dict, "ISP")
    if not batchnorm:
        return isp
    wrapped = BatchNormAfter(isp)
    if batchnorm_state is not None:
        _load_state(wrapped.norm, batchnorm_state, "ISP batch norm")
    return wrapped


def _load_state(module: nn.Module, state_dict: dict[str, torch.Tensor] | None, what: str) -> None:
    if state_dict is None:
        return
    try:
        module.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise InputError(f"the start {what} does not fit this configuration (options customization.isp/classifier): {exc}") from exc


# ------------------------------------------------------------------- saved classifiers and ISPs
ISP_CHECKPOINT_TYPE = "isp"  # value of a learned ISP checkpoint's "type" key


def isp_checkpoint(processing: str, processor: nn.Module, camera, *, view: str, neural: NeuralOptions | Mapping[str, Any] | None, constrain: bool, **info: Any) -> dict[str, Any]:
    """A learned ISP as a plain dict (CPU tensors; loadable with ``weights_only``): see :func:`load_isp`."""
    from lens2logit.data.export import camera_to_meta

    isp = unwrap_isp(processor)
    norm = processor.norm.state_dict() if isinstance(processor, BatchNormAfter) else None
    return {
        "type": ISP_CHECKPOINT_TYPE, "processing": processing,
        "state_dict": {k: v.detach().cpu().clone() for k, v in isp.state_dict().items()},
        "batchnorm": None if norm is None else {k: v.detach().cpu().clone() for k, v in norm.items()},
        "camera": camera_to_meta(camera), "view": get_view(view).label, "constrain": bool(constrain),
        "neural": dataclasses.asdict(neural) if isinstance(neural, NeuralOptions) else dict(neural or {}), **info,
    }  # fmt: skip


def load_isp(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a saved ISP (parametrized or neural) in eval mode: ``(module, checkpoint dict)``."""
    from lens2logit.data.export import camera_from_meta
    from lens2logit.io import load_torch

    ckpt = load_torch(path, "ISP file")
    if not isinstance(ckpt, dict) or ckpt.get("type") != ISP_CHECKPOINT_TYPE or ckpt.get("processing") not in ("parametrized", "neural"):
        raise InputError(f"ISP file {path} is not a saved learned ISP (keys 'type': 'isp', 'processing': parametrized|neural)")
    processor = build_processor(
        ckpt["processing"], camera_from_meta(ckpt), view=ckpt.get("view", "bi,s,ga"), neural=ckpt.get("neural", {}),
        constrain=ckpt.get("constrain", False), group_lr_scales={}, state_dict=ckpt["state_dict"],
        batchnorm=ckpt.get("batchnorm") is not None, batchnorm_state=ckpt.get("batchnorm"),
    )  # fmt: skip
    return processor.eval(), ckpt


def train_processing(
    processing: str,
    *,
    raw: torch.Tensor,
    views: np.ndarray,
    targets: np.ndarray,
    camera,
    fold: dict[str, list[int]],
    fold_index: int,
    kind: str,
    n_classes: int,
    options: CustomizationOptions,
    stage_path: Callable[[int], str] | None = None,
    classifier_start: dict[str, Any] | None = None,
    isp_start: dict[str, Any] | None = None,
    save_paths: dict[str, str | os.PathLike] | None = None,
    classes: Sequence[str] = (),
    dataset: str | None = None,
) -> tuple[list[dict[str, Any]], nn.Module | None]:
    """Train one (processing, fold); return the :func:`~lens2logit.training.fit` history
    and the trained processor (None for ``static``).

    ``options``: :class:`CustomizationOptions` (arch, epochs, batch size, lr, seed, view, neural,
    constrain, group_lr_scales, augmentation, bce_weight, device, freeze flags). With
    ``options.stage_samples`` > 0 and a ``stage_path`` (epoch → PNG path), the
    learned ISP's stage images and task-loss gradients for the first validation samples are
    saved as a PNG grid after every epoch. Model and processor are initialised on the CPU, then
    trained on ``options.device`` (option ``training.device``).

    ``classifier_start`` / ``isp_start``: checkpoint dicts (task model, :func:`isp_checkpoint`) to
    start from instead of a fresh initialisation; ``freeze_classifier`` / ``freeze_isp`` keep them
    fixed (the original's two-stage recipe: learn the ISP with the classifier, then freeze the
    classifier and keep optimising the ISP). ``save_paths``: ``{"classifier": path, "isp": path}``
    to save the trained task model (checkpoint format of the drift models, with ``classes`` and the
    workflow dataset name ``dataset``) and ISP.
    """
    o = options
    arch, epochs, batch_size, lr, seed, view, neural = o.arch, o.epochs, o.batch_size, o.lr, o.seed, o.view, o.neural
    constrain, augmentation, bce_weight, stage_samples = o.constrain, o.augmentation, o.bce_weight, o.stage_samples
    freeze_classifier, freeze_isp = o.freeze_classifier, o.freeze_isp
    device = resolve_device(o.device)
    train_idx = np.asarray(fold["train"], dtype=np.int64)
    val_idx = np.asarray(fold["val"], dtype=np.int64)
    if train_idx.size == 0 or val_idx.size == 0:
        raise InputError(f"fold {fold_index} needs both training and validation samples")
    model_seed = fold_seed(seed, fold_index)
    torch.manual_seed(model_seed)
    net = build_model(arch, kind, n_classes)  # same initial weights for every processing
    if classifier_start is not None:
        _load_state(net, classifier_start["state_dict"], "classifier")
    isp_state = norm_state = None
    if isp_start is not None and processor_kind_matches(processing, isp_start):
        isp_state, norm_state = isp_start["state_dict"], isp_start.get("batchnorm")
    processor = build_processor(processing, camera, view=view, neural=neural, constrain=constrain, group_lr_scales=o.group_lr_scales,
                                state_dict=isp_state, batchnorm=o.batchnorm, batchnorm_state=norm_state)  # fmt: skip
    images, mean, std = _model_inputs(processor, views, raw, train_idx, device, classifier_start)
    model = standardized(net, mean, std)
    shuffle = torch.Generator().manual_seed(model_seed + 1)
    pin = pin_memory(device)
    train_batches = ArrayBatches(images, targets, train_idx, batch_size, generator=shuffle, pin_memory=pin)
    val_batches = ArrayBatches(images, targets, val_idx, batch_size, pin_memory=pin)

    on_epoch_end = None
    if processor is not None and stage_samples > 0 and stage_path is not None:
        tap_idx = torch.as_tensor(np.sort(val_idx)[:stage_samples])
        on_epoch_end = _stage_grids(processor, model, raw[tap_idx].to(device), torch.from_numpy(np.asarray(targets[tap_idx.numpy()])).to(device),
                                    kind=kind, bce_weight=bce_weight, stage_path=stage_path, processing=processing)  # fmt: skip
    trainable = [m for m, fixed in ((model, freeze_classifier and classifier_start is not None),
                                    (processor, freeze_isp and isp_state is not None)) if m is not None and not fixed]  # fmt: skip
    history = fit(
        model, train_batches, val_batches, kind=kind, epochs=epochs, lr=lr, processor=processor, trainable=trainable,
        augmentation=augmentation, seed=model_seed,
        progress=False, on_epoch_end=on_epoch_end, bce_weight=bce_weight, device=device, schedule=o.schedule,
    )  # fmt: skip
    if save_paths:
        from lens2logit.io import save_torch

        info = {"kind": kind, "fold": int(fold_index), "history": history}
        if "classifier" in save_paths:
            save_torch(save_paths["classifier"], {
                "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, "arch": arch, "kind": kind,
                "n_classes": n_classes, "classes": list(classes), "mean": list(mean), "std": list(std),
                "train_indices": train_idx.tolist(), "val_indices": val_idx.tolist(), "fold": int(fold_index), "history": history,
                "config": {"processing": processing, "epochs": epochs, "batch_size": batch_size, "lr": lr, "schedule": o.schedule,
                           "batchnorm": bool(o.batchnorm and processor is not None), "augmentation": augmentation,
                           "seed": seed, "bce_weight": bce_weight, "view": get_view(view).label, "image_shape": [3, *raw.shape[-2:]],
                           "dataset": dataset, "frozen_classifier": bool(freeze_classifier and classifier_start is not None)},
            })  # fmt: skip
        if "isp" in save_paths and processor is not None:
            save_torch(save_paths["isp"], isp_checkpoint(processing, processor, camera, view=view, neural=neural, constrain=constrain,
                                                        dataset=dataset, **info))  # fmt: skip
    return history, processor


def _model_inputs(processor: nn.Module | None, views: np.ndarray, raw: torch.Tensor, train_idx: np.ndarray, device: torch.device,
                  classifier_start: dict[str, Any] | None) -> tuple[np.ndarray, list[float], list[float]]:
    """``(images, mean, std)`` of one (processing, fold): the static views, or the raw mosaics for a
    processor (moved to ``device``), with the standardisation of the model input (a start classifier
    keeps its own; after the paper's batch norm there is none)."""
    if processor is None:
        mean, std = channel_statistics(views, train_idx)
        images = views
    elif isinstance(processor, BatchNormAfter):  # the paper: the batch norm is the model's standardisation
        processor.to(device)
        mean, std = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
        images = raw.numpy()
    else:
        processor.to(device)
        mean, std = processor_statistics(processor, raw, train_idx)
        images = raw.numpy()
    if classifier_start is not None:  # the classifier keeps the standardisation it was trained with
        mean, std = list(classifier_start["mean"]), list(classifier_start["std"])
    return images, mean, std


def _stage_grids(processor: nn.Module, model: nn.Module, tap_raw: torch.Tensor, tap_targets: torch.Tensor, *, kind: str,
                 bce_weight: float, stage_path: Callable[[int], str], processing: str) -> Callable[[int, list[dict[str, Any]]], None]:
    """``on_epoch_end`` of :func:`~lens2logit.training.loop.fit` that saves the learned ISP's stage images and
    task-loss gradients for ``tap_raw`` as a PNG grid after every epoch."""
    from lens2logit.reporting.isp import plot_stage_grid

    def on_epoch_end(epoch: int, rows: list[dict[str, Any]]) -> None:
        taps = tap_stages(processor, model, tap_raw, tap_targets, lambda logits, y: task_loss(logits, y, kind, bce_weight))
        taps = {stage: {part: t.cpu() for part, t in images.items()} for stage, images in taps.items()}
        plot_stage_grid(taps, stage_path(epoch), title=f"{processing} ISP, epoch {epoch}")

    return on_epoch_end


def processor_kind_matches(processing: str, isp_start: dict[str, Any]) -> bool:
    """A start ISP applies to the processing it was learned with (parametrized or neural)."""
    return isp_start.get("processing") == processing


def run_customization(
    intensities: Sequence[float],
    raw_paths: Sequence[str | os.PathLike],
    targets_paths: Sequence[str | os.PathLike],
    meta_paths: Sequence[str | os.PathLike],
    view_paths: Sequence[str | os.PathLike],
    folds_path,
    *,
    curves_path,
    final_path,
    figure_path,
    stages_dir,
    options: CustomizationOptions,
    models_dir=None,
    verdict_path=None,
    classifier: str | os.PathLike | None = None,
    isp: str | os.PathLike | None = None,
    dataset: str | None = None,
) -> pd.DataFrame:
    """ISP customization for one dataset; writes curves, final table, figure and stage grids.

    Args:
        intensities: light levels, one per entry of the path lists (same order).
        raw_paths, targets_paths, meta_paths: the dataset's arrays at each intensity.
        view_paths: the static ``view`` rendered at each intensity (``(N, 3, H, W)``).
        folds_path: folds JSON; the first ``folds`` folds are used.
        curves_path: CSV ``processing,intensity,epoch,fold,split,metric,value``.
        final_path: CSV ``processing,intensity,metric,mean,std,n`` (last epoch, validation, over folds).
        figure_path: validation metric per epoch, mean ± std over folds (paper fig. 3).
        stages_dir: PNG grids :func:`~lens2logit.paths.customization_stage_name` of the learned ISPs
            (first fold; stage images and task-loss gradients of ``stage_samples`` validation samples).
        options: :class:`CustomizationOptions`: ``processings``, the first ``folds`` folds; ``arch``,
            ``epochs``, ``batch_size``, ``lr``, ``schedule`` (constant | cosine decay per step),
            ``bce_weight`` of the task model and Adam (shared by ISP and model); ``augmentation``
            after the ISP (training only); ``neural`` (:class:`NeuralOptions`); ``constrain``
            (softplus gamma, kernels keeping their DC gain); ``batchnorm`` (learned ISPs followed by
            ``BatchNorm2d(3, affine=False)`` instead of fixed standardisation, as the paper);
            ``group_lr_scales`` (``{group: scale}`` step-size scales of parametrized-ISP groups under
            the shared lr; ``{}`` for none); ``stage_samples``; ``freeze_classifier`` /
            ``freeze_isp``; ``seed``; ``device`` (option ``training.device``).
        verdict_path: optional CSV of :func:`verdict_table` (learned ISP vs static view per intensity).
        models_dir: if given, every trained task model and learned ISP is saved there as
            :func:`~lens2logit.paths.customization_model_name` (role ``classifier`` / ``isp``, see :func:`load_isp`).
        classifier: a task-model checkpoint to start every processing from (its arch and
            standardisation; it must have been trained on the same fold), frozen with ``options.freeze_classifier``.
        isp: a saved ISP (:func:`load_isp`) to start its processing from, frozen with ``options.freeze_isp``.
        dataset: the workflow dataset (``microscopy`` …), recorded in the saved checkpoints.

    Returns:
        The curves table.
    """
    from lens2logit.data.layout import intensity_slug
    from lens2logit.reporting.isp import plot_customization

    processings, folds, view = list(options.processings), options.folds, options.view
    freeze_classifier, freeze_isp = options.freeze_classifier, options.freeze_isp
    resolve_device(options.device)  # an unknown device or absent GPU fails before any compute
    intensities = [float(i) for i in intensities]
    lists = {"raw_paths": raw_paths, "targets_paths": targets_paths, "meta_paths": meta_paths, "view_paths": view_paths}
    if not intensities:
        raise InputError("customization needs at least one intensity (option 'intensities')")
    for name, values in lists.items():
        if len(values) != len(intensities):
            raise InputError(f"customization: {len(values)} {name} for {len(intensities)} intensities")
    classifier_start, isp_start = _start_checkpoints(classifier, freeze_classifier, isp, freeze_isp, processings)
    if classifier_start is not None:
        options = dataclasses.replace(options, arch=classifier_start["arch"])
    all_folds = load_folds(folds_path)
    if not isinstance(folds, int) or not 1 <= folds <= len(all_folds):
        raise InputError(f"customization folds must be between 1 and {len(all_folds)} (option 'folds'), got {folds!r}")

    rows: list[dict[str, Any]] = []
    kind = None
    for intensity, raw_path, targets_path, meta_path, view_path in zip(intensities, raw_paths, targets_paths, meta_paths, view_paths):
        raw, targets, meta, camera, views = _intensity_arrays(raw_path, targets_path, meta_path, view_path)
        kind = meta["kind"]
        n_classes = len(meta.get("classes", [])) if kind == "classification" else 1
        slug = intensity_slug(intensity)
        if classifier_start is not None and (classifier_start["kind"] != kind or (kind == "classification" and classifier_start["n_classes"] != n_classes)):
            raise InputError(f"customization.classifier {classifier} is a {classifier_start['kind']} model with {classifier_start['n_classes']} "
                             f"outputs, but {meta_path} describes a {kind} dataset with {n_classes}")  # fmt: skip
        for processing in processings:
            for k in range(folds):
                for start, option in ((classifier_start, "classifier"), (isp_start, "isp")):
                    if start is not None and start.get("fold") not in (None, k):
                        raise InputError(f"customization.{option} was trained on fold {start.get('fold')}, customization fold {k} would validate on its training data; set customization.folds: 1 and start from a fold-0 model")
                stage_path = functools.partial(_stage_path, stages_dir, processing, slug) if k == 0 else None
                save = None
                if models_dir is not None:
                    save = {role: Path(models_dir) / paths.customization_model_name(role, processing, slug, k) for role in ("classifier", "isp")}
                history, _ = train_processing(
                    processing, raw=raw, views=views, targets=targets, camera=camera, fold=all_folds[k], fold_index=k,
                    kind=kind, n_classes=n_classes, options=options, stage_path=stage_path,
                    classifier_start=classifier_start, isp_start=isp_start, save_paths=save,
                    classes=meta.get("classes", []), dataset=dataset,
                )  # fmt: skip
                rows += [{"processing": processing, "intensity": intensity, "epoch": entry["epoch"], "fold": k, "split": entry["split"],
                          "metric": metric, "value": float(value)}
                         for entry in history for metric, value in entry.items() if metric not in ("epoch", "split")]  # fmt: skip
                log.info("%s @ %s fold %d: %s", processing, intensity, k, history[-1] if history else None)

    curves = pd.DataFrame.from_records(rows, columns=CURVE_COLUMNS)
    write_csv(curves_path, curves)
    write_csv(final_path, final_table(curves))
    headline = headline_metric(kind, options.segmentation_headline)
    if verdict_path is not None:
        write_csv(verdict_path, verdict_table(curves, headline))
    Path(stages_dir).mkdir(parents=True, exist_ok=True)
    if models_dir is not None:
        Path(models_dir).mkdir(parents=True, exist_ok=True)
    plot_customization(curves, figure_path, metric=headline, title=f"{meta.get('name', '')}: ISP customization ({get_view(view).label} vs learned ISPs)")
    return curves


def _intensity_arrays(raw_path, targets_path, meta_path, view_path) -> tuple[torch.Tensor, np.ndarray, dict[str, Any], Any, np.ndarray]:
    """``(raw, targets, meta, camera, views)`` of one intensity, checked: a known kind, ≥ 2 classes for
    classification, and static views of the raw mosaics' count and size."""
    raw, targets, meta, camera = load_dataset_arrays(raw_path, targets_path, meta_path)
    kind = meta.get("kind")
    if kind not in KIND_METRICS:
        raise InputError(f"meta file {meta_path}: unknown kind {kind!r} (key 'kind')")
    if kind == "classification" and len(meta.get("classes", [])) < 2:
        raise InputError(f"meta file {meta_path}: classification needs at least 2 classes (key 'classes')")
    views = open_array(view_path, "views")
    check_view_array(views, view_path)
    if views.shape[0] != raw.shape[0] or tuple(views.shape[-2:]) != tuple(raw.shape[-2:]):
        raise InputError(f"views file {view_path} {views.shape} does not match raw file {raw_path} {tuple(raw.shape)}")
    return raw, targets.numpy(), meta, camera, views


def _stage_path(stages_dir, processing: str, slug: str, epoch: int) -> str:
    """Where the stage grid of ``processing`` at intensity ``slug`` after ``epoch`` goes."""
    return str(Path(stages_dir) / paths.customization_stage_name(processing, slug, epoch))


def _start_checkpoints(classifier, freeze_classifier, isp, freeze_isp, processings) -> tuple[dict | None, dict | None]:
    """Read and check the start classifier and ISP before any compute."""
    from lens2logit.io import load_torch

    # (freezing both, or the classifier of a static run, is refused by CustomizationOptions itself)
    if freeze_classifier and classifier is None:
        raise InputError("customization.freeze_classifier needs customization.classifier (the model to keep fixed)")
    if freeze_isp and isp is None:
        raise InputError("customization.freeze_isp needs customization.isp (the ISP to keep fixed)")
    classifier_start = isp_start = None
    if classifier is not None:
        classifier_start = load_torch(classifier, "customization.classifier file")
        missing = [k for k in ("state_dict", "arch", "kind", "n_classes", "mean", "std") if not isinstance(classifier_start, dict) or k not in classifier_start]
        if missing:
            raise InputError(f"customization.classifier {classifier} is not a task-model checkpoint (lacks {missing})")
    if isp is not None:
        _, isp_start = load_isp(isp)
        if isp_start["processing"] not in processings:
            raise InputError(f"customization.isp {isp} is a {isp_start['processing']} ISP, not among customization.processings {list(processings)}")
        if freeze_isp and list(processings) != [isp_start["processing"]]:
            raise InputError(f"customization.freeze_isp: set customization.processings to [{isp_start['processing']}] (the frozen ISP's processing)")
    return classifier_start, isp_start


def last_epoch_rows(curves: pd.DataFrame) -> pd.DataFrame:
    """The validation rows of ``curves`` at the last epoch of each (processing, intensity, fold)."""
    val = curves[curves["split"] == "val"]
    return val[val["epoch"] == val.groupby(["processing", "intensity", "fold"])["epoch"].transform("max")]


def final_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Validation metrics of the last epoch: mean, sample std and count over folds."""
    return fold_summary(last_epoch_rows(curves), ["processing", "intensity", "metric"])[FINAL_COLUMNS]


def last_epoch_change(curves: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``|mean(E) − mean(E − 1)|`` of the fold-mean validation ``metric`` at the last epoch E.

    Returns:
        columns ``processing, intensity, last_change`` (NaN with a single epoch).
    """
    val = curves[(curves["split"] == "val") & (curves["metric"] == metric)]
    mean = val.groupby(["processing", "intensity", "epoch"], sort=False)["value"].mean().reset_index()
    rows = []
    for (processing, intensity), part in mean.groupby(["processing", "intensity"], sort=False):
        values = part.sort_values("epoch")["value"].to_numpy()
        change = abs(values[-1] - values[-2]) if len(values) > 1 else float("nan")
        rows.append({"processing": processing, "intensity": intensity, "last_change": float(change)})
    return pd.DataFrame(rows, columns=["processing", "intensity", "last_change"])


def paired_interval(differences: np.ndarray, level: float = VERDICT_LEVEL) -> tuple[float, float, float]:
    """Mean and two-sided t-interval of per-fold differences: ``(mean, low, high)`` (NaN bounds for < 2 folds)."""
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    if d.size < 2:
        return (float(d.mean()) if d.size else float("nan")), float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def verdict_table(curves: pd.DataFrame, metric: str, *, max_change: float = FLAT_CHANGE, level: float = VERDICT_LEVEL) -> pd.DataFrame:
    """Does a learned ISP beat the static view? One row per (intensity, learned processing).

    ``difference`` = learned − static validation ``metric`` at the last epoch, paired by fold, with
    its ``level`` t-interval ``[low, high]`` over the ``n`` folds. ``last_change`` is the largest
    last-epoch change (:func:`last_epoch_change`) over every processing of the intensity, static
    included; ``converged`` = ``last_change ≤ max_change``. ``verdict``:

    * ``learned better`` / ``static better``: converged, and the interval excludes 0;
    * ``cannot tell (…)``: not converged, fewer than 2 folds, or an interval that contains 0.

    Args:
        curves: :data:`CURVE_COLUMNS` (as ``curves.csv``); needs processing ``static``.
    """
    last = last_epoch_rows(curves)
    last = last[last["metric"] == metric]
    changes = last_epoch_change(curves, metric)
    rows = []
    for intensity in sorted(last["intensity"].unique()):
        at = last[last["intensity"] == intensity].pivot_table(index="fold", columns="processing", values="value")
        if "static" not in at:
            continue
        change = float(changes[changes["intensity"] == intensity]["last_change"].max())
        converged = bool(change <= max_change)
        for processing in [p for p in at.columns if p != "static"]:
            paired = at[["static", processing]].dropna()
            diff, low, high = paired_interval((paired[processing] - paired["static"]).to_numpy(), level)
            if np.isnan(change):
                verdict = "cannot tell (one epoch: no last-epoch change)"
            elif not converged:
                verdict = f"cannot tell (not converged: last-epoch change {change:.3f} > {max_change:g})"
            elif len(paired) < 2:
                verdict = "cannot tell (one fold: no interval)"
            elif low > 0:
                verdict = "learned better"
            elif high < 0:
                verdict = "static better"
            else:
                verdict = f"cannot tell ({level:.0%} interval contains 0)"
            rows.append({"intensity": float(intensity), "processing": processing, "metric": metric,
                         "static": float(paired["static"].mean()), "learned": float(paired[processing].mean()),
                         "difference": diff, "low": low, "high": high, "n": int(len(paired)),
                         "last_change": change, "converged": converged, "verdict": verdict})  # fmt: skip
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)
