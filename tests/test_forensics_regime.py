"""Forensics and customization in the paper's regime (issue 18): λ units, step scales, `all`, gamma clamp, verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from lens2logit.customization.joint import BATCHNORM_STAGE, BatchNormAfter, build_processor, verdict_table
from lens2logit.forensics.attack import attack_isp, lambda_factor, lambda_from_paper, lambda_to_paper, summarise
from lens2logit.isp.camera import DRONE, MICROSCOPY
from lens2logit.isp.color import SMALLEST_NORMAL
from lens2logit.isp.parametrized import GROUPS, PROCESSOR_GROUPS, ParametrizedISP, ScaledGroups, magnitude_scales

torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------ λ units
def test_lambda_conversion_for_the_papers_batch_and_a_known_one():
    # The paper: an L2 sum over 4 × 3 × 256 × 256 = 786,432 values; ours a mean.
    assert lambda_factor() == 786_432
    assert lambda_from_paper(0.1) == pytest.approx(78_643.2)
    assert lambda_to_paper(78_643.2) == pytest.approx(0.1)
    # A known other batch and size: 2 images of 3 × 8 × 8 → 384 values.
    assert lambda_factor(batch_size=2, height=8, width=8) == 384
    assert lambda_from_paper(0.5, batch_size=2, height=8, width=8) == pytest.approx(192.0)
    assert lambda_to_paper(192.0, batch_size=2, height=8, width=8) == pytest.approx(0.5)
    # 1 − SSIM was a mean in the paper as well: the same number in both units.
    assert lambda_from_paper(0.1, "ssim") == lambda_to_paper(0.1, "ssim") == pytest.approx(0.1)


def test_lambda_conversion_matches_the_sum_it_stands_for():
    """λ_paper · Σ(diff²) over the paper's batch equals λ_ours · mean(diff²) of the same values."""
    g = torch.Generator().manual_seed(0)
    diff = torch.randn(2, 3, 8, 8, generator=g)
    batch = {"batch_size": 2, "height": 8, "width": 8}
    paper = 0.3 * diff.pow(2).sum()
    ours = lambda_from_paper(0.3, **batch) * diff.pow(2).mean()
    assert float(ours) == pytest.approx(float(paper), rel=1e-5)


def test_forensics_table_carries_lambda_in_the_papers_units():
    records = pd.DataFrame([
        {"parameter_group": "none", "lambda": np.nan, "regularizer": "", "fold": 0, "metric": "accuracy", "value": 0.9},
        {"parameter_group": "gamma", "lambda": 78_643.2, "regularizer": "mse", "fold": 0, "metric": "accuracy", "value": 0.5},
        {"parameter_group": "gamma", "lambda": 10.0, "regularizer": "ssim", "fold": 0, "metric": "accuracy", "value": 0.4},
    ])  # fmt: skip
    table = summarise(records).set_index(["parameter_group", "regularizer"])
    assert table.loc[("gamma", "mse"), "lambda_paper"] == pytest.approx(0.1)
    assert table.loc[("gamma", "ssim"), "lambda_paper"] == pytest.approx(10.0)
    assert np.isnan(table.loc[("none", ""), "lambda_paper"])


# ------------------------------------------------------------------------------------ step scales
def _one_adam_step(isp: ParametrizedISP, scaled: bool, lr: float = 0.02) -> dict[str, float]:
    """RMS change of every group after one Adam step on ``Σ_g ⟨θ_g, sign(θ_g⁰)⟩`` (the same direction for all)."""
    initial = {n: p[0].detach().clone() for n, p in isp.parameter_groups().items()}
    directions = {n: torch.where(v >= 0, 1.0, -1.0) for n, v in initial.items()}
    if scaled:
        module = ScaledGroups(isp, magnitude_scales(isp, list(initial), raw_rms=0.3, output_rms=0.8))
        params, values = list(module.scaled.values()), module.effective
    else:
        module, params = isp, [p for ps in isp.parameter_groups().values() for p in ps]
        values = lambda: {n: p[0] for n, p in isp.parameter_groups().items()}  # noqa: E731
    optimizer = torch.optim.Adam(params, lr=lr)
    loss = sum((values()[n] * directions[n]).sum() for n in initial)
    loss.backward()
    optimizer.step()
    after = {n: v.detach() for n, v in values().items()}
    return {n: float((after[n] - initial[n]).pow(2).mean().sqrt()) for n in initial}


