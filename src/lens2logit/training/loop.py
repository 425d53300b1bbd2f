"""The training loop: :func:`fit` (Adam, an optional ISP module in front, per-epoch metrics).

``processor(raw) → augmentation → model`` on one device; ``torch.optim.Adam`` (weight decay 0)
with a constant learning rate (the paper's) or a per-step cosine decay to 0 by the last step
(``schedule``); the model of the last epoch is kept (as in the paper). Used by the drift
experiment (:func:`lens2logit.training.train.train_on_view`) and by ISP customization
(jointly trained ISP + task model).
"""

from __future__ import annotations

import contextlib
import math
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch
from torch import nn

from lens2logit.errors import InputError
from lens2logit.training.augment import augment, check_augmentation
from lens2logit.models import KINDS
from lens2logit.training.device import autocast, check_amp, configure_determinism, resolve_device, to_device
from lens2logit.training.losses import task_loss
from lens2logit.training.metrics import MetricAccumulator

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]

# Learning-rate schedules of option training.<kind>.schedule: the paper's constant rate, or a cosine
# decay per optimizer step from lr to 0 at the end of the last epoch (torch's CosineAnnealingLR).
SCHEDULES = ("constant", "cosine")


def check_schedule(schedule: str) -> str:
    """``schedule`` if it is one of :data:`SCHEDULES`, else an InputError naming the option."""
    if schedule not in SCHEDULES:
        raise InputError(f"unknown schedule {schedule!r} (option 'training.<kind>.schedule'); expected one of {SCHEDULES}")
    return schedule


