"""A learned ISP: a small U-Net that maps a Bayer mosaic to RGB at full resolution.

The paper's ``NNProcessing`` packed the mosaic to half resolution, so its output did not fit
segmentation masks (reference-spec §6, bug 23). Here the mosaic is split into three sparse
colour planes at full resolution (the CFA layout is thus explicit in the input) and the U-Net
keeps the input size: ``(N, H, W) → (N, 3, H, W)``. The planes are divided by their per-image
mean level (an auto-exposure gain), so the network sees one input range at every light
intensity; otherwise the encoder's BatchNorm running statistics, fitted to a few batches, do not
match a 100× darker input. No normalisation layer at the output: the task model carries its
own standardisation.
"""

from __future__ import annotations

import torch
from torch import nn

from lens2logit.errors import InputError
from lens2logit.isp.camera import CameraProfile, get_camera
from lens2logit.isp.cfa import BayerPattern, cfa_masks
from lens2logit.isp.color import apply_black_level

NEURAL_STAGES = ("mosaic", "rgb")
# Floor of the per-image mean level used to normalise the network input (raw scale).
LEVEL_FLOOR = 1e-6


def sparse_planes(raw: torch.Tensor, pattern: BayerPattern | str, black_level: torch.Tensor) -> torch.Tensor:
    """Split a mosaic into R, G, B planes (zeros at the other sites), black level subtracted.

    Args:
        raw: ``(N, H, W)`` mosaic.
        pattern: Bayer layout.
        black_level: ``(4,)`` per CFA site, in the order R, G1 (red row), G2 (blue row), B.

    Returns:
        ``(N, 3, H, W)`` sparse planes: site values minus their black level, 0 elsewhere.

    Example:
        >>> sparse_planes(torch.ones(1, 2, 2), "RGGB", torch.zeros(4))[0, :, 0, 0]
        tensor([1., 0., 0.])
    """
    if raw.ndim != 3:
        raise InputError(f"raw mosaic must be (N, H, W), got shape {tuple(raw.shape)}")
    if raw.shape[-1] % 2 or raw.shape[-2] % 2:
        raise InputError(f"raw mosaic height and width must be even, got {tuple(raw.shape[-2:])}")
    h, w = raw.shape[-2:]
    masks = cfa_masks(pattern, h, w, device=raw.device, dtype=raw.dtype)
    return apply_black_level(raw, black_level, pattern).unsqueeze(1) * masks


def _batch_statistics_only(module: nn.Module) -> None:
    """Make every BatchNorm normalise with the statistics of the current batch, also in eval mode.

    Jointly trained for a few epochs, running statistics lag far behind the moving features and
    the evaluated ISP collapses; batch statistics make train and eval behave alike.
    """
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.track_running_stats = False
            m.running_mean = None
            m.running_var = None


class NeuralISP(nn.Module):
    """Learned ISP: U-Net on the sparse colour planes, sigmoid output in [0, 1].

    Args:
        camera: profile name or :class:`CameraProfile`; gives the Bayer layout and the (fixed)
            black level subtracted before the network.
        encoder: smp encoder name.
        encoder_depth: number of encoder stages; H and W must be multiples of ``2**encoder_depth``.
        decoder_channels: decoder widths, one per encoder stage.

    Shape:
        ``(N, H, W) → (N, 3, H, W)``.

    Example:
        >>> isp = NeuralISP("drone")
        >>> isp(torch.rand(2, 64, 64)).shape
        torch.Size([2, 3, 64, 64])
    """

    def __init__(
        self,
        camera: "str | CameraProfile",
        *,
        encoder: str = "resnet18",
        encoder_depth: int = 3,
        decoder_channels: tuple[int, ...] = (64, 32, 16),
    ) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp  # heavy import, only when a neural ISP is built

        profile = get_camera(camera)
        if len(decoder_channels) != encoder_depth:
            raise InputError(f"decoder_channels needs {encoder_depth} entries (encoder_depth), got {decoder_channels}")
        self.pattern = BayerPattern.parse(profile.pattern)
        self.encoder_depth = encoder_depth
        self.register_buffer("black_level", torch.tensor(profile.black_level, dtype=torch.float32))
        # encoder_weights=None: no network access, no pretrained weights by default.
        try:
            self.unet = smp.Unet(
                encoder_name=encoder,
                encoder_depth=encoder_depth,
                encoder_weights=None,
                decoder_channels=tuple(decoder_channels),
                in_channels=3,
                classes=3,
            )
        except (KeyError, ValueError, RuntimeError) as err:
            raise InputError(f"cannot build the neural ISP with encoder {encoder!r}, depth {encoder_depth}: {err}") from err
        _batch_statistics_only(self.unet)

    def forward(self, raw: torch.Tensor, *, return_stages: bool = False):
        """Render RGB; with ``return_stages`` also return ``{"mosaic": normalised planes, "rgb": output}``."""
        multiple = 2**self.encoder_depth
        if raw.ndim != 3 or raw.shape[-1] % multiple or raw.shape[-2] % multiple:
            raise InputError(
                f"NeuralISP expects (N, H, W) with H, W multiples of {multiple}, got shape {tuple(raw.shape)}"
            )
        planes = sparse_planes(raw, self.pattern, self.black_level.to(raw.dtype))
        level = planes.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(LEVEL_FLOOR) * 3  # 1 of 3 planes is set
        planes = planes / level
        rgb = torch.sigmoid(self.unet(planes))
        if return_stages:
            return rgb, {"mosaic": planes, "rgb": rgb}
        return rgb

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """One group, ``network``, for symmetry with :class:`ParametrizedISP`."""
        return {"network": list(self.parameters())}
