"""Training of task models on rendered ISP views (drift synthesis) and the generic loop behind it.

Two layers:

* :func:`fit` — a plain Adam loop over ``(x, y)`` batches with an optional ISP module in front
  (``processor(raw) → augmentation → model``); used by :func:`train_on_view` and by ISP
  customization (jointly trained parametrized ISP + task model).
* :func:`train_on_view` — one drift-synthesis job: memory-maps a rendered view ``(N, 3, H, W)``,
  trains on one fold, returns a checkpoint dict; :func:`save_checkpoint` / :func:`load_model`
  write and read it.

Losses (reference-spec §4.2): cross-entropy for classification; for segmentation the binary soft
Dice loss from logits (smp ``DiceLoss(mode="binary", from_logits=True)`` semantics: one Dice over
all pixels of the batch, 0 when the batch has no foreground), plus ``bce_weight ×`` binary
cross-entropy if ``bce_weight > 0`` (default 0 = paper-faithful; BCE gives a signal on
empty-mask batches and speeds up small models). Adam (:class:`Adam`, the same update as
``torch.optim.Adam``), weight decay 0, no schedule; the model of the last epoch is kept (as in the paper).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lens2logit.errors import InputError
from lens2logit.experiments.augment import augment, check_augmentation
from lens2logit.experiments.splits import get_fold
from lens2logit.io import load_torch, save_torch
from lens2logit.metrics import classification_scores, confusion_matrix, segmentation_counts, segmentation_scores
from lens2logit.models import TASKS, build_model, standardized

DICE_EPS = 1e-7
STD_FLOOR = 1e-6
STATISTICS_CHUNK = 256
CHECKPOINT_KEYS = (
    "state_dict", "arch", "task", "n_classes", "classes", "mean", "std",
    "train_indices", "val_indices", "fold", "history", "config",
)  # fmt: skip

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


# --------------------------------------------------------------------------------------------- losses
def dice_loss_from_logits(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Binary soft Dice loss over the whole batch.

    Args:
        logits: ``(B, 1, H, W)`` raw outputs.
        masks: ``(B, H, W)`` or ``(B, 1, H, W)``, foreground ``> 0.5``.

    Returns:
        scalar ``1 − 2Σpy / Σ(p + y)``; 0 if the batch has no foreground pixel.
    """
    probs = torch.sigmoid(logits).reshape(-1)
    truth = (masks.reshape(-1) > 0.5).to(probs.dtype)
    intersection = (probs * truth).sum()
    cardinality = (probs + truth).sum()
    loss = 1.0 - 2.0 * intersection / cardinality.clamp(min=DICE_EPS)
    return loss * (truth.sum() > 0).to(loss.dtype)


def task_loss(logits: torch.Tensor, targets: torch.Tensor, task: str, bce_weight: float = 0.0) -> torch.Tensor:
    """Cross-entropy ``(B, C) × (B,)`` or Dice (+ BCE) ``(B, 1, H, W) × (B, H, W)`` → scalar."""
    if task == "classification":
        return F.cross_entropy(logits, targets.long())
    loss = dice_loss_from_logits(logits, targets)
    if bce_weight > 0:
        truth = (targets.reshape(logits.shape) > 0.5).to(logits.dtype)
        loss = loss + bce_weight * F.binary_cross_entropy_with_logits(logits, truth)
    return loss


