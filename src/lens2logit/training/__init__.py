"""The training engine: losses, batches, the loop, checkpoints, metrics, devices.

| module | public names |
|---|---|
| :mod:`.losses` | ``dice_loss_from_logits``, ``task_loss``, ``DICE_EPS`` |
| :mod:`.batches` | ``ArrayBatches``, ``open_array``, ``check_view_array``, ``check_targets``, ``check_indices``, ``channel_statistics`` |
| :mod:`.loop` | ``fit`` (``torch.optim.Adam``), ``check_fit_options`` |
| :mod:`.checkpoint` | ``CHECKPOINT_KEYS``, ``save_checkpoint``, ``read_checkpoint``, ``load_model``, ``to_cpu`` |
| :mod:`.metrics` | ``MetricAccumulator``; ``confusion_matrix``, ``classification_scores``, ``segmentation_counts``, ``segmentation_scores``, ... |
| :mod:`.device` | ``resolve_device``, ``check_amp``, ``autocast``, ``to_device``, ``pin_memory``, ``configure_determinism`` |
"""

import importlib

# Exports load their module on first use (PEP 562), so the option modules (``training.options``,
# ``training.augment``'s names) import without PyTorch while planning. The code hash
# (workflow.codehash) follows import statements only: library code imports from the modules.
_EXPORTS = {
    "batches": ("ArrayBatches", "channel_statistics", "check_indices", "check_targets", "check_view_array", "open_array"),
    "checkpoint": ("CHECKPOINT_KEYS", "load_model", "read_checkpoint", "save_checkpoint"),
    "device": ("check_amp", "resolve_device"),
    "losses": ("dice_loss_from_logits", "task_loss"),
    "loop": ("check_fit_options", "fit"),
    "metrics": ("MetricAccumulator",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)


__all__ = [
    "CHECKPOINT_KEYS",
    "ArrayBatches",
    "MetricAccumulator",
    "channel_statistics",
    "check_amp",
    "check_fit_options",
    "check_indices",
    "check_targets",
    "check_view_array",
    "dice_loss_from_logits",
    "fit",
    "load_model",
    "open_array",
    "read_checkpoint",
    "resolve_device",
    "save_checkpoint",
    "task_loss",
]
