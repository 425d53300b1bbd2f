"""Drift-robust regime isp_random (issue 20 item 2): draws, ranges, leave-one-view-out, training, plan."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isp_task_helpers import write_dataset
from lens2logit.robust.isp_random import (
    SHARPENING_MIX,
    TWIN_DEMOSAICERS,
    draw_isp_settings,
    isp_random_ranges,
    median_equivalent_sigma,
    median_noise_gain,
    render_drawn,
    train_on_random_isp,
)
from lens2logit.isp.camera import DRONE
from lens2logit.isp.color import SMALLEST_NORMAL
from lens2logit.isp.filters import DENOISE_GAUSSIAN_SIGMA
from lens2logit.isp.parametrized import ParametrizedISP
from lens2logit.isp.views import VIEWS, get_view

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _lovo(held: str):
    return isp_random_ranges([v for v in VIEWS if v != held], held)


def test_draw_is_a_pure_function_of_seed_epoch_and_sample():
    ranges = isp_random_ranges(VIEWS)
    a = draw_isp_settings(ranges, 5, seed=1, epoch=0)
    assert a == draw_isp_settings(ranges, 5, seed=1, epoch=0)
    for other in (dict(sample=6, seed=1, epoch=0), dict(sample=5, seed=1, epoch=1), dict(sample=5, seed=2, epoch=0)):
        b = draw_isp_settings(ranges, other.pop("sample"), **other)
        assert (b["sharpening"], b["blur_sigma"]) != (a["sharpening"], a["blur_sigma"])


def test_every_drawn_parameter_lies_in_its_documented_range():
    sigma_median = median_equivalent_sigma()
    full = isp_random_ranges(VIEWS)  # all 12 views: the hull of the static settings
    assert full.demosaicers == TWIN_DEMOSAICERS
    assert full.sharpening == (0.0, 1.0) and full.blur_sigma == pytest.approx((DENOISE_GAUSSIAN_SIGMA, sigma_median))
    for held in (None, *VIEWS):
        ranges = full if held is None else _lovo(held)
        draws = [draw_isp_settings(ranges, i, seed=3, epoch=e) for i in range(200) for e in range(3)]
        t = np.array([d["sharpening"] for d in draws])
        s = np.array([d["blur_sigma"] for d in draws])
        assert {d["demosaic"] for d in draws} == set(ranges.demosaicers)
        assert t.min() >= ranges.sharpening[0] and t.max() <= ranges.sharpening[1]
        assert s.min() >= ranges.blur_sigma[0] and s.max() <= ranges.blur_sigma[1]
        # uniform over the range: 600 draws spread over most of it
        assert np.ptp(t) > 0.9 * np.diff(ranges.sharpening)[0] and np.ptp(s) > 0.9 * np.diff(ranges.blur_sigma)[0]


def test_median_stand_in_has_the_median_noise_gain():
    """Var of the median of 9 N(0, 1) samples is 0.1661 (tabulated order statistics); its Gaussian stand-in is wider than σ 0.5."""
    assert median_noise_gain() == pytest.approx(0.1661, abs=2e-4)
    assert 0.5 < median_equivalent_sigma() < 1.0


@pytest.mark.parametrize("held", VIEWS)
def test_leave_one_view_out_excludes_the_held_out_settings_where_the_twin_can(held):
    spec = get_view(held)
    ranges = _lovo(held)
    t_held = SHARPENING_MIX[spec.sharpen]
    sigma_held = DENOISE_GAUSSIAN_SIGMA if spec.denoise == "gaussian_denoising" else median_equivalent_sigma()
    assert not ranges.sharpening[0] <= t_held <= ranges.sharpening[1]
    assert not ranges.blur_sigma[0] <= sigma_held <= ranges.blur_sigma[1]
    assert spec.demosaic not in ranges.demosaicers
    # the other setting of each group is kept: the range reaches it
    assert (1.0 - t_held) in ranges.sharpening
    if spec.demosaic == "menon2007":  # no twin: it cannot be excluded, both twin demosaicers are drawn
        assert ranges.demosaicers == TWIN_DEMOSAICERS


def test_twin_at_a_static_setting_renders_that_view():
    """The draw's end points are the static views: t = 1, σ = 0.5, bilinear is bi,s,ga (borders aside)."""
    from isp_task_helpers import make_scenes
    from lens2logit.isp import render

    raw, _ = make_scenes("classification", 2, 32, 0)
    isps = {"bilinear": ParametrizedISP(DRONE, demosaic="bilinear", gamma_floor=SMALLEST_NORMAL)}
    ours = render_drawn(raw, np.arange(2), [{"demosaic": "bilinear", "sharpening": 1.0, "blur_sigma": 0.5}] * 2, isps)
    static = render(torch.from_numpy(raw), "bi,s,ga", DRONE).numpy()
    assert np.abs(ours - static)[..., 4:-4, 4:-4].max() < 1e-4


def test_tiny_training_run_writes_a_checkpoint_with_the_regime(tmp_path):
    from lens2logit.training import read_checkpoint, save_checkpoint

    paths = write_dataset(tmp_path, "classification", n=24, size=16)
    held = "bi,s,ga"
    kept = [v for v in VIEWS if v != held]
    ckpt = train_on_random_isp(paths["raw"], paths["targets"], paths["meta"], paths["folds"], 0, kept, held_out=held,
                               device="cpu", kind="classification", arch="small_cnn", epochs=2, batch_size=4, lr=1e-3,
                               augmentation="weak", seed=5, classes=["horizontal", "vertical"], progress=False)
    save_checkpoint(tmp_path / "m.pt", ckpt)
    back = read_checkpoint(tmp_path / "m.pt")
    assert back["regime"] == "isp_random" and back["held_out"] == held and held not in back["train_views"]
    assert back["config"]["regime"] == "isp_random" and back["config"]["image_shape"] == [3, 16, 16]
    record = back["sample_settings"]
    assert len(record) == 2 and all(len(r) == len(back["train_indices"]) for r in record)
    assert all(s["demosaic"] == "malvar2004" and s["sharpening"] <= 0.5 for epoch in record for s in epoch)
    assert record[0] != record[1]  # redrawn every epoch
    assert len(back["mean"]) == 3 and all(np.isfinite(back["mean"]))


def test_workflow_plans_isp_random_with_raw_inputs(tmp_path):
    import re

    from conftest import copy_workflow, snakemake

    wf = copy_workflow(tmp_path)
    out = snakemake(wf, "-n", "--config", "robust={enabled: true, regime: isp_random, datasets: [microscopy], folds: 1}")
    text = out.stdout + out.stderr
    counts = dict(re.findall(r"^(train_robust|aggregate_robust)\s+(\d+)$", text, re.M))
    assert counts == {"train_robust": "1", "aggregate_robust": "1"}
    jobs = [block for block in text.split("\n\n") if "rule train_robust:" in block]
    assert len(jobs) == 1
    inputs = re.search(r"input: (.*)", jobs[0]).group(1)
    assert "results/data/microscopy/100/raw.npy" in inputs  # the mosaics, rendered in the job
    assert inputs.count("results/views/") == 3  # the 3 views, scored