def make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The per-step scheduler of ``schedule``: None (constant) or cosine from lr to 0 over ``total_steps``.

    Stepped once after every optimizer step, the cosine rate of step ``t`` (0-based) is
    ``lr · (1 + cos(π t / total_steps)) / 2``: ``lr`` at the first step, ``lr · (1 − cos(π/T))/2 ≈ 0``
    at the last one.
    """
    if check_schedule(schedule) == "constant":
        return None
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(int(total_steps), 1), eta_min=0.0)


def _steps_per_epoch(train_batches: Any) -> int:
    """Number of batches of one epoch, for a schedule over all steps (the batches must be sized)."""
    batches = _epoch_batches(train_batches, "train_batches")
    if not hasattr(batches, "__len__"):
        raise InputError("a learning-rate schedule needs train_batches with a length (len()); use schedule 'constant'")
    return len(batches)


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


def check_fit_options(kind: str, augmentation: str, amp: str | None, device: str | torch.device | None) -> tuple[str, torch.device]:
    """The options :func:`fit` checks first, for callers that must fail before loading any data.

    Returns:
        ``(amp, device)`` normalised (:func:`~lens2logit.training.device.check_amp`,
        :func:`~lens2logit.training.device.resolve_device`); an unknown ``kind``, augmentation,
        amp mode or device is an InputError naming the option.
    """
    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r} (option 'kind'); expected one of {KINDS}")
    check_augmentation(augmentation)
    return check_amp(amp), resolve_device(device)


@contextlib.contextmanager
def frozen(*modules: nn.Module | None) -> Iterator[None]:
    """Hold ``modules`` (None skipped) fixed inside the block: eval mode, ``requires_grad`` off; their
    modes and flags are restored afterwards. Gradients still flow *through* a frozen module."""
    modules = [m for m in modules if m is not None]
    flags = [(p, p.requires_grad) for m in modules for p in m.parameters()]
    modes = [(m, m.training) for m in modules]
    try:
        for module in modules:
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        for module, mode in modes:
            module.train(mode)


@dataclass(frozen=True)
class _Step:
    """One forward pass of :func:`fit`: ``processor → augmentation (training only) → model`` on ``device``."""

    model: nn.Module
    processor: nn.Module | None
    kind: str
    augmentation: str
    generator: torch.Generator
    device: torch.device
    amp: str

    def __call__(self, x: torch.Tensor, y: torch.Tensor, training: bool) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = to_device(x, self.device), to_device(y, self.device)
        with autocast(self.device, self.amp):
            if self.processor is not None:
                x = self.processor(x)
            if training and self.augmentation != "none":
                x, masks = augment(x, y if self.kind == "segmentation" else None, mode=self.augmentation, generator=self.generator)
                if masks is not None:
                    y = masks
            logits = self.model(x)
        return logits.float(), y


def _train_epoch(step: _Step, batches: Iterable, optimizer: torch.optim.Optimizer, scheduler, bce_weight: float,
                 desc: str, progress: bool) -> dict[str, float]:
    """One pass of Adam steps over ``batches``; the metrics measured on the fly."""
    scores = MetricAccumulator(step.kind)
    for x, y in _progress(batches, desc, progress):
        logits, y = step(x, y, training=True)
        loss = task_loss(logits, y, step.kind, bce_weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        scores.update(logits, y, loss=loss)
    return scores.compute()


@torch.no_grad()
def _validate(step: _Step, batches: Iterable, bce_weight: float, desc: str, progress: bool) -> dict[str, float]:
    scores = MetricAccumulator(step.kind)
    for x, y in _progress(batches, desc, progress):
        logits, y = step(x, y, training=False)
        scores.update(logits, y, loss=task_loss(logits, y, step.kind, bce_weight))
    return scores.compute()


def fit(
    model: nn.Module,
    train_batches: Batches | Callable[[], Batches],
    val_batches: Batches | Callable[[], Batches] | None,
    *,
    kind: str,
    epochs: int,
    lr: float,
    seed: int,
    processor: nn.Module | None = None,
    trainable: Sequence[nn.Module] | None = None,
    augmentation: str = "none",
    progress: bool = True,
    on_epoch_end: Callable[[int, list[dict[str, Any]]], None] | None = None,
    bce_weight: float = 0.0,
    device: str | torch.device | None = "cpu",
    amp: str = "none",
    schedule: str = "constant",
) -> list[dict[str, Any]]:
    """Train ``trainable`` (default: ``model``) with Adam; evaluate each epoch.

    Args:
        model: task network taking ``(B, 3, H, W)`` (put :class:`Standardize` inside it).
        train_batches / val_batches: re-iterables of ``(x, y)`` or callables returning one per
            epoch. ``x`` is ``(B, 3, H, W)`` float, or ``(B, H, W)`` raw mosaics if ``processor``
            is given; ``y`` is ``(B,)`` int64 labels or ``(B, H, W)`` masks. ``val_batches`` may be None.
            Host batches are copied to ``device`` (non-blocking; pin them for CUDA).
        kind: ``"classification"`` or ``"segmentation"``.
        epochs: number of passes over ``train_batches``.
        lr: Adam learning rate (weight decay 0).
        seed: seeds torch's global RNG and the augmentation generator (a CPU generator on every
            device, so augmentations do not depend on the device).
        processor: optional ISP module ``(B, H, W) → (B, 3, H, W)`` applied before augmentation.
        trainable: the modules Adam updates, among ``model`` and ``processor``. The other one is
            held :func:`frozen` during the call; gradients still flow *through* a frozen model into
            a trainable processor.
        augmentation: ``none`` | ``weak`` | ``strong`` (per sample, training only).
        progress: one tqdm bar per epoch and split on stderr.
        on_epoch_end: called as ``on_epoch_end(epoch, rows)`` after each epoch with that epoch's rows.
        bce_weight: segmentation only, weight of an added BCE term (0 = Dice only).
        device: option ``training.device`` (see :func:`~lens2logit.training.device.resolve_device`);
            ``model`` and ``processor`` are moved there and stay there.
        amp: ``none`` (fp32) or ``bf16`` autocast of the forward passes (losses in fp32).
        schedule: ``constant`` (``lr`` throughout, the paper's) or ``cosine`` (per optimizer step,
            from ``lr`` to ≈ 0 at the last step of the last epoch; :func:`make_scheduler`; needs
            sized ``train_batches``).

    Returns:
        history rows ``{"epoch" (1-based), "split" ("train"|"val"), "loss", metrics...}``;
        metrics are ``accuracy, precision, recall, f1`` or ``iou_image, iou_dataset``. Train rows
        are measured on the fly (augmented inputs, weights changing during the epoch).
    """
    amp, device = check_fit_options(kind, augmentation, amp, device)
    if not isinstance(epochs, int) or epochs < 1:
        raise InputError(f"epochs must be a positive integer, got {epochs!r}")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise InputError(f"lr must be a positive number, got {lr!r}")
    check_schedule(schedule)
    modules = [m for m in (model, processor) if m is not None]
    trainable = [model] if trainable is None else list(trainable)
    if not trainable:
        raise InputError("nothing to train: trainable is empty")
    if any(not any(t is m for m in modules) for t in trainable):
        raise InputError("trainable modules must be the model or the processor passed to fit")
    fixed = [m for m in modules if not any(m is t for t in trainable)]
    for module in modules:
        module.to(device)
    parameters = [p for module in trainable for p in module.parameters() if p.requires_grad]
    if not parameters:
        raise InputError("the trainable modules have no parameters with requires_grad=True")

    configure_determinism(device)
    torch.manual_seed(seed)
    step = _Step(model, processor, kind, augmentation, torch.Generator().manual_seed(seed), device, amp)
    optimizer = torch.optim.Adam(parameters, lr=lr)
    scheduler = make_scheduler(optimizer, schedule, 0 if schedule == "constant" else epochs * _steps_per_epoch(train_batches))
    modes = [(m, m.training) for m in trainable]
    history: list[dict[str, Any]] = []
    with frozen(*fixed):
        try:
            for epoch in range(1, epochs + 1):
                for module in trainable:
                    module.train()
                train = _train_epoch(step, _epoch_batches(train_batches, "train_batches"), optimizer, scheduler,
                                     bce_weight, f"epoch {epoch}/{epochs} train", progress)  # fmt: skip
                rows = [{"epoch": epoch, "split": "train", "loss": 0.0, **train}]
                if val_batches is not None:
                    for module in trainable:
                        module.eval()
                    val = _validate(step, _epoch_batches(val_batches, "val_batches"), bce_weight, f"epoch {epoch}/{epochs} val", progress)
                    rows.append({"epoch": epoch, "split": "val", "loss": 0.0, **val})
                history.extend(rows)
                if on_epoch_end is not None:
                    on_epoch_end(epoch, rows)
        finally:
            for module, mode in modes:
                module.train(mode)
    return history