def test_magnitude_scaled_steps_move_every_group_by_the_same_fraction():
    isp = ParametrizedISP(MICROSCOPY, additive_size=(8, 8))
    magnitude = {n: float(p[0].detach().pow(2).mean().sqrt()) for n, p in isp.parameter_groups().items()}
    magnitude.update(black_level=0.3, additive=0.8)  # offsets: the signal they shift (raw, output RMS)
    relative = {n: change / magnitude[n] for n, change in _one_adam_step(isp, scaled=True).items()}
    assert set(relative) == set(GROUPS)
    assert max(relative.values()) / min(relative.values()) < 2  # same order for every group
    assert relative["gamma"] == pytest.approx(0.02, rel=0.05)  # lr = the fraction of the magnitude per step
    # Plain Adam moves every parameter by ≈ lr: the black level of 1e-5 by 2000× its size, gamma by 1 %.
    plain = _one_adam_step(ParametrizedISP(MICROSCOPY, additive_size=(8, 8)), scaled=False)
    own = {n: plain[n] / float(p[0].detach().pow(2).mean().sqrt()) for n, p in isp.parameter_groups().items() if n != "additive"}
    assert own["black_level"] > 1000 * own["gamma"]


def test_magnitude_scales_follow_the_documented_rule():
    isp = ParametrizedISP(DRONE, additive_size=(4, 4))
    scales = magnitude_scales(isp, list(GROUPS), raw_rms=0.25, output_rms=0.5)
    assert scales["gamma"] == pytest.approx(2.2)
    assert scales["white_balance"] == pytest.approx(float(torch.tensor(DRONE.white_balance).pow(2).mean().sqrt()))
    assert scales["black_level"] == 0.25 and scales["additive"] == 0.5


# ------------------------------------------------------------------------------------------ groups
def test_all_is_the_processor_and_additive_is_its_own_group():
    isp = ParametrizedISP(DRONE, additive_size=(8, 8))
    assert isp.group_names("all") == list(PROCESSOR_GROUPS) and "additive" not in PROCESSOR_GROUPS
    assert not any(p is isp.additive for p in isp.select_groups("all"))
    assert [p is isp.additive for p in isp.select_groups("additive")] == [True]


def test_attacking_all_leaves_the_additive_image_at_zero():
    g = torch.Generator().manual_seed(1)
    raw = 0.1 + 0.3 * torch.rand(8, 8, 8, generator=g)
    targets = torch.randint(0, 2, (8,), generator=g)
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 2))
    reference = ParametrizedISP(DRONE, additive_size=(8, 8)).eval()
    for group, moves in (("all", False), ("additive", True)):
        adversarial, _ = attack_isp(reference, model, raw, targets, kind="classification", group=group, lam=0.0, regularizer="mse",
                                    steps=2, lr=0.05, batch_size=4, seed=0,
                                    step_scales=magnitude_scales(reference, list(GROUPS), raw_rms=0.3, output_rms=0.7))  # fmt: skip
        assert bool(adversarial.additive.abs().max() > 0) is moves, group
        assert torch.equal(adversarial.gamma, reference.gamma) is moves, group


# ------------------------------------------------------------------------------------- gamma clamp
@pytest.mark.parametrize(("floor", "bounded"), [(None, True), (SMALLEST_NORMAL, False)])
def test_gradient_at_black_pixels_is_bounded_with_the_papers_clamp(floor, bounded):
    """Flat images from exactly 0 to 1e-4 (black level 0): d output / d raw is finite and ≤ 1e5 with
    the paper's 1e-5 clamp (the default); the smallest-float clamp of the static views is not."""
    isp = ParametrizedISP(MICROSCOPY) if floor is None else ParametrizedISP(MICROSCOPY, gamma_floor=floor)
    with torch.no_grad():
        isp.black_level.zero_()
    levels = torch.tensor([0.0, 1e-30, 1e-20, 1e-12, 1e-8, 1e-6, 1e-5, 1e-4])
    raw = levels.reshape(-1, 1, 1).expand(-1, 8, 8).clone().requires_grad_(True)  # one flat image per level
    out = isp(raw)
    (grad_raw,) = torch.autograd.grad(out.sum(), raw)
    assert torch.isfinite(grad_raw).all()
    assert bool(grad_raw.abs().max() <= 1e5) is bounded, float(grad_raw.abs().max())
    if bounded:  # and the parameters' gradients too
        out = isp(raw.detach())
        grads = torch.autograd.grad(out.sum(), [isp.white_balance, isp.colour_correction, isp.gamma])
        assert all(torch.isfinite(gr).all() and gr.abs().max() <= 1e5 for gr in grads)


