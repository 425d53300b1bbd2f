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

from lens2logit.training.batches import (
    ArrayBatches,
    channel_statistics,
    check_indices,
    check_targets,
    check_view_array,
    open_array,
)
from lens2logit.training.checkpoint import CHECKPOINT_KEYS, load_model, read_checkpoint, save_checkpoint
from lens2logit.training.device import check_amp, resolve_device
from lens2logit.training.losses import dice_loss_from_logits, task_loss
from lens2logit.training.loop import check_fit_options, fit
from lens2logit.training.metrics import MetricAccumulator

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
