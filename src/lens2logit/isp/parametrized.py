"""The differentiable ISP: the static view ``bi,s,ga`` (or ``ma,s,ga``) with learnable constants.

It runs the static ISP's own composition of step functions
(:func:`~lens2logit.isp.pipeline.run_steps`, the same stages :data:`STAGES`), with the constants
(reference-spec §2.4) passed in as ``nn.Parameter`` groups:

=====================  ===============  ==================================================
group                  shape            initial value
=====================  ===============  ==================================================
``black_level``        (4,)             camera black level (sites R, G1, G2, B)
``white_balance``      (3,)             camera white balance
``colour_correction``  (3, 3)           camera colour matrix
``gamma``              ()               2.2
``demosaic``           (3, 3, 3, 3)     bilinear kernels on the diagonal (3→3 convolution)
                       (3, 4, 5, 5)     or Malvar 2004: one 5×5 filter per output colour and CFA site
``sharpening``         (3, 3)           sharpening kernel, on luma
``blur``               (5, 5)           Gaussian σ 0.5, on luma (the denoising step)
``additive``           (3, H, W)        zeros, optional, sized to the input
=====================  ===============  ==================================================

Initialised from a camera profile its output equals the static view, borders included (the step
functions pad as the static pipeline does), except that it clips at the paper's 1e-5 before the
power law (reference-spec §2.3, step 7; ``gamma_floor``) where the static views clip at the smallest
normal float: linear values below 1e-5 give 1e-5^(1/2.2) ≈ 0.0054 instead of ≤ 0.0054, and the
derivative of the power law stays ≤ ≈ 240 instead of reaching ≈ 1e20 just above black.
Fixed against the paper code: no BatchNorm inside the ISP (reference-spec §6, 20/21; customization
can add one after it, option ``batchnorm``), additive layer sized to the input (23).

The processor's parameters are every group but ``additive``: ``select_groups("all")`` returns those
(the paper's ``all``; its additive layer came only with its own flag).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from lens2logit.errors import InputError
from lens2logit.isp.camera import CameraProfile, get_camera
from lens2logit.isp.cfa import BayerPattern
from lens2logit.isp.color import GAMMA, PAPER_GAMMA_FLOOR
from lens2logit.isp.demosaic import DEMOSAIC_WEIGHTS, DEMOSAICERS
from lens2logit.isp.filters import K_SHARP, gaussian_blur_luma, gaussian_kernel2d, sharpen_luma
from lens2logit.isp.pipeline import STAGES, run_steps  # noqa: F401  (STAGES: the stage names of forward)

GROUPS: tuple[str, ...] = (
    "black_level",
    "white_balance",
    "colour_correction",
    "gamma",
    "demosaic",
    "sharpening",
    "blur",
    "additive",
)
"""Names of the learnable parameter groups, in pipeline order."""

ALL = "all"
ADDITIVE = "additive"
PROCESSOR_GROUPS: tuple[str, ...] = tuple(g for g in GROUPS if g != ADDITIVE)
"""The processor's own parameter groups: what ``all`` selects (the additive image is not one of them)."""

ADDITIVE_STAGE = "additive"
"""Stage after :data:`STAGES` returned by ``forward(..., return_stages=True)`` when the ISP has an additive layer."""


