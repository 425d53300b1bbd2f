"""Task networks: classifiers and segmenters, plus the input standardisation they carry.

Archs (``build_model(arch, kind, n_classes)``), the paper's families first:

* classification: ``resnet18``, ``resnet34``, ``resnet50`` (torchvision, paper width, random init, head
  sized from the backbone — the original gave ResNet-50 a 512-wide head, reference-spec §6 item 22);
  ``resnet18:<w>`` / ``resnet34:<w>`` — the same ResNet with base width ``w`` instead of 64 (stage
  widths w, 2w, 4w, 8w; the stride-4 stem, 7×7 stride-2 convolution + 3×3 stride-2 max-pool, before
  the first block; ``resnet18:64`` has torchvision's layers and state-dict keys). The embedded
  default is ``resnet18:16``, a quarter-width ResNet-18 that trains at CPU speed.
* segmentation: ``unet:<encoder>[:<w>]`` and ``unetplusplus:<encoder>[:<w>]`` (smp ``Unet`` /
  ``UnetPlusPlus``, ``encoder_weights=None``, one output channel). ``<encoder>`` is any smp encoder
  name; ``resnet18`` / ``resnet34`` with a width ``w`` is the narrow ResNet above as an smp encoder,
  and the decoder channels are smp's defaults (256, 128, 64, 32, 16) scaled by ``w / 64``. The
  embedded default is ``unet:resnet18:16``; the paper used ``unetplusplus:resnet34``.
* ``small_cnn`` and ``small_unet``: tiny networks for unit tests and smoke runs only. They are not
  the paper's family and not a default; never use them to judge ISP drift.

Pretrained weights come from a local state-dict file only (never a hub download). torchvision and
smp are imported lazily.
"""

from __future__ import annotations

import os
from typing import Sequence

import torch
from torch import nn

from lens2logit.data.dataset import KINDS
from lens2logit.architectures import CLASSIFICATION_ARCHS, DEFAULT_UNET_ENCODER, RESNET_LAYERS, SEGMENTATION_ARCHS
from lens2logit.errors import InputError
from lens2logit.io import load_torch

PAPER_WIDTH = 64  # base width of torchvision's ResNets
SMP_DECODER_CHANNELS = (256, 128, 64, 32, 16)  # smp's default U-Net decoder, scaled with the encoder width
MIN_DECODER_CHANNELS = 4
# Channel widths of the tiny test archs.
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


