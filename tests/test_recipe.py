"""The training recipe's options (issue 17): the learning-rate schedule of ``fit`` and ``drift.use_folds``."""

from __future__ import annotations

import math
import re
import subprocess

import pytest
import torch
from torch import nn

from lens2logit.workflow.config import check_config

from lens2logit.schema import with_defaults
from lens2logit.errors import InputError
from lens2logit.training.loop import fit

LR = 1e-2


class RecordingAdam(torch.optim.Adam):
    """Adam that records the learning rate of every step it takes."""

    rates: list[float] = []

    def step(self, closure=None):
        RecordingAdam.rates.append(self.param_groups[0]["lr"])
        return super().step(closure)


def _fit_rates(monkeypatch, schedule: str, epochs: int = 3, batches: int = 4) -> list[float]:
    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    RecordingAdam.rates = []
    g = torch.Generator().manual_seed(0)
    data = [(torch.rand(2, 3, 8, 8, generator=g), torch.tensor([0, 1])) for _ in range(batches)]
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    fit(model, data, None, kind="classification", epochs=epochs, lr=LR, seed=0, progress=False, schedule=schedule)
    return list(RecordingAdam.rates)


def test_cosine_schedule_decays_the_rate_to_about_zero_at_the_last_step(monkeypatch):
    rates = _fit_rates(monkeypatch, "cosine")
    assert len(rates) == 3 * 4  # one rate per optimizer step, over every epoch
    assert rates[0] == pytest.approx(LR)
    assert all(later < earlier for earlier, later in zip(rates, rates[1:]))
    total = len(rates)
    assert rates[-1] == pytest.approx(LR * (1 - math.cos(math.pi / total)) / 2, rel=1e-6)
    assert rates[-1] < 0.02 * LR
    assert rates[total // 2] == pytest.approx(LR / 2, rel=1e-6)  # cosine: half the rate half-way


def test_constant_schedule_keeps_the_rate(monkeypatch):
    rates = _fit_rates(monkeypatch, "constant")
    assert rates == [LR] * 12


def test_unknown_schedule_and_unsized_batches_are_refused():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    data = [(torch.rand(2, 3, 4, 4), torch.tensor([0, 1]))]
    with pytest.raises(InputError, match="schedule"):
        fit(model, data, None, kind="classification", epochs=1, lr=LR, seed=0, progress=False, schedule="linear")
    with pytest.raises(InputError, match="len"):
        fit(model, lambda: iter(data), None, kind="classification", epochs=1, lr=LR, seed=0, progress=False, schedule="cosine")


def test_schedule_is_a_training_option_with_the_constant_default():
    from conftest import TEST_CONFIG

    unset = {k: v for k, v in TEST_CONFIG["training"]["classification"].items() if k != "schedule"}
    config = with_defaults({**TEST_CONFIG, "training": {**TEST_CONFIG["training"], "classification": unset}})
    assert config["training"]["classification"]["schedule"] == "constant"  # the schema's default (the paper's)
    bad = {**TEST_CONFIG, "training": {**TEST_CONFIG["training"], "segmentation": {**TEST_CONFIG["training"]["segmentation"], "schedule": "step"}}}
    with pytest.raises(InputError, match="training.segmentation.schedule"):
        with_defaults(bad)


def test_use_folds_above_folds_is_refused_naming_the_option():
    from conftest import TEST_CONFIG

    config = {**TEST_CONFIG, "drift": {**TEST_CONFIG["drift"], "folds": 2, "use_folds": 3}}
    with pytest.raises(InputError, match=r"drift\.use_folds: 3 exceeds drift\.folds \(2\)"):
        check_config(config)


@pytest.mark.slow
def test_use_folds_plans_only_the_first_folds_of_the_split(tmp_path):
    from conftest import SNAKEMAKE, WORKFLOW_ENV, copy_workflow

    workdir = copy_workflow(tmp_path / "wf")
    proc = subprocess.run([str(SNAKEMAKE), "--configfile", "configs/test.yaml", "-n", "--cores", "1", "-p",
                           "--config", "drift={folds: 3, use_folds: 2, augmentations: [weak]}"],
                          cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    models = set(re.findall(r"results/models/\S+?/fold(\d)\.pt", proc.stdout))
    assert models == {"0", "1"}  # fold 2 of 3 is neither trained nor evaluated
    metrics = set(re.findall(r"results/metrics/\S+?/fold(\d)\.csv", proc.stdout))
    assert metrics == {"0", "1"}
    refused = subprocess.run([str(SNAKEMAKE), "--configfile", "configs/test.yaml", "-n", "--cores", "1",
                              "--config", "drift={folds: 2, use_folds: 3, augmentations: [weak]}"],
                             cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert refused.returncode != 0
    assert "config drift.use_folds: 3 exceeds drift.folds (2)" in refused.stdout + refused.stderr


def test_schedule_keyword_defaults_are_the_schemas():
    import inspect

    from lens2logit.schema import schema_default
    from lens2logit.training.train import train_on_view

    for function in (fit, train_on_view):
        default = inspect.signature(function).parameters["schedule"].default
        assert default == schema_default("training.classification.schedule") == schema_default("training.segmentation.schedule")
    assert schema_default("drift.use_folds") is None