def _inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class ParametrizedISP(nn.Module):
    """Differentiable twin of the static views ``bi,s,ga`` / ``ma,s,ga`` with learnable constants.

    Args:
        camera: profile name or :class:`CameraProfile` (initial constants and Bayer layout).
        demosaic: ``"bilinear"`` (3→3 3×3 convolution) or ``"malvar2004"`` (per-site 5×5 filters).
        additive_size: ``(H, W)`` to add a learnable additive image after gamma; ``None`` for none.
        constrain: if True, gamma is kept positive through a softplus and every kernel is
            rescaled to keep its initial sum (DC gain). Off by default (paper behaviour).
        gamma_floor: lower clip before the power law (the paper's 1e-5 by default; the static
            views' :data:`~lens2logit.isp.color.SMALLEST_NORMAL` reproduces them bit for bit).

    Shape:
        ``(N, H, W)`` mosaic in [0, 1] → ``(N, 3, H, W)`` RGB (in [0, 1] without additive layer).

    Example:
        >>> isp = ParametrizedISP("drone")
        >>> isp(torch.rand(2, 16, 16)).shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(
        self,
        camera: "str | CameraProfile",
        *,
        demosaic: str = "bilinear",
        additive_size: tuple[int, int] | None = None,
        constrain: bool = False,
        gamma_floor: float = PAPER_GAMMA_FLOOR,
    ) -> None:
        super().__init__()
        profile = get_camera(camera)
        if demosaic not in DEMOSAIC_WEIGHTS:
            raise InputError(f"demosaic must be one of {tuple(DEMOSAIC_WEIGHTS)}, got {demosaic!r}")
        self.camera_name = profile.name
        self.pattern = BayerPattern.parse(profile.pattern)
        self.demosaic_method = demosaic
        self.constrain = constrain
        if not 0 < gamma_floor < 1:
            raise InputError(f"gamma_floor must lie in (0, 1), got {gamma_floor!r}")
        self.gamma_floor = float(gamma_floor)

        self.black_level = nn.Parameter(torch.tensor(profile.black_level, dtype=torch.float32))
        self.white_balance = nn.Parameter(torch.tensor(profile.white_balance, dtype=torch.float32))
        self.colour_correction = nn.Parameter(torch.tensor(profile.colour_matrix, dtype=torch.float32))
        gamma0 = _inverse_softplus(GAMMA) if constrain else GAMMA
        self.gamma = nn.Parameter(torch.tensor(gamma0, dtype=torch.float32))
        demosaic_weight = DEMOSAIC_WEIGHTS[demosaic]()
        self.demosaic = nn.Parameter(demosaic_weight)
        self.sharpening = nn.Parameter(torch.as_tensor(K_SHARP, dtype=torch.float32).clone())
        self.blur = nn.Parameter(gaussian_kernel2d())
        if additive_size is not None:
            if len(additive_size) != 2 or min(additive_size) < 1:
                raise InputError(f"additive_size must be (H, W) with positive entries, got {additive_size!r}")
            self.additive = nn.Parameter(torch.zeros(3, int(additive_size[0]), int(additive_size[1])))
        else:
            self.additive = None
        # Kernel sums at initialisation: the DC gains kept by `constrain`.
        self.register_buffer("demosaic_sum", demosaic_weight.sum(dim=(-1, -2), keepdim=True).clone())
        self.register_buffer("sharpening_sum", self.sharpening.detach().sum().clone())
        self.register_buffer("blur_sum", self.blur.detach().sum().clone())

    # -- effective (constrained) values ---------------------------------------------------
    def gamma_value(self) -> torch.Tensor:
        """Effective gamma exponent (softplus of the parameter when constrained)."""
        return F.softplus(self.gamma) if self.constrain else self.gamma

    def _kernel(self, weight: torch.Tensor, initial_sum: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
        if not self.constrain:
            return weight
        # Keep each kernel's DC gain at its initial value; kernels that start at sum 0 (the bilinear
        # cross-channel taps) are left free.
        keep = initial_sum != 0
        current = torch.where(keep, weight.sum(dim=dims, keepdim=True), torch.ones_like(initial_sum))
        return torch.where(keep, weight * initial_sum / current, weight)

    def effective_parameters(self) -> dict[str, torch.Tensor]:
        """Detached effective values of every group (after constraints), for logging."""
        values = {
            "black_level": self.black_level,
            "white_balance": self.white_balance,
            "colour_correction": self.colour_correction,
            "gamma": self.gamma_value(),
            "demosaic": self._kernel(self.demosaic, self.demosaic_sum, (-1, -2)),
            "sharpening": self._kernel(self.sharpening, self.sharpening_sum, (-1, -2)),
            "blur": self._kernel(self.blur, self.blur_sum, (-1, -2)),
        }
        if self.additive is not None:
            values["additive"] = self.additive
        return {k: v.detach().clone() for k, v in values.items()}

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Learnable parameters by group name (``additive`` only when present)."""
        return {name: [getattr(self, name)] for name in GROUPS if getattr(self, name) is not None}

    def group_names(self, names: "str | list[str] | tuple[str, ...]") -> list[str]:
        """The group names ``names`` stands for: ``"all"`` = :data:`PROCESSOR_GROUPS` (not ``additive``);
        unknown names raise InputError."""
        groups = self.parameter_groups()
        names = [names] if isinstance(names, str) else list(names)
        if names == [ALL]:
            return list(PROCESSOR_GROUPS)
        unknown = [n for n in names if n not in groups]
        if unknown or not names:
            raise InputError(f"unknown parameter group(s) {unknown or names}; expected 'all' or some of {list(groups)}")
        return names

    def select_groups(self, names: "str | list[str] | tuple[str, ...]") -> list[nn.Parameter]:
        """Parameters of the named groups (``"all"``: the processor's, :data:`PROCESSOR_GROUPS`)."""
        groups = self.parameter_groups()
        return [p for n in self.group_names(names) for p in groups[n]]

    # -- forward ----------------------------------------------------------------------
    def forward(self, raw: torch.Tensor, *, return_stages: bool = False):
        """Render RGB from a mosaic.

        Args:
            raw: ``(N, H, W)`` mosaic on the normalised raw scale (DN / 65535).
            return_stages: also return the intermediate image after each step.

        Returns:
            ``(N, 3, H, W)``, or ``(rgb, {stage: tensor})`` with the stages :data:`STAGES` of
            :func:`~lens2logit.isp.pipeline.run_steps` (``black_level`` is the ``(N, H, W)``
            mosaic), then ``"additive"`` if the ISP has that layer.
        """
        if raw.ndim != 3 or not raw.is_floating_point():
            raise InputError(f"raw mosaic must be a float (N, H, W) tensor, got {raw.dtype} {tuple(raw.shape)}")
        n, h, w = raw.shape
        if h % 2 or w % 2 or h < 3 or w < 3:
            raise InputError(f"raw mosaic height and width must be even and ≥ 4, got {(h, w)}")
        if self.additive is not None and tuple(self.additive.shape[-2:]) != (h, w):
            raise InputError(f"additive layer is {tuple(self.additive.shape[-2:])} but the input is {(h, w)}")

        demosaic_weight = self._kernel(self.demosaic, self.demosaic_sum, (-1, -2))
        sharpening = self._kernel(self.sharpening, self.sharpening_sum, (-1, -2))
        blur = self._kernel(self.blur, self.blur_sum, (-1, -2))
        demosaic = DEMOSAICERS[self.demosaic_method]
        stages = run_steps(
            raw,
            self.pattern,
            black_level=self.black_level,
            demosaic=lambda x: demosaic(x, self.pattern, weight=demosaic_weight),
            white_balance=self.white_balance,
            colour_matrix=self.colour_correction,
            sharpen=lambda y: sharpen_luma(y, sharpening),
            denoise=lambda y: gaussian_blur_luma(y, kernel=blur),
            gamma=self.gamma_value(),
            gamma_floor=self.gamma_floor,
        )
        rgb = stages["gamma"]
        if self.additive is not None:
            rgb = rgb + self.additive
            stages[ADDITIVE_STAGE] = rgb
        return (rgb, stages) if return_stages else rgb

    def extra_repr(self) -> str:
        return (f"camera={self.camera_name!r}, pattern={self.pattern.value}, demosaic={self.demosaic_method!r}, "
                f"constrain={self.constrain}, gamma_floor={self.gamma_floor:g}")


