"""The differentiable ISP equals the static views it twins, passes gradcheck, and taps stages honestly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lens2logit.errors import InputError
from lens2logit.isp import render, render_steps
from lens2logit.isp.camera import DRONE, MICROSCOPY, CameraProfile
from lens2logit.isp.cfa import BayerPattern, mosaic
from lens2logit.isp.color import PAPER_GAMMA_FLOOR, SMALLEST_NORMAL
from lens2logit.isp.neural import NeuralISP
from lens2logit.isp.parametrized import GROUPS, STAGES, ParametrizedISP, ScaledGroups, tap_stages

torch.set_num_threads(1)


def _scene_mosaic(camera: CameraProfile, n: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Smooth-plus-texture scenes mosaicked on the camera's raw scale (mostly unclipped output)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, h // 4, w // 4, generator=g)
    smooth = torch.nn.functional.interpolate(base, size=(h, w), mode="bilinear", align_corners=False)
    rgb = 0.15 + 0.5 * smooth + 0.1 * torch.rand(n, 3, h, w, generator=g)
    gain = 0.2 if camera.name == "drone" else 0.3
    return mosaic(rgb * gain, camera.pattern) + torch.tensor(camera.black_level).mean()


@pytest.mark.parametrize("camera", [DRONE, MICROSCOPY], ids=lambda c: c.name)
@pytest.mark.parametrize("pattern", list(BayerPattern), ids=lambda p: p.value)
@pytest.mark.parametrize(("demosaic", "view"), [("bilinear", "bi,s,ga"), ("malvar2004", "ma,s,ga")])
def test_initial_output_equals_static_view_including_borders(camera, pattern, demosaic, view):
    cam = dataclasses.replace(camera, pattern=pattern)
    raw = _scene_mosaic(cam, 2, 16, 20, seed=3)
    static = render(raw, view, cam)
    with torch.no_grad():
        learned = ParametrizedISP(cam, demosaic=demosaic, gamma_floor=SMALLEST_NORMAL)(raw)
        paper_floor = ParametrizedISP(cam, demosaic=demosaic)(raw)
    assert learned.shape == static.shape == (2, 3, 16, 20)
    # Some pixels are clipped (e.g. microscopy's negative red gain): clipping must match too.
    assert torch.allclose(learned, static, atol=2e-5, rtol=0), (learned - static).abs().max()
    # The paper's clip at 1e-5 (the default) lifts only near-black pixels, to 1e-5 ** (1 / 2.2).
    lifted = (paper_floor - static).abs() > 2e-5
    assert (static[lifted] < PAPER_GAMMA_FLOOR ** (1 / 2.2)).all()
    assert torch.allclose(paper_floor[lifted], torch.tensor(PAPER_GAMMA_FLOOR ** (1 / 2.2)), atol=1e-6)


@pytest.mark.parametrize("camera", [DRONE, MICROSCOPY], ids=lambda c: c.name)
@pytest.mark.parametrize(("demosaic", "view"), [("bilinear", "bi,s,ga"), ("malvar2004", "ma,s,ga")])
def test_initial_stages_equal_the_static_steps(camera, demosaic, view):
    """At its initial parameters every stage equals render_steps' stage of the twin view (same
    step functions, same names, same gamma); only the filters' implementation differs (learnable
    kernels as convolutions vs fixed taps), i.e. float32 rounding."""
    raw = _scene_mosaic(camera, 2, 16, 20, seed=7)
    with torch.no_grad():
        _, learned = ParametrizedISP(camera, demosaic=demosaic, gamma_floor=SMALLEST_NORMAL)(raw, return_stages=True)
    static = render_steps(raw, view, camera)
    assert list(learned) == list(static) == list(STAGES)
    for stage in STAGES:
        scale = max(1.0, static[stage].abs().max().item())  # microscopy's intermediates reach ~10
        assert (learned[stage] - static[stage]).abs().max() <= 2e-6 * scale, stage


def test_pattern_matters():
    """A wrong Bayer layout would still pass a test on flat images; this one is not flat."""
    raw = _scene_mosaic(DRONE, 1, 16, 16, seed=1)
    a = ParametrizedISP(DRONE)(raw)
    b = ParametrizedISP(dataclasses.replace(DRONE, pattern=BayerPattern.BGGR))(raw)
    assert (a - b).abs().max() > 1e-2


def test_groups_are_named_parameters_with_paper_shapes():
    isp = ParametrizedISP("drone", additive_size=(12, 20))
    groups = isp.parameter_groups()
    assert tuple(groups) == GROUPS
    shapes = {name: tuple(params[0].shape) for name, params in groups.items()}
    assert shapes == {
        "black_level": (4,), "white_balance": (3,), "colour_correction": (3, 3), "gamma": (),
        "demosaic": (3, 3, 3, 3), "sharpening": (3, 3), "blur": (5, 5), "additive": (3, 12, 20),
    }  # fmt: skip
    assert tuple(ParametrizedISP("drone", demosaic="malvar2004").demosaic.shape) == (3, 4, 5, 5)
    assert "additive" not in ParametrizedISP("drone").parameter_groups()
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in isp.modules())
    assert len(isp.select_groups("all")) == len(GROUPS) - 1  # the processor's groups: not the additive image
    with pytest.raises(InputError, match="unknown parameter group"):
        isp.select_groups(["gamma", "tone_curve"])


def test_additive_layer_is_sized_to_the_input():
    isp = ParametrizedISP("drone", additive_size=(12, 20))
    raw = _scene_mosaic(DRONE, 2, 12, 20, seed=0)
    with torch.no_grad():
        isp.additive.fill_(0.01)
        out, stages = isp(raw, return_stages=True)
    assert torch.allclose(out, stages["gamma"] + 0.01)
    assert list(stages) == [*STAGES, "additive"]
    with pytest.raises(InputError, match="additive layer"):
        isp(_scene_mosaic(DRONE, 1, 16, 16, seed=0))


@pytest.mark.parametrize("demosaic", ["bilinear", "malvar2004"])
def test_gradcheck_raw_and_every_group(demosaic):
    # Mild constants and a dim scene keep every pixel between the clip limits (no kinks), even the
    # corners that the zero-padded sharpening brightens; float64 throughout.
    camera = CameraProfile(
        name="mild", black_level=(0.02, 0.021, 0.019, 0.02), white_balance=(1.1, 1.0, 0.9),
        colour_matrix=((0.9, 0.05, 0.05), (0.05, 0.9, 0.05), (0.05, 0.05, 0.9)), pattern=BayerPattern.GRBG,
    )  # fmt: skip
    isp = ParametrizedISP(camera, demosaic=demosaic, additive_size=(8, 8)).double()
    g = torch.Generator().manual_seed(0)
    raw = (0.12 + 0.02 * torch.rand(1, 8, 8, generator=g, dtype=torch.float64)).requires_grad_(True)
    with torch.no_grad():
        isp.additive.normal_(0, 0.01, generator=g)
        _, stages = isp(raw, return_stages=True)
        assert 0.02 < stages["denoise"].min() and stages["denoise"].max() < 0.98
    names = list(GROUPS)
    params = [getattr(isp, n).detach().clone().requires_grad_(True) for n in names]

    def run(raw_in, *values):
        return torch.func.functional_call(isp, dict(zip(names, values)), (raw_in,))

    assert torch.autograd.gradcheck(run, (raw, *params), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_task_loss_reaches_every_group_and_the_raw_input():
    isp = ParametrizedISP("drone", additive_size=(16, 16))
    raw = _scene_mosaic(DRONE, 2, 16, 16, seed=5).requires_grad_(True)
    head = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    loss = torch.nn.functional.cross_entropy(head(isp(raw)), torch.tensor([1, 3]))
    loss.backward()
    assert raw.grad is not None and raw.grad.abs().sum() > 0
    for name, params in isp.parameter_groups().items():
        assert params[0].grad is not None and params[0].grad.abs().sum() > 0, name


def test_constrained_isp_keeps_gamma_positive_and_kernel_gains():
    isp = ParametrizedISP("drone", constrain=True)
    raw = _scene_mosaic(DRONE, 1, 16, 16, seed=2)
    with torch.no_grad():
        reference = ParametrizedISP("drone")(raw)
        assert torch.allclose(isp(raw), reference, atol=1e-5)  # same start as unconstrained
        isp.gamma.fill_(-3.0)
        for name in ("demosaic", "sharpening", "blur"):
            getattr(isp, name).mul_(1.7).add_(0.01)
    values = isp.effective_parameters()
    assert values["gamma"] > 0
    assert torch.allclose(values["sharpening"].sum(), torch.tensor(1.0), atol=1e-5)
    assert torch.allclose(values["blur"].sum(), torch.tensor(1.0), atol=1e-5)
    # Per output/input channel pair: bilinear diagonal kernels keep sums 4 (R, B) and 2 (G).
    sums = values["demosaic"].sum(dim=(-1, -2))
    assert torch.allclose(sums.diagonal(), torch.tensor([4.0, 2.0, 4.0]), atol=1e-4)
    assert torch.isfinite(isp(raw)).all()


def test_scaled_groups_rescale_the_adam_step():
    raw = _scene_mosaic(DRONE, 2, 16, 16, seed=4)
    isp = ParametrizedISP("drone")
    wrapped = ScaledGroups(isp, {"black_level": 0.01})
    with torch.no_grad():
        assert torch.equal(wrapped(raw), isp(raw))
    trainable = [p for p in wrapped.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=1e-3)
    wrapped(raw).mean().backward()
    opt.step()
    merged = wrapped.merged()
    step_bl = (merged.black_level - torch.tensor(DRONE.black_level)).abs()
    step_wb = (merged.white_balance - torch.tensor(DRONE.white_balance)).abs()
    # Adam's first step is ≈ lr per element; the scaled group moves 100× less.
    assert torch.allclose(step_wb, torch.full((3,), 1e-3), rtol=1e-2)
    assert torch.allclose(step_bl, torch.full((4,), 1e-5), rtol=1e-2)
    with pytest.raises(InputError, match="group_lr_scales"):
        ScaledGroups(ParametrizedISP("drone"), {"exposure": 0.1})


def test_tap_stages_gives_gradients_without_touching_grad_buffers():
    isp = ParametrizedISP("drone")
    head = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    head.train()
    raw = _scene_mosaic(DRONE, 3, 16, 16, seed=6)
    targets = torch.tensor([0, 1, 1])
    running = head[1].running_mean.clone()
    taps = tap_stages(isp, head, raw, targets, torch.nn.functional.cross_entropy)
    assert list(taps) == list(STAGES)
    assert all(set(t) == {"image", "gradient"} for t in taps.values())
    assert all(p.grad is None for p in list(isp.parameters()) + list(head.parameters()))
    assert head.training and torch.equal(head[1].running_mean, running)  # eval during the tap, mode restored
    # The last stage's gradient is the gradient of the loss w.r.t. the ISP output.
    out = isp(raw).detach().requires_grad_(True)
    head.eval()
    (expected,) = torch.autograd.grad(torch.nn.functional.cross_entropy(head(out), targets), out)
    assert torch.allclose(taps["gamma"]["gradient"], expected, atol=1e-6)
    assert taps["sharpen"]["gradient"].abs().sum() > 0


def test_neural_isp_keeps_full_resolution():
    torch.manual_seed(0)
    isp = NeuralISP("microscopy", encoder="resnet18", encoder_depth=3, decoder_channels=(16, 8, 8))
    raw = _scene_mosaic(MICROSCOPY, 2, 64, 48, seed=0).requires_grad_(True)
    out, stages = isp(raw, return_stages=True)
    assert out.shape == (2, 3, 64, 48) and stages["mosaic"].shape == (2, 3, 64, 48)
    assert out.min() >= 0 and out.max() <= 1
    out.mean().backward()
    assert raw.grad.abs().sum() > 0
    isp.eval()
    with torch.no_grad():
        assert torch.equal(isp(raw), isp(raw))
    with pytest.raises(InputError, match="multiples of 8"):
        isp(torch.rand(1, 60, 48))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ParametrizedISP("phone"), "unknown camera"),
        (lambda: ParametrizedISP("drone", demosaic="menon2007"), "demosaic"),
        (lambda: ParametrizedISP("drone")(torch.rand(3, 16)), r"\(N, H, W\)"),
        (lambda: ParametrizedISP("drone")(torch.rand(1, 15, 16)), "even"),
        (lambda: ParametrizedISP("drone", additive_size=(0, 4)), "additive_size"),
    ],
)
def test_bad_input_raises_input_error(build, message):
    with pytest.raises(InputError, match=message):
        build()