class NarrowResNet(nn.Module):
    """A torchvision-style BasicBlock ResNet with base width ``width`` (torchvision: 64).

    Stem: 7×7 stride-2 convolution, batch norm, ReLU, 3×3 stride-2 max-pool (the input reaches the
    first block at 1/4 resolution, as in the paper's ResNet-18); four stages of
    :class:`torchvision.models.resnet.BasicBlock` with widths ``w, 2w, 4w, 8w`` (strides 1, 2, 2, 2);
    global average pool; linear head ``fc``. Module names and initialisation follow torchvision, so
    ``NarrowResNet(n, (2, 2, 2, 2), 64)`` loads a torchvision ``resnet18`` state dict. Runs in
    channels-last layout (faster on CPU for narrow layers).

    Shapes: ``(B, 3, H, W) → (B, n_classes)``; without ``n_classes`` (encoder use) there is no ``fc``.

    Example:
        >>> NarrowResNet(9, (2, 2, 2, 2), 16)(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 9])
    """

    def __init__(self, n_classes: int | None, layers: Sequence[int], width: int):
        from torchvision.models.resnet import BasicBlock

        super().__init__()
        widths = [width * 2**i for i in range(4)]
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        c_in = width
        for i, (c_out, blocks) in enumerate(zip(widths, layers)):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or c_in != c_out:
                down = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
            stage = [BasicBlock(c_in, c_out, stride, down)] + [BasicBlock(c_out, c_out) for _ in range(blocks - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            c_in = c_out
        self.widths = tuple(widths)
        if n_classes is not None:
            self.fc = nn.Linear(c_in, n_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)
        self.to(memory_format=torch.channels_last)

    def stages(self, x: torch.Tensor, depth: int = 5) -> list[torch.Tensor]:
        """Features after the stem convolution (/2) and after each of the first ``depth − 1`` stages."""
        x = self.relu(self.bn1(self.conv1(x.contiguous(memory_format=torch.channels_last))))
        features = [x]
        x = self.maxpool(x)
        for i in range(1, depth):
            x = getattr(self, f"layer{i}")(x)
            features.append(x)
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.stages(x)[-1].mean(dim=(2, 3)))


def _narrow_encoder_class():
    """An smp encoder (``EncoderMixin``) made of :class:`NarrowResNet` (class built on first use)."""
    from segmentation_models_pytorch.encoders._base import EncoderMixin

    class NarrowResNetEncoder(NarrowResNet, EncoderMixin):
        def __init__(self, out_channels, depth: int = 5, output_stride: int = 32, *, layers, width):
            NarrowResNet.__init__(self, None, layers, width)
            self._depth, self._in_channels, self._out_channels, self._output_stride = depth, 3, out_channels, output_stride

        def get_stages(self):
            return {16: [self.layer3], 32: [self.layer4]}

        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            return [x, *self.stages(x, self._depth)]

    return NarrowResNetEncoder


def _register_narrow_encoder(base: str, width: int) -> str:
    """Register ``base`` (resnet18/34) at ``width`` in smp's encoder table; return its smp name."""
    from segmentation_models_pytorch.encoders import encoders

    name = f"lens2logit-{base}-w{width}"
    if name not in encoders:
        encoders[name] = {
            "encoder": _narrow_encoder_class(),
            "pretrained_settings": {},
            "params": {"out_channels": [3] + [width * 2**i for i in (0, 0, 1, 2, 3)],
                       "layers": RESNET_LAYERS[base], "width": width},
        }  # fmt: skip
    return name


class SmallCNN(nn.Module):
    """Tiny test network (not the paper's family, not a default): conv at full res, /2, /2, /4 → pool → linear.

    Meant for fast unit tests and smoke runs; channels-last layout.

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
    """Tiny test U-Net (not the paper's family, not a default): levels full, /2, /4; one output channel.

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


def _split_arch(arch: str) -> tuple[str, list[str]]:
    base, *options = [part.strip() for part in str(arch).split(":")]
    return base.lower(), options


def _parse_width(arch: str, text: str) -> int:
    if not text.isdigit() or int(text) < 4 or int(text) % 4:
        raise InputError(f"arch {arch!r}: width {text!r} must be a multiple of 4 (option 'arch', e.g. 'resnet18:16')")
    return int(text)


def _build_resnet(arch: str, base: str, options: list[str], n_classes: int) -> nn.Module:
    if options:
        if len(options) != 1 or base not in RESNET_LAYERS:
            raise InputError(f"arch {arch!r}: only resnet18/resnet34 take a width, as 'resnet18:16' (option 'arch')")
        return NarrowResNet(n_classes, RESNET_LAYERS[base], _parse_width(arch, options[0]))
    import torchvision

    net = getattr(torchvision.models, base)(weights=None)
    net.fc = nn.Linear(net.fc.in_features, n_classes)  # correct width for every depth
    return net


def _build_smp(arch: str, base: str, options: list[str]) -> nn.Module:
    import segmentation_models_pytorch as smp

    if len(options) > 2:
        raise InputError(f"arch {arch!r}: expected '{base}:<encoder>[:<width>]' (option 'arch')")
    encoder = options[0] if options else DEFAULT_UNET_ENCODER
    kwargs = {}
    if len(options) == 2:
        if encoder not in RESNET_LAYERS:
            raise InputError(f"arch {arch!r}: only the resnet18/resnet34 encoders take a width (option 'arch')")
        width = _parse_width(arch, options[1])
        encoder = _register_narrow_encoder(encoder, width)
        kwargs["decoder_channels"] = [max(MIN_DECODER_CHANNELS, c * width // PAPER_WIDTH) for c in SMP_DECODER_CHANNELS]
    model = smp.Unet if base == "unet" else smp.UnetPlusPlus
    try:
        net = model(encoder_name=encoder, encoder_weights=None, in_channels=3, classes=1, activation=None, **kwargs)
    except (KeyError, ValueError) as exc:
        raise InputError(f"unknown {base} encoder {encoder!r} in option 'arch'") from exc
    return net.to(memory_format=torch.channels_last)


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


def build_model(arch: str, kind: str, n_classes: int, *, pretrained: str | os.PathLike | None = None) -> nn.Module:
    """Build a task network (without input standardisation; see :func:`standardized`).

    Args:
        arch: ``resnet18[:<width>]``, ``resnet34[:<width>]``, ``resnet50``, ``small_cnn``
            (classification) or ``unet[:<encoder>[:<width>]]``, ``unetplusplus[:<encoder>[:<width>]]``,
            ``small_unet`` (segmentation); see the module docstring.
        kind: ``"classification"`` or ``"segmentation"``.
        n_classes: number of classes (classification); segmentation nets always have one logit channel.
        pretrained: optional path of a local state dict (see :func:`load_pretrained`).

    Returns:
        ``nn.Module``: ``(B, 3, H, W) → (B, n_classes)`` or ``(B, 1, H, W)`` logits.

    Example:
        >>> build_model("resnet18:16", "classification", 4)(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 4])
    """
    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r} (option 'kind'); expected one of {KINDS}")
    base, options = _split_arch(arch)
    allowed = CLASSIFICATION_ARCHS if kind == "classification" else SEGMENTATION_ARCHS
    if base not in allowed:
        raise InputError(f"unknown arch {arch!r} for kind {kind!r} (option 'arch'); expected one of {allowed}")
    if options and base in ("small_cnn", "small_unet", "resnet50"):
        raise InputError(f"arch {arch!r} takes no ':' option (option 'arch')")
    if kind == "classification" and (not isinstance(n_classes, int) or n_classes < 2):
        raise InputError(f"classification needs n_classes >= 2, got {n_classes!r}")
    if base == "small_cnn":
        net = SmallCNN(n_classes)
    elif base.startswith("resnet"):
        net = _build_resnet(arch, base, options, n_classes)
    elif base == "small_unet":
        net = SmallUNet()
    else:
        net = _build_smp(arch, base, options)
    if pretrained is not None:
        load_pretrained(net, pretrained)
    return net