def _with_channels(t: torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` → ``(N, 1, H, W)``; ``(N, C, H, W)`` unchanged."""
    return t.unsqueeze(1) if t.ndim == 3 else t


def tap_stages(
    isp: nn.Module,
    model: nn.Module,
    raw: torch.Tensor,
    targets: torch.Tensor,
    loss_fn,
    *,
    gradients: bool = True,
) -> dict[str, dict[str, torch.Tensor]]:
    """Intermediate images of an ISP and (optionally) the task-loss gradient at each of them.

    Gradients are taken with :func:`torch.autograd.grad` with respect to the stage tensors only,
    so no ``.grad`` buffer of the ISP or the model is touched (the paper code leaked them,
    reference-spec §6, 18). Both modules run in eval mode for the tap and are restored after.

    Args:
        isp: a module with ``forward(raw, return_stages=True) -> (rgb, {stage: tensor})``.
        model: task model taking the ISP output.
        raw: ``(N, H, W)`` fixed samples.
        targets: labels ``(N,)`` or masks, as ``loss_fn`` expects.
        loss_fn: ``loss_fn(logits, targets) -> scalar``.

    Returns:
        ``{stage: {"image": (N, C, H, W), "gradient": (N, C, H, W)}}`` in the ISP's stage order
        (detached; ``gradient`` only with ``gradients=True``); single-channel stages (the
        ``(N, H, W)`` mosaic after black level) come back with ``C = 1``.
    """
    modes = (isp.training, model.training)
    isp.eval()
    model.eval()
    try:
        with torch.enable_grad():
            rgb, stages = isp(raw, return_stages=True)
            taps = {name: {"image": _with_channels(t).detach().clone()} for name, t in stages.items()}
            if gradients:
                names = [k for k, t in stages.items() if t.requires_grad]
                loss = loss_fn(model(rgb), targets)
                grads = torch.autograd.grad(loss, [stages[k] for k in names], allow_unused=True)
                for name, grad in zip(names, grads):
                    grad = torch.zeros_like(stages[name]) if grad is None else grad.detach()
                    taps[name]["gradient"] = _with_channels(grad)
    finally:
        isp.train(modes[0])
        model.train(modes[1])
    return taps


class ScaledGroups(nn.Module):
    """Per-group step sizes for a single-learning-rate optimiser: ``θ_group = scale · φ_group``.

    Adam moves each parameter by about ``lr`` per step whatever its gradient, which is far too
    much for constants with a small natural scale (a black level ~0.06 under a 0.0025 signal at
    1 % light). Optimising ``φ = θ / scale`` instead moves ``θ`` by about ``scale · lr``. The
    wrapped ISP's own copies of the scaled groups are frozen; its forward runs with ``θ`` substituted.

    Args:
        isp: a :class:`ParametrizedISP`.
        scales: ``{group: scale}`` for the groups to rescale (others keep their step size).

    Shape:
        as the wrapped ISP; ``forward(raw, return_stages=...)`` is passed through.

    Example:
        >>> wrapped = ScaledGroups(ParametrizedISP("drone"), {"black_level": 0.01})
        >>> wrapped(torch.rand(1, 8, 8)).shape
        torch.Size([1, 3, 8, 8])
    """

    def __init__(self, isp: ParametrizedISP, scales: dict[str, float]) -> None:
        super().__init__()
        groups = isp.parameter_groups()
        for name, scale in scales.items():
            if name not in groups:
                raise InputError(f"cannot rescale unknown parameter group {name!r} (option 'group_lr_scales'); expected some of {list(groups)}")
            if not (scale > 0 and math.isfinite(scale)):
                raise InputError(f"learning-rate scale of {name!r} must be a positive number (option 'group_lr_scales'), got {scale!r}")
        self.isp = isp
        self.scales = {name: float(s) for name, s in scales.items()}
        self.scaled = nn.ParameterDict()
        for name, scale in self.scales.items():
            original = getattr(isp, name)
            original.requires_grad_(False)
            self.scaled[name] = nn.Parameter(original.detach().clone() / scale)

    def effective(self) -> dict[str, torch.Tensor]:
        """The substituted ISP parameters ``{qualified name: scale · φ}``."""
        return {name: self.scaled[name] * scale for name, scale in self.scales.items()}

    def forward(self, raw: torch.Tensor, *, return_stages: bool = False):
        return torch.func.functional_call(self.isp, self.effective(), (raw,), {"return_stages": return_stages}, strict=False)

    def merged(self) -> ParametrizedISP:
        """A copy of the ISP with the learned values written back (for saving or inspection)."""
        isp = copy.deepcopy(self.isp)
        with torch.no_grad():
            for name, value in self.effective().items():
                getattr(isp, name).copy_(value)
        return isp


# Groups that offset a signal rather than scale it: their magnitude is that of the signal they shift.
OFFSET_SIGNALS = {"black_level": "raw", ADDITIVE: "output"}


def rms(t: torch.Tensor) -> float:
    """Root mean square of a tensor (in float64; a parameter's or a signal's magnitude)."""
    return float(t.detach().double().pow(2).mean().sqrt())


def magnitude_scales(isp: ParametrizedISP, names: "list[str] | tuple[str, ...]", *, raw_rms: float, output_rms: float) -> dict[str, float]:
    """Step scale of each named group for :class:`ScaledGroups`: the magnitude of its parameters.

    With ``θ = scale · φ`` and Adam on ``φ``, one step moves ``θ`` by about ``lr · scale``, so
    ``lr`` becomes the fraction of each group's magnitude moved per step and every group gets the
    same relative budget, whatever its units.

    * multiplicative groups (white balance, colour matrix, gamma, kernels): the root mean square
      of their current parameter values (ScaledGroups rescales the parameter itself);
    * offsets (:data:`OFFSET_SIGNALS`): the root mean square of the signal they shift. The black
      level is subtracted from the raw mosaic (``raw_rms``; its own value can be ~1e-5, which
      would freeze it), the additive image is added to the output (``output_rms``; it starts at 0).

    Returns:
        ``{group: scale > 0}``; a group whose magnitude is 0 or not finite raises InputError.
    """
    values = {name: params[0] for name, params in isp.parameter_groups().items()}
    signals = {"raw": raw_rms, "output": output_rms}
    scales = {}
    for name in names:
        scale = float(signals[OFFSET_SIGNALS[name]]) if name in OFFSET_SIGNALS else rms(values[name])
        if not (scale > 0 and math.isfinite(scale)):
            raise InputError(f"parameter group {name!r} has magnitude {scale!r}; cannot scale its step (option 'step_scale')")
        scales[name] = scale
    return scales