# ---------------------------------------------------------------------------------- customization
def _curves(static: list[list[float]], learned: list[list[float]]) -> pd.DataFrame:
    """Validation accuracy curves at intensity 1.0: one list of per-epoch values per fold."""
    rows = []
    for processing, folds in (("static", static), ("parametrized", learned)):
        for fold, values in enumerate(folds):
            for epoch, value in enumerate(values, start=1):
                rows.append({"processing": processing, "intensity": 1.0, "epoch": epoch, "fold": fold, "split": "val",
                             "metric": "accuracy", "value": value})  # fmt: skip
    return pd.DataFrame(rows)


FLAT_STATIC = [[0.3, 0.60, 0.60], [0.3, 0.62, 0.63], [0.3, 0.58, 0.58]]


@pytest.mark.parametrize(
    ("learned", "verdict"),
    [
        ([[0.3, 0.80, 0.80], [0.3, 0.83, 0.82], [0.3, 0.79, 0.79]], "learned better"),
        ([[0.3, 0.40, 0.40], [0.3, 0.42, 0.43], [0.3, 0.37, 0.37]], "static better"),
        ([[0.3, 0.70, 0.70], [0.3, 0.52, 0.52], [0.3, 0.61, 0.61]], "cannot tell (90% interval contains 0)"),
        ([[0.3, 0.50, 0.80], [0.3, 0.53, 0.83], [0.3, 0.49, 0.79]], "cannot tell (not converged"),
    ],
)
def test_customization_verdict_on_hand_made_curves(learned, verdict):
    table = verdict_table(_curves(FLAT_STATIC, learned), "accuracy")
    assert len(table) == 1 and table["verdict"].iloc[0].startswith(verdict), table["verdict"].iloc[0]
    row = table.iloc[0]
    assert row["n"] == 3 and row["low"] <= row["difference"] <= row["high"]
    assert row["converged"] == (not verdict.startswith("cannot tell (not"))


def test_customization_verdict_needs_two_folds():
    table = verdict_table(_curves(FLAT_STATIC[:1], [[0.3, 0.9, 0.9]]), "accuracy")
    assert table["verdict"].iloc[0] == "cannot tell (one fold: no interval)" and np.isnan(table["low"].iloc[0])


def test_batchnorm_after_the_isp_normalises_and_keeps_its_stages():
    processor = build_processor("parametrized", DRONE, view="bi,s,ga", neural={}, constrain=False, group_lr_scales={}, batchnorm=True)
    assert isinstance(processor, BatchNormAfter) and not processor.norm.affine
    raw = 0.1 + 0.3 * torch.rand(4, 8, 8, generator=torch.Generator().manual_seed(2))
    out, stages = processor.train()(raw, return_stages=True)
    assert list(stages)[-1] == BATCHNORM_STAGE
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(out.var(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3)


def test_a_saved_isp_keeps_its_batchnorm_statistics(tmp_path):
    from lens2logit.customization.joint import isp_checkpoint, load_isp
    from lens2logit.io import save_torch

    processor = build_processor("parametrized", DRONE, view="bi,s,ga", neural={}, constrain=False, group_lr_scales={"black_level": 0.01}, batchnorm=True)
    processor.train()(0.1 + 0.3 * torch.rand(4, 8, 8, generator=torch.Generator().manual_seed(3)))  # updates the running statistics
    save_torch(tmp_path / "isp.pt", isp_checkpoint("parametrized", processor, DRONE, view="bi,s,ga", neural=None, constrain=False))
    loaded, ckpt = load_isp(tmp_path / "isp.pt")
    assert isinstance(loaded, BatchNormAfter) and ckpt["batchnorm"] is not None
    assert torch.equal(loaded.norm.running_mean, processor.norm.running_mean) and not torch.equal(loaded.norm.running_mean, torch.zeros(3))
    raw = 0.1 + 0.3 * torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.allclose(loaded(raw), processor.eval()(raw), atol=1e-6)


def test_summary_states_the_verdict_per_pair(tmp_path):
    from lens2logit.study.summary import write_summary

    folder = tmp_path / "microscopy"
    folder.mkdir()
    verdict_table(_curves(FLAT_STATIC, [[0.3, 0.80, 0.80], [0.3, 0.83, 0.82], [0.3, 0.79, 0.79]]), "accuracy").to_csv(folder / "verdict.csv", index=False)
    text = write_summary(tmp_path / "summary.md", datasets=["microscopy"], drift=[], customization=[folder / "verdict.csv"], kinds=["classification"])
    assert "### microscopy: learned ISP vs static view" in text and "| learned better |" in text
