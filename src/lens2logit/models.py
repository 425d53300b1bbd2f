"""Task networks: classifiers and segmenters, plus the input standardisation they carry.

Archs (``build_model(arch, task, n_classes)``):

* classification: ``resnet18``, ``resnet34``, ``resnet50`` (torchvision, random init, head
  sized from the backbone — the original gave ResNet-50 a 512-wide head, reference-spec §6 item 22)
  and ``small_cnn`` (the embedded default: fast on a CPU at 64×64).
* segmentation: ``unetplusplus`` / ``unetplusplus:<encoder>`` (smp ``UnetPlusPlus``, encoder
  ``resnet34`` by default, ``encoder_weights=None``, one output channel) and ``small_unet``.

The small archs keep full resolution in their first two convolutions, so that demosaicing /
sharpening / denoising differences between ISP views reach the features instead of being averaged
away by an early stride.

Pretrained weights come from a local state-dict file only (never a hub download). torchvision and
smp are imported lazily: the small archs start in ~1 s less.
"""

from __future__ import annotations

import os
from typing import Sequence

import torch
from torch import nn

from lens2logit.errors import InputError
from lens2logit.io import load_torch

TASKS = ("classification", "segmentation")
CLASSIFICATION_ARCHS = ("small_cnn", "resnet18", "resnet34", "resnet50")
SEGMENTATION_ARCHS = ("small_unet", "unetplusplus")
DEFAULT_UNETPP_ENCODER = "resnet34"
# Channel widths of the small archs, tuned (CPU time on this machine) for <= ~4 s train_on_view jobs
# at 64×64 on one core incl. start-up; oneDNN is markedly faster with some widths (16→24 was slow).
SMALL_CNN_WIDTHS = (16, 16, 32, 48)
SMALL_UNET_WIDTHS = (16, 16, 32)


class Standardize(nn.Module):
    """Per-channel ``(x - mean) / std``; the statistics are buffers, so they travel with the model.

    Shapes: ``(B, C, H, W) → (B, C, H, W)``.

    Example:
        >>> s = Standardize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
        >>> s(torch.full((1, 3, 2, 2), 0.75))[0, :, 0, 0].tolist()
        [1.0, 1.0, 1.0]
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
        std_t = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
        if mean_t.shape != std_t.shape:
            raise InputError(f"Standardize: mean {tuple(mean_t.shape)} and std {tuple(std_t.shape)} differ")
        if not bool((std_t > 0).all()):
            raise InputError(f"Standardize: std must be > 0, got {std_t.flatten().tolist()}")
        self.register_buffer("mean", mean_t)
        self.register_buffer("std", std_t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def standardized(net: nn.Module, mean: Sequence[float], std: Sequence[float]) -> nn.Sequential:
    """``nn.Sequential(Standardize(mean, std), net)``: a model that takes ``[0, 1]`` RGB."""
    return nn.Sequential(Standardize(mean, std), net)


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Conv blocks at full res, /2 (strided), /2, /4 → global average+max pool → linear.

    The first 3×3 convolution sees every pixel at full resolution and the second downsamples with a
    learned stride, so pixel-level ISP differences reach the features. Runs in channels-last layout
    (~30 % faster on CPU for these narrow layers).

    Shapes: ``(B, 3, H, W) → (B, n_classes)``.
    """

    def __init__(self, n_classes: int, widths: Sequence[int] = SMALL_CNN_WIDTHS):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.features = nn.Sequential(
            _conv_bn_relu(3, w0),
            _conv_bn_relu(w0, w1, stride=2),
            _conv_bn_relu(w1, w2),
            nn.MaxPool2d(2),
            _conv_bn_relu(w2, w3),
        )
        self.head = nn.Linear(2 * w3, n_classes)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x.contiguous(memory_format=torch.channels_last))
        pooled = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)
        return self.head(pooled)


class SmallUNet(nn.Module):
    """Three-level U-Net (full, /2, /4) with a light full-resolution decoder; one output channel.

    Encoder: conv block at full res, strided blocks to /2 and /4. Decoder: a block at /2 on
    ``[up(e2), e1]``, projected (1×1) and upsampled onto the full-res encoder features (additive
    skip), then a 3×3 output convolution — a full-res decoder block would double the cost.
    Channels-last layout as :class:`SmallCNN`.

    Shapes: ``(B, 3, H, W) → (B, 1, H, W)``; ``H`` and ``W`` must be divisible by 4.
    """

    def __init__(self, widths: Sequence[int] = SMALL_UNET_WIDTHS):
        super().__init__()
        w0, w1, w2 = widths
        self.enc0 = _conv_bn_relu(3, w0)
        self.enc1 = _conv_bn_relu(w0, w1, stride=2)
        self.enc2 = _conv_bn_relu(w1, w2, stride=2)
        self.dec1 = _conv_bn_relu(w2 + w1, w1)
        self.project0 = nn.Conv2d(w1, w0, 1)
        self.out = nn.Conv2d(w0, 1, 3, padding=1)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise InputError(f"small_unet needs H and W divisible by 4, got {tuple(x.shape[-2:])}")
        up = nn.functional.interpolate
        e0 = self.enc0(x.contiguous(memory_format=torch.channels_last))
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        d1 = self.dec1(torch.cat([up(e2, scale_factor=2.0, mode="nearest"), e1], dim=1))
        d0 = torch.relu(up(self.project0(d1), scale_factor=2.0, mode="nearest") + e0)
        return self.out(d0)