class Adam:
    """Adam without weight decay or AMSGrad — the update of ``torch.optim.Adam`` (single-tensor path).

    A plain class rather than a ``torch.optim.Optimizer``: constructing the latter imports
    ``torch._dynamo`` (+ sympy), ~1 s of CPU per process, a third of a small drift-synthesis job.

    Args:
        parameters: tensors to update (their ``.grad`` is read).
        lr: learning rate.
        betas, eps: as in torch (defaults 0.9, 0.999, 1e-8).
    """

    def __init__(
        self,
        parameters: Iterable[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.parameters = list(parameters)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.steps = [0] * len(self.parameters)
        self.first = [torch.zeros_like(p) for p in self.parameters]
        self.second = [torch.zeros_like(p) for p in self.parameters]

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for i, p in enumerate(self.parameters):
            if p.grad is None:
                continue
            self.steps[i] += 1
            grad, first, second = p.grad, self.first[i], self.second[i]
            first.lerp_(grad, 1 - beta1)
            second.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            bias1 = 1 - beta1 ** self.steps[i]
            bias2 = 1 - beta2 ** self.steps[i]
            denominator = (second.sqrt() / math.sqrt(bias2)).add_(self.eps)
            p.addcdiv_(first, denominator, value=-self.lr / bias1)


class _EpochScores:
    """Accumulates loss and metric counts over one epoch of one split."""

    def __init__(self, task: str):
        self.task = task
        self.loss_sum = 0.0
        self.count = 0
        self.cm: torch.Tensor | None = None
        self.counts: list[tuple[torch.Tensor, torch.Tensor]] = []

    def add(self, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> None:
        batch = logits.shape[0]
        self.loss_sum += float(loss) * batch
        self.count += batch
        logits = logits.detach()
        if self.task == "classification":
            cm = confusion_matrix(targets, logits.argmax(dim=1), logits.shape[1])
            self.cm = cm if self.cm is None else self.cm + cm
        else:
            self.counts.append(segmentation_counts(logits, targets))

    def row(self, epoch: int, split: str) -> dict[str, Any]:
        row: dict[str, Any] = {"epoch": epoch, "split": split, "loss": self.loss_sum / max(self.count, 1)}
        if self.task == "classification":
            row.update(classification_scores(self.cm) if self.cm is not None else {})
        elif self.counts:
            row.update(
                segmentation_scores(torch.cat([c[0] for c in self.counts]), torch.cat([c[1] for c in self.counts]))
            )
        return row


def _epoch_batches(source: Any, name: str) -> Iterable:
    """A fresh iterable for one epoch: call factories, re-iterate containers, reject one-shot iterators."""
    if callable(source) and not hasattr(source, "__iter__"):
        return source()
    if iter(source) is source:
        raise InputError(
            f"{name} is a one-shot iterator; pass a re-iterable (list, ArrayBatches) or a callable returning one per epoch"
        )
    return source


def _progress(iterable: Iterable, desc: str, enabled: bool) -> Iterable:
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(
        iterable,
        desc=desc,
        total=len(iterable) if hasattr(iterable, "__len__") else None,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )


def fit(
    model: nn.Module,
    train_batches: Batches | Callable[[], Batches],
    val_batches: Batches | Callable[[], Batches] | None,
    *,
    task: str,
    epochs: int,
    lr: float,
    processor: nn.Module | None = None,
    train_processor: bool = False,
    train_model: bool = True,
    augmentation: str = "none",
    seed: int,
    progress: bool = True,
    on_epoch_end: Callable[[int, list[dict[str, Any]]], None] | None = None,
    bce_weight: float = 0.0,
) -> list[dict[str, Any]]:
    """Train ``model`` (and optionally ``processor``) with Adam; evaluate each epoch.

    Args:
        model: task network taking ``(B, 3, H, W)`` (put :class:`Standardize` inside it).
        train_batches / val_batches: re-iterables of ``(x, y)`` or callables returning one per
            epoch. ``x`` is ``(B, 3, H, W)`` float, or ``(B, H, W)`` raw mosaics if ``processor``
            is given; ``y`` is ``(B,)`` int64 labels or ``(B, H, W)`` masks. ``val_batches`` may be None.
        task: ``"classification"`` or ``"segmentation"``.
        epochs: number of passes over ``train_batches``.
        lr: Adam learning rate (weight decay 0).
        processor: optional ISP module ``(B, H, W) → (B, 3, H, W)`` applied before augmentation.
        train_processor / train_model: which modules Adam updates. Frozen modules stay in eval
            mode with ``requires_grad`` off during the call (restored afterwards); gradients still
            flow *through* a frozen model into a trainable processor.
        augmentation: ``none`` | ``weak`` | ``strong`` (per sample, training only).
        seed: seeds torch's global RNG and the augmentation generator.
        progress: one tqdm bar per epoch and split on stderr.
        on_epoch_end: called as ``on_epoch_end(epoch, rows)`` after each epoch with that epoch's rows.
        bce_weight: segmentation only, weight of an added BCE term (0 = Dice only).

    Returns:
        history rows ``{"epoch" (1-based), "split" ("train"|"val"), "loss", metrics...}``;
        metrics are ``accuracy, precision, recall, f1`` or ``iou_image, iou_dataset``. Train rows
        are measured on the fly (augmented inputs, weights changing during the epoch).
    """
    if task not in TASKS:
        raise InputError(f"unknown task {task!r} (option 'task'); expected one of {TASKS}")
    check_augmentation(augmentation)
    if not isinstance(epochs, int) or epochs < 1:
        raise InputError(f"epochs must be a positive integer, got {epochs!r}")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise InputError(f"lr must be a positive number, got {lr!r}")
    trainable = ([model] if train_model else []) + ([processor] if processor is not None and train_processor else [])
    if not trainable:
        raise InputError("nothing to train: train_model is False and no trainable processor was given")
    frozen = ([] if train_model else [model]) + ([processor] if processor is not None and not train_processor else [])
    parameters = [p for module in trainable for p in module.parameters() if p.requires_grad]
    if not parameters:
        raise InputError("the trainable modules have no parameters with requires_grad=True")

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = Adam(parameters, lr=lr)
    saved_flags = [(p, p.requires_grad) for module in frozen for p in module.parameters()]
    saved_modes = [(m, m.training) for m in (model, processor) if m is not None]

    def forward(x: torch.Tensor, y: torch.Tensor, training: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if processor is not None:
            x = processor(x)
        if training and augmentation != "none":
            x, masks = augment(x, y if task == "segmentation" else None, mode=augmentation, generator=generator)
            if masks is not None:
                y = masks
        return model(x), y

    history: list[dict[str, Any]] = []
    try:
        for module in frozen:
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)
        for epoch in range(1, epochs + 1):
            for module in trainable:
                module.train()
            scores = _EpochScores(task)
            for x, y in _progress(
                _epoch_batches(train_batches, "train_batches"), f"epoch {epoch}/{epochs} train", progress
            ):
                logits, y = forward(x, y, training=True)
                loss = task_loss(logits, y, task, bce_weight)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scores.add(loss.detach(), logits, y)
            rows = [scores.row(epoch, "train")]
            if val_batches is not None:
                for module in trainable:
                    module.eval()
                scores = _EpochScores(task)
                with torch.no_grad():
                    for x, y in _progress(
                        _epoch_batches(val_batches, "val_batches"), f"epoch {epoch}/{epochs} val", progress
                    ):
                        logits, y = forward(x, y, training=False)
                        scores.add(task_loss(logits, y, task, bce_weight), logits, y)
                rows.append(scores.row(epoch, "val"))
            history.extend(rows)
            if on_epoch_end is not None:
                on_epoch_end(epoch, rows)
    finally:
        for p, flag in saved_flags:
            p.requires_grad_(flag)
        for module, mode in saved_modes:
            module.train(mode)
    return history


# --------------------------------------------------------------------------------------- data input
def open_array(path: str | os.PathLike, name: str) -> np.ndarray:
    """Memory-map a ``.npy`` file; InputError naming ``name`` and the path if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{name} file not found: {path}")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{name} file {path} is not a readable .npy array: {exc}") from exc


def check_view_array(views: np.ndarray, path: Any) -> None:
    """A rendered view must be ``(N, 3, H, W)`` float32."""
    if views.ndim != 4 or views.shape[1] != 3 or views.dtype != np.float32:
        raise InputError(f"views file {path} must hold (N, 3, H, W) float32, got {views.dtype} {views.shape}")


def check_targets(targets: np.ndarray, views: np.ndarray, task: str, n_classes: int, path: Any) -> None:
    """Targets must be ``(N,)`` integer labels in range or ``(N, H, W)`` masks matching the views."""
    n, _, height, width = views.shape
    if task == "classification":
        if targets.shape != (n,) or not np.issubdtype(targets.dtype, np.integer):
            raise InputError(
                f"targets file {path} must hold ({n},) integer labels, got {targets.dtype} {targets.shape}"
            )
        if n and (targets.min() < 0 or targets.max() >= n_classes):
            raise InputError(
                f"targets file {path}: labels must lie in [0, {n_classes}), got [{targets.min()}, {targets.max()}]"
            )
    elif targets.shape != (n, height, width):
        raise InputError(
            f"targets file {path} must hold ({n}, {height}, {width}) masks, got {targets.dtype} {targets.shape}"
        )


def check_indices(indices: Sequence[int], n: int, name: str) -> np.ndarray:
    """``(K,)`` int64 indices, InputError naming ``name`` if any falls outside ``[0, n)``."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise InputError(f"{name} indices out of range for {n} samples: [{idx.min()}, {idx.max()}]")
    return idx


class ArrayBatches:
    """Re-iterable batches ``(x, y)`` read straight from (memory-mapped) arrays.

    Each batch fancy-indexes a *sorted* chunk of indices (sequential reads of the mapped file),
    giving ``x`` ``(B, 3, H, W)`` float32 and ``y`` ``(B,)`` int64 or ``(B, H, W)`` uint8 tensors.
    With a ``generator`` the index order is reshuffled on every iteration (an epoch); without one
    the indices are read in sorted order. No worker processes: on 2 cores a plain loop is faster.
    A lone last sample joins the previous batch: batch statistics (BatchNorm in training mode, the
    neural ISP) are undefined for a batch of one.
    """

    def __init__(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        indices: Sequence[int],
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.images, self.targets, self.batch_size, self.generator = images, targets, batch_size, generator
        self.indices = check_indices(indices, len(images), "batch")
        if generator is None:
            self.indices = np.sort(self.indices)
        self.transform = transform

    def _starts(self) -> list[int]:
        n = len(self.indices)
        starts = list(range(0, n, self.batch_size))
        if len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()
        return starts + [n]

    def __len__(self) -> int:
        return len(self._starts()) - 1

    def __iter__(self):
        order = self.indices
        if self.generator is not None:
            order = order[torch.randperm(len(order), generator=self.generator).numpy()]
        starts = self._starts()
        for start, stop in zip(starts[:-1], starts[1:]):
            chunk = np.sort(order[start:stop])
            images = np.ascontiguousarray(self.images[chunk])
            if self.transform is not None:
                images = self.transform(images)
            yield torch.from_numpy(images), torch.from_numpy(np.ascontiguousarray(self.targets[chunk]))


def channel_statistics(views: np.ndarray, indices: Sequence[int]) -> tuple[list[float], list[float]]:
    """Per-channel mean and std over the given samples, ``(N, C, H, W)`` → two lists of C floats.

    Read in chunks, accumulated in float64; std is floored at 1e-6 so constant channels stay usable.
    """
    idx = np.sort(check_indices(indices, len(views), "statistics"))
    if idx.size == 0:
        raise InputError("cannot compute normalisation statistics from an empty training split")
    channels = views.shape[1]
    total = np.zeros(channels)
    total_sq = np.zeros(channels)
    count = 0
    for start in range(0, idx.size, STATISTICS_CHUNK):
        chunk = np.asarray(views[idx[start : start + STATISTICS_CHUNK]], dtype=np.float64)
        total += chunk.sum(axis=(0, 2, 3))
        total_sq += np.square(chunk).sum(axis=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    return mean.tolist(), np.maximum(std, STD_FLOOR).tolist()


# ------------------------------------------------------------------------------------ one view job
def train_on_view(
    views_path: str | os.PathLike,
    targets_path: str | os.PathLike,
    folds_path: str | os.PathLike,
    fold: int,
    *,
    task: str,
    arch: str,
    epochs: int,
    batch_size: int,
    lr: float,
    augmentation: str,
    seed: int,
    classes: Sequence[str] | None,
    pretrained: str | os.PathLike | None = None,
    threads: int = 1,
    progress: bool = True,
    bce_weight: float = 0.0,
) -> dict[str, Any]:
    """Train a task model on one rendered view and one fold.

    Args:
        views_path: ``.npy`` of ``(N, 3, H, W)`` float32 RGB in [0, 1] (memory-mapped).
        targets_path: ``.npy`` of ``(N,)`` int64 labels or ``(N, H, W)`` uint8 masks.
        folds_path: JSON written by :func:`lens2logit.experiments.splits.save_folds`.
        fold: which fold to train (its ``train`` indices) and validate (its ``val`` indices).
        task, arch, pretrained: see :func:`lens2logit.models.build_model`.
        epochs, batch_size, lr, augmentation, bce_weight: see :func:`fit`.
        seed: model initialisation, shuffling and augmentation; same seed → same weights.
        classes: class names (classification: ``n_classes = len(classes)``; None → ``max label + 1``
            with names ``"0"…``); segmentation: names of the foreground (default ``["foreground"]``).
        threads: ``torch.set_num_threads`` for the job (restored afterwards).
        progress: tqdm bars on stderr.

    Returns:
        checkpoint dict with keys ``state_dict`` (task network, without standardisation), ``arch``,
        ``task``, ``n_classes``, ``classes``, ``mean``, ``std`` (per-channel statistics of the
        training split of this view), ``train_indices``, ``val_indices``, ``fold``, ``history``
        (rows of :func:`fit`) and ``config`` (all other arguments and the image shape).
    """
    if task not in TASKS:
        raise InputError(f"unknown task {task!r} (option 'task'); expected one of {TASKS}")
    check_augmentation(augmentation)
    if not isinstance(threads, int) or threads < 1:
        raise InputError(f"threads must be a positive integer, got {threads!r}")
    views = open_array(views_path, "views")
    check_view_array(views, views_path)
    targets = open_array(targets_path, "targets")
    if task == "classification":
        if classes is None:
            classes = [str(i) for i in range(int(np.max(targets)) + 1 if targets.size else 2)]
        n_classes = len(classes)
    else:
        classes = list(classes) if classes else ["foreground"]
        n_classes = 1
    check_targets(targets, views, task, n_classes, targets_path)
    split = get_fold(folds_path, fold)
    train_idx = check_indices(split["train"], len(views), f"fold {fold} train")
    val_idx = check_indices(split["val"], len(views), f"fold {fold} val")
    if train_idx.size == 0:
        raise InputError(f"fold {fold} of {folds_path} has no training samples")

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        net = build_model(arch, task, n_classes, pretrained=pretrained)
        mean, std = channel_statistics(views, train_idx)
        model = standardized(net, mean, std)
        shuffle = torch.Generator().manual_seed(seed + 1)
        train_batches = ArrayBatches(views, targets, train_idx, batch_size, generator=shuffle)
        val_batches = ArrayBatches(views, targets, val_idx, batch_size) if val_idx.size else None
        history = fit(
            model, train_batches, val_batches, task=task, epochs=epochs, lr=lr, augmentation=augmentation,
            seed=seed, progress=progress, bce_weight=bce_weight,
        )  # fmt: skip
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
        "arch": arch,
        "task": task,
        "n_classes": n_classes,
        "classes": list(classes),
        "mean": mean,
        "std": std,
        "train_indices": train_idx.tolist(),
        "val_indices": val_idx.tolist(),
        "fold": int(fold),
        "history": history,
        "config": {
            "views_path": str(views_path),
            "targets_path": str(targets_path),
            "folds_path": str(folds_path),
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "augmentation": augmentation,
            "seed": seed,
            "pretrained": None if pretrained is None else str(pretrained),
            "bce_weight": bce_weight,
            "image_shape": list(views.shape[1:]),
        },
    }


def save_checkpoint(path: str | os.PathLike, ckpt: dict[str, Any]) -> None:
    """Write a checkpoint dict from :func:`train_on_view` atomically (``torch.save``)."""
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise InputError(f"checkpoint for {path} lacks keys {missing}")
    save_torch(path, ckpt)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint dict (tensors on CPU, no pickled code) and check its keys."""
    ckpt = load_torch(path, "model file")
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise InputError(f"model file {path} lacks checkpoint keys {missing}")
    return ckpt


def load_model(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a trained model: ``(nn.Sequential(Standardize, net) in eval mode, checkpoint dict)``.

    The model takes ``(B, 3, H, W)`` RGB in the view's own range ([0, 1]).
    """
    ckpt = read_checkpoint(path)
    net = build_model(ckpt["arch"], ckpt["task"], ckpt["n_classes"])
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise InputError(f"model file {path}: weights do not fit arch {ckpt['arch']!r}: {exc}") from exc
    model = standardized(net, ckpt["mean"], ckpt["std"])
    return model.eval(), ckpt
