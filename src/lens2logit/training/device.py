"""Where training and evaluation run: the options ``training.device`` and ``training.amp``.

* :func:`resolve_device` turns the option's string into a :class:`torch.device`, refusing unknown
  strings and accelerators that are not present (called by the workflow at plan time, before any
  job runs, and again by every job).
* :func:`to_device` copies a host batch to the device (non-blocking from pinned memory);
  :func:`autocast` is the optional bf16 mixed precision (default ``none``: fp32, paper-faithful).
* :func:`configure_determinism` selects deterministic cuDNN kernels (see docs/gpu.md for what
  is and is not bit-reproducible on a GPU).
"""

from __future__ import annotations

import contextlib
import re
from typing import ContextManager

import torch

from lens2logit.errors import InputError

DEVICE_OPTION = "training.device"
AMP_OPTION = "training.amp"
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
AMP_MODES = ("none", "bf16")
_CUDA_INDEX = re.compile(r"cuda:(\d+)")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _roomiest_cuda() -> torch.device:
    """The visible CUDA device with the most free memory (several jobs sharing a multi-GPU machine
    spread over its GPUs); ``cuda`` if there is only one or the query fails."""
    count = torch.cuda.device_count()
    if count <= 1:
        return torch.device("cuda")
    try:
        free = [torch.cuda.mem_get_info(i)[0] for i in range(count)]
    except RuntimeError:
        return torch.device("cuda")
    return torch.device(f"cuda:{max(range(count), key=lambda i: (free[i], -i))}")


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The device of the option ``training.device``.

    Args:
        spec: ``auto`` (CUDA if present — with several GPUs the one with the most free memory —,
            else MPS if present, else CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; None means ``auto``.

    Returns:
        the :class:`torch.device`.

    Raises:
        InputError: naming ``training.device``, for an unknown string or an accelerator that
            this machine does not have.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if spec is None:
        spec = "auto"
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):
        raise InputError(f"option '{DEVICE_OPTION}' must be a string, one of {DEVICE_CHOICES}; got {spec!r}")
    name = spec.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return _roomiest_cuda()
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise InputError(f"option '{DEVICE_OPTION}' is 'mps' but this machine has no usable MPS (Apple GPU) backend")
        return torch.device("mps")
    index = _CUDA_INDEX.fullmatch(name)
    if name == "cuda" or index:
        if not torch.cuda.is_available():
            raise InputError(
                f"option '{DEVICE_OPTION}' is {spec!r} but CUDA is not available here "
                f"(torch {torch.__version__}, CUDA build {torch.version.cuda}); use 'auto' or 'cpu'"
            )
        if index and int(index.group(1)) >= torch.cuda.device_count():
            raise InputError(
                f"option '{DEVICE_OPTION}' is {spec!r} but only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
        return torch.device(name)
    raise InputError(f"unknown device {spec!r} (option '{DEVICE_OPTION}'); expected one of {DEVICE_CHOICES}")


def check_amp(amp: str | None) -> str:
    """Return the mixed-precision mode (``none`` | ``bf16``), InputError naming ``training.amp`` otherwise."""
    amp = "none" if amp is None else amp
    if amp not in AMP_MODES:
        raise InputError(f"unknown mixed-precision mode {amp!r} (option '{AMP_OPTION}'); expected one of {AMP_MODES}")
    return amp


def autocast(device: torch.device, amp: str) -> ContextManager:
    """bf16 autocast on ``device`` for ``amp == "bf16"``, a no-op context for ``none``."""
    if check_amp(amp) == "none":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def pin_memory(device: torch.device) -> bool:
    """Whether host batches for ``device`` should be pinned (page-locked): only for CUDA."""
    return device.type == "cuda"


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; non-blocking (asynchronous from pinned memory), a no-op if already there."""
    if tensor.device == device:
        return tensor
    return tensor.to(device, non_blocking=True)


def configure_determinism(device: torch.device) -> None:
    """Deterministic cuDNN convolution kernels and no autotuning on CUDA (no effect elsewhere).

    Results on a GPU then repeat run to run on the same GPU, software and batch sizes, except for
    operations with atomic float additions in their backward pass (e.g. ``grid_sample``,
    used by strong augmentation and learned ISPs); see docs/gpu.md.
    """
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