def _split_arch(arch: str) -> tuple[str, str | None]:
    base, _, option = str(arch).partition(":")
    return base.strip().lower(), (option.strip() or None)


def _build_resnet(base: str, n_classes: int) -> nn.Module:
    import torchvision

    net = getattr(torchvision.models, base)(weights=None)
    net.fc = nn.Linear(net.fc.in_features, n_classes)  # correct width for every depth
    return net


def _build_unetplusplus(encoder: str) -> nn.Module:
    import segmentation_models_pytorch as smp

    try:
        return smp.UnetPlusPlus(encoder_name=encoder, encoder_weights=None, in_channels=3, classes=1, activation=None)
    except (KeyError, ValueError) as exc:
        raise InputError(f"unknown unetplusplus encoder {encoder!r} in option 'arch'") from exc


def _head_prefixes(net: nn.Module) -> tuple[str, ...]:
    """State-dict key prefixes of the task head (allowed to differ when loading pretrained weights)."""
    if isinstance(net, SmallCNN):
        return ("head.",)
    if hasattr(net, "fc") and isinstance(net.fc, nn.Linear):
        return ("fc.",)
    if hasattr(net, "segmentation_head"):
        return ("segmentation_head.",)
    return ()


def load_pretrained(net: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a local state dict into ``net`` in place.

    Accepts a plain state dict, a dict with a ``"state_dict"`` entry (a lens2logit checkpoint),
    or — for smp models — a state dict of the encoder alone. Keys must match exactly; only the task
    head may differ in *shape* (e.g. ImageNet weights with a 1000-class fc), in which case it keeps
    its fresh initialisation.
    """
    state = load_torch(path, "pretrained weights file")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(f"pretrained weights {path} hold no state dict")
    target = net
    own = net.state_dict()
    encoder = getattr(net, "encoder", None)
    if (
        encoder is not None
        and not (set(state) & set(own))
        and set(state) <= set(encoder.state_dict()) | {"fc.weight", "fc.bias"}
    ):
        target, own = encoder, encoder.state_dict()
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    heads = _head_prefixes(target)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise InputError(
            f"pretrained weights {path} do not match the model: missing keys {missing[:5]}, unexpected keys {unexpected[:5]}"
        )
    filtered = {}
    for key, value in state.items():
        if tuple(value.shape) != tuple(own[key].shape):
            if key.startswith(heads):
                continue
            raise InputError(
                f"pretrained weights {path}: key {key!r} has shape {tuple(value.shape)}, model expects {tuple(own[key].shape)}"
            )
        filtered[key] = value
    target.load_state_dict(filtered, strict=False)
    return net


def build_model(arch: str, task: str, n_classes: int, *, pretrained: str | os.PathLike | None = None) -> nn.Module:
    """Build a task network (without input standardisation; see :func:`standardized`).

    Args:
        arch: ``small_cnn``, ``resnet18``, ``resnet34``, ``resnet50`` (classification) or
            ``small_unet``, ``unetplusplus[:<smp encoder>]`` (segmentation).
        task: ``"classification"`` or ``"segmentation"``.
        n_classes: number of classes (classification); segmentation nets always have one logit channel.
        pretrained: optional path of a local state dict (see :func:`load_pretrained`).

    Returns:
        ``nn.Module``: ``(B, 3, H, W) → (B, n_classes)`` or ``(B, 1, H, W)`` logits.

    Example:
        >>> build_model("small_cnn", "classification", 4)(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 4])
    """
    if task not in TASKS:
        raise InputError(f"unknown task {task!r} (option 'task'); expected one of {TASKS}")
    base, option = _split_arch(arch)
    allowed = CLASSIFICATION_ARCHS if task == "classification" else SEGMENTATION_ARCHS
    if base not in allowed:
        raise InputError(f"unknown arch {arch!r} for task {task!r} (option 'arch'); expected one of {allowed}")
    if option is not None and base != "unetplusplus":
        raise InputError(f"arch {arch!r} takes no ':' option (option 'arch')")
    if task == "classification" and (not isinstance(n_classes, int) or n_classes < 2):
        raise InputError(f"classification needs n_classes >= 2, got {n_classes!r}")
    if base == "small_cnn":
        net = SmallCNN(n_classes)
    elif base.startswith("resnet"):
        net = _build_resnet(base, n_classes)
    elif base == "small_unet":
        net = SmallUNet()
    else:
        net = _build_unetplusplus(option or DEFAULT_UNETPP_ENCODER)
    if pretrained is not None:
        load_pretrained(net, pretrained)
    return net
