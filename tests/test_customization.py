"""ISP customization on a tiny real dataset: all three processings train, outputs are complete and honest."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from isp_task_helpers import write_dataset
from PIL import Image

from lens2logit.errors import InputError
from lens2logit.customization.joint import (
    CURVE_COLUMNS,
    FINAL_COLUMNS,
    build_processor,
    final_table,
    run_customization,
    train_processing,
)
from lens2logit.customization.options import CustomizationOptions, NeuralOptions, start_model_problems
from lens2logit.data.export import load_dataset_arrays
from lens2logit.training.options import CONTEXT_KEYS
from lens2logit.training.splits import load_folds
from lens2logit.schema import schema_default, section_with_defaults
from lens2logit.isp.camera import DRONE
from lens2logit.isp.neural import NeuralISP
from lens2logit.isp.parametrized import ParametrizedISP, ScaledGroups

torch.set_num_threads(1)
TINY_NEURAL = {"encoder": "resnet18", "encoder_depth": 3, "decoder_channels": [8, 8, 8]}


def cpu_options(**options) -> CustomizationOptions:
    """Options of a test run, on the CPU whatever accelerator the machine has."""
    context = {k: options.pop(k) for k in list(options) if k in CONTEXT_KEYS}
    return CustomizationOptions.from_config(options, arch=options.pop("arch"), **{"device": "cpu", **context})


def _two_intensities(root, kind="classification", n=32, size=16):
    low = write_dataset(root, kind, n=n, size=size, seed=0, intensity_slug="001", scale=0.01)
    mid = write_dataset(root, kind, n=n, size=size, seed=0, intensity_slug="005", scale=0.05)
    return [0.01, 0.05], [low, mid]


def _run(root, intensities, paths, **options):
    out = {"curves_path": root / "out" / "curves.csv", "final_path": root / "out" / "final.csv",
           "figure_path": root / "out" / "figure.png", "stages_dir": root / "out" / "stages"}  # fmt: skip
    defaults = dict(arch="small_cnn", epochs=2, batch_size=8, lr=3e-3, seed=1, folds=2, neural=TINY_NEURAL, stage_samples=2)
    defaults.update(options)
    curves = run_customization(
        intensities, [p["raw"] for p in paths], [p["targets"] for p in paths], [p["meta"] for p in paths],
        [p["view"] for p in paths], paths[0]["folds"], **out, options=cpu_options(**defaults),
    )  # fmt: skip
    return curves, out


def test_all_processings_train_and_write_curves_final_figure_and_stages(tmp_path):
    intensities, paths = _two_intensities(tmp_path)
    curves, out = _run(tmp_path, intensities, paths)
    written = pd.read_csv(out["curves_path"])
    assert list(written.columns) == CURVE_COLUMNS
    assert set(written["processing"]) == {"static", "parametrized", "neural"}
    assert set(written["intensity"]) == {0.01, 0.05}
    assert set(written["epoch"]) == {1, 2} and set(written["fold"]) == {0, 1} and set(written["split"]) == {"train", "val"}
    assert {"loss", "accuracy", "f1"} <= set(written["metric"])
    acc = written[written["metric"] == "accuracy"]["value"]
    assert acc.between(0, 1).all()
    final = pd.read_csv(out["final_path"])
    assert list(final.columns) == FINAL_COLUMNS
    assert len(final[final["metric"] == "accuracy"]) == 3 * 2 and (final["n"] == 2).all()
    # final = last-epoch validation rows averaged over folds
    last = written[(written["split"] == "val") & (written["epoch"] == 2) & (written["metric"] == "accuracy")]
    expected = last.groupby(["processing", "intensity"])["value"].mean()
    for (processing, intensity), value in expected.items():
        row = final[(final["processing"] == processing) & (final["intensity"] == intensity) & (final["metric"] == "accuracy")]
        assert row["mean"].iloc[0] == pytest.approx(value)
    stages = sorted(p.name for p in out["stages_dir"].iterdir())
    assert stages == sorted(f"{proc}_{slug}_epoch{e:03d}.png" for proc in ("parametrized", "neural") for slug in ("001", "005") for e in (1, 2))
    for path in (out["figure_path"], out["stages_dir"] / stages[0]):
        with Image.open(path) as image:
            assert min(image.size) > 100


def test_parametrized_customization_is_deterministic(tmp_path):
    intensities, paths = _two_intensities(tmp_path, n=24)
    first, _ = _run(tmp_path, intensities[:1], paths[:1], processings=["parametrized"], folds=1, epochs=1, stage_samples=0)
    second, _ = _run(tmp_path, intensities[:1], paths[:1], processings=["parametrized"], folds=1, epochs=1, stage_samples=0)
    pd.testing.assert_frame_equal(first, second)


def test_joint_training_moves_every_isp_group_with_scaled_black_level_steps(tmp_path):
    _, paths = _two_intensities(tmp_path, n=16)
    raw, targets, _, camera = load_dataset_arrays(paths[0]["raw"], paths[0]["targets"], paths[0]["meta"])
    views = np.load(paths[0]["view"])
    fold = load_folds(paths[0]["folds"])[0]
    lr, steps = 1e-3, 1  # one epoch of 8 training samples in one batch = one Adam step
    _, processor = train_processing(
        "parametrized", raw=raw, views=views, targets=targets.numpy(), camera=camera, fold=fold, fold_index=0,
        kind="classification", n_classes=2, options=cpu_options(arch="small_cnn", epochs=steps, batch_size=8, lr=lr, seed=0),
    )  # fmt: skip
    learned, initial = processor.merged(), ParametrizedISP(camera)
    for name in ("white_balance", "colour_correction", "gamma", "demosaic", "sharpening", "blur"):
        change = (getattr(learned, name) - getattr(initial, name)).abs().max().item()
        assert change == pytest.approx(lr, rel=0.05), name  # Adam's first step ≈ lr
    change = (learned.black_level - initial.black_level).abs().max().item()
    assert change == pytest.approx(lr * 0.01, rel=0.05)


def test_segmentation_keeps_full_resolution_through_the_learned_isps(tmp_path):
    intensities, paths = _two_intensities(tmp_path, kind="segmentation", n=12, size=16)
    curves, _ = _run(tmp_path, intensities[:1], paths[:1], arch="small_unet", processings=["parametrized", "neural"],
                     folds=1, epochs=1, stage_samples=1, bce_weight=1.0)  # fmt: skip
    ious = curves[curves["metric"] == "iou_dataset"]
    assert set(ious["processing"]) == {"parametrized", "neural"} and ious["value"].between(0, 1).all()


def test_build_processor_variants():
    assert build_processor("static", DRONE, view="bi,s,ga", neural={}, constrain=False) is None
    scaled = build_processor("parametrized", DRONE, view="ma,s,ga", neural={}, constrain=False, group_lr_scales={"black_level": 0.01})
    assert isinstance(scaled, ScaledGroups) and scaled.isp.demosaic_method == "malvar2004"
    plain = build_processor("parametrized", DRONE, view="bi,s,ga", neural={}, constrain=True, group_lr_scales={})
    assert isinstance(plain, ParametrizedISP) and plain.constrain
    assert isinstance(build_processor("neural", DRONE, view="bi,s,ga", neural=TINY_NEURAL, constrain=False), NeuralISP)


def test_final_table_takes_the_last_epoch_of_each_fold():
    rows = [("neural", 0.01, e, f, "val", "accuracy", v) for f, vals in enumerate([[0.1, 0.5], [0.2, 0.7]]) for e, v in zip((1, 2), vals)]
    table = final_table(pd.DataFrame(rows, columns=CURVE_COLUMNS))
    assert table["mean"].iloc[0] == pytest.approx(0.6)
    assert table["std"].iloc[0] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert table["n"].iloc[0] == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"processings": ["dcraw"]}, r"customization.processings.0: 'dcraw' is not one of"),
        ({"processings": []}, r"customization.processings: \[\] should be non-empty"),
        ({"folds": 3}, "between 1 and 2"),
        ({"view": "bi,u,ga"}, "customization.view: 'bi,u,ga' has no differentiable twin"),
        ({"augmentation": "heavy"}, "customization.augmentation: 'heavy' is not one of"),
        ({"neural": {"encoder": "resnet18", "width": 3}}, r"customization.neural: Additional properties .*'width'"),
        ({"group_lr_scales": {"exposure": 0.1}, "processings": ["parametrized"]}, "customization.group_lr_scales: 'exposure' is not one of"),
    ],
)
def test_bad_options_raise_input_error(tmp_path, options, message):
    intensities, paths = _two_intensities(tmp_path, n=8)
    with pytest.raises(InputError, match=message):
        _run(tmp_path, intensities, paths, epochs=1, **options)
    assert not (tmp_path / "out" / "curves.csv").exists()


def test_mismatched_inputs_raise_input_error(tmp_path):
    intensities, paths = _two_intensities(tmp_path, n=8)
    with pytest.raises(InputError, match="view_paths"):
        run_customization(
            intensities, [p["raw"] for p in paths], [p["targets"] for p in paths], [p["meta"] for p in paths],
            [paths[0]["view"]], paths[0]["folds"], curves_path=tmp_path / "c.csv", final_path=tmp_path / "f.csv",
            figure_path=tmp_path / "f.png", stages_dir=tmp_path / "s", options=cpu_options(arch="small_cnn", epochs=1, batch_size=4, lr=1e-3),
        )  # fmt: skip


def test_customization_options_name_every_bad_key_before_any_job():
    """The schema checks the section (all problems at once, full keys), then what it cannot express:
    the neural ISP's widths against its depth and the freeze options (check_config runs both at plan time)."""
    CustomizationOptions.from_config({}, arch="small_cnn")  # every option left out takes the schema's default
    with pytest.raises(InputError) as err:
        CustomizationOptions.from_config({"processings": ["static", "dcraw"], "intensities": [0.01, 0.02], "epochs": 0}, arch="small_cnn")
    lines = str(err.value).splitlines()
    for expected in ("config customization.epochs: 0", "config customization.intensities.1: 0.02",
                     "config customization.processings.1: 'dcraw'"):
        assert any(line.startswith(expected) for line in lines), lines
    assert len(lines) == 3
    with pytest.raises(InputError) as err:
        CustomizationOptions.from_config({"neural": {"encoder_depth": 2, "decoder_channels": [8, 8, 8]},
                                          "freeze_isp": True, "freeze_classifier": True}, arch="small_cnn")  # fmt: skip
    assert str(err.value).splitlines() == [
        "config customization.neural.decoder_channels: [8, 8, 8] needs 2 entries (encoder_depth)",
        "config customization.freeze_classifier and customization.freeze_isp together leave nothing to train",
        "config customization.freeze_classifier leaves nothing to train for processing 'static'; set customization.processings to learned ISPs only",
    ]
    # a frozen start model the workflow would resolve: checked at plan time (the library takes the model as an argument)
    options = CustomizationOptions.from_config({"freeze_isp": True, "processings": ["parametrized"]}, arch="small_cnn")
    assert options.freeze_isp
    assert start_model_problems(section_with_defaults("customization", {"freeze_isp": True})) == [
        "customization.freeze_isp needs customization.isp (the model to keep fixed)"]


def test_customization_options_from_config():
    section = {"enabled": True, "intensities": [0.01], "classifier": None, "isp": None, "epochs": 3,
               "neural": {"encoder": "resnet18", "encoder_depth": 2, "decoder_channels": [8, 4]}}
    options = CustomizationOptions.from_config(section, arch="small_cnn", seed=5, device="cpu")
    assert options.epochs == 3 and options.seed == 5 and options.arch == "small_cnn"
    assert options.neural == NeuralOptions("resnet18", 2, (8, 4))
    # a saved ISP holds its options as written (tuples): they read back the same
    assert NeuralOptions.from_config(dataclasses.asdict(options.neural)) == options.neural
    assert options.lr == schema_default("customization.lr")  # left out → the default
    assert options.group_lr_scales == schema_default("customization.group_lr_scales")
    with pytest.raises(TypeError):
        CustomizationOptions.from_config({}, seed=5)  # arch has no default: it is the drift models'
