"""Drift forensics on a tiny real dataset: attacks hurt, regularisation holds the output, bad options fail."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from isp_task_helpers import train_models, write_dataset
from PIL import Image
from skimage.metrics import structural_similarity

from lens2logit.errors import InputError
from lens2logit.forensics.attack import (
    TABLE_COLUMNS,
    ForensicsOptions,
    attack_isp,
    evaluate,
    load_dataset_arrays,
    render_all,
    run_forensics,
)
from lens2logit.training.options import CONTEXT_KEYS
from lens2logit.schema import schema_default
from lens2logit.training.ssim import get_regularizer, ssim, ssim_distance, ssim_map
from lens2logit.training import load_model
from lens2logit.isp.parametrized import ParametrizedISP

torch.set_num_threads(1)


def cpu_options(**options) -> ForensicsOptions:
    """Options of a test run, on the CPU whatever accelerator the machine has."""
    context = {k: options.pop(k) for k in list(options) if k in CONTEXT_KEYS}
    return ForensicsOptions.from_config(options, **{"device": "cpu", **context})


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("forensics")
    paths = write_dataset(root, "classification", n=40, size=16, seed=0)
    paths["models"] = train_models(paths, "classification", root / "models", epochs=5)
    return paths


def _fold_data(toy, fold=0):
    raw, targets, _, camera = load_dataset_arrays(toy["raw"], toy["targets"], toy["meta"])
    model, ckpt = load_model(toy["models"][fold])
    tr, va = torch.as_tensor(ckpt["train_indices"]), torch.as_tensor(ckpt["val_indices"])
    reference = ParametrizedISP(camera).eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    return model, reference, (raw[tr], targets[tr]), (raw[va], targets[va])


def test_ssim_matches_scikit_image_inside_the_border():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 32, 32, generator=g)
    y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ours = ssim_map(x, y)[0, :, 5:-5, 5:-5]
    for c in range(3):
        _, full = structural_similarity(
            x[0, c].numpy(), y[0, c].numpy(), data_range=1.0, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, full=True,
        )  # fmt: skip
        assert np.allclose(ours[c].numpy(), full[5:-5, 5:-5], atol=1e-5)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    assert ssim_distance(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert 0 < ssim_distance(x, y).item() < ssim_distance(x, torch.rand(x.shape, generator=g)).item()
    assert get_regularizer("mse")(x, y).item() == pytest.approx(float(((x - y) ** 2).mean()), rel=1e-6)


def test_unregularised_attack_lowers_the_metric_and_leaves_reference_and_model_alone(toy):
    model, reference, (x_tr, y_tr), (x_va, y_va) = _fold_data(toy)
    clean = evaluate(reference, model, x_va, y_va, kind="classification")
    assert clean["accuracy"] >= 0.75  # the task model works on its own view
    ref_state = {k: v.clone() for k, v in reference.state_dict().items()}
    model_state = {k: v.clone() for k, v in model.state_dict().items()}
    adversarial, history = attack_isp(
        reference, model, x_tr, y_tr, kind="classification", group="all", lam=0.0, regularizer="mse",
        steps=12, lr=0.02, batch_size=16, seed=0,
    )  # fmt: skip
    attacked = evaluate(adversarial, model, x_va, y_va, kind="classification", reference_output=render_all(reference, x_va))
    assert attacked["accuracy"] < clean["accuracy"]
    assert history[-1]["task_loss"] > history[0]["task_loss"]
    assert all(torch.equal(v, ref_state[k]) for k, v in reference.state_dict().items())
    assert all(torch.equal(v, model_state[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters()) and not model.training
    assert adversarial is not reference and not any(p is q for p in adversarial.parameters() for q in reference.parameters())


def test_only_the_selected_group_moves(toy):
    model, reference, (x_tr, y_tr), _ = _fold_data(toy)
    adversarial, _ = attack_isp(
        reference, model, x_tr, y_tr, kind="classification", group="gamma", lam=0.0, regularizer="ssim",
        steps=3, lr=0.05, batch_size=8, seed=1,
    )  # fmt: skip
    moved = {n for n, p in adversarial.named_parameters() if not torch.equal(p, dict(reference.named_parameters())[n])}
    assert moved == {"gamma"}


@pytest.mark.parametrize("regularizer", ["mse", "ssim"])
def test_large_lambda_keeps_the_output_close_to_the_reference(toy, regularizer):
    model, reference, (x_tr, y_tr), (x_va, y_va) = _fold_data(toy)
    distances = {}
    for lam in (0.0, 1e4):
        adversarial, _ = attack_isp(
            reference, model, x_tr, y_tr, kind="classification", group="all", lam=lam, regularizer=regularizer,
            steps=10, lr=0.02, batch_size=16, seed=2,
        )  # fmt: skip
        distances[lam] = evaluate(adversarial, model, x_va, y_va, kind="classification", reference_output=render_all(reference, x_va))
    assert distances[1e4]["mse_to_reference"] < 0.2 * distances[0.0]["mse_to_reference"]
    assert distances[1e4]["ssim_to_reference"] > distances[0.0]["ssim_to_reference"]


def test_run_forensics_writes_table_figure_strips_and_params(toy, tmp_path):
    out = {name: tmp_path / f"{name}.{ext}" for name, ext in [("table", "csv"), ("figure", "png"), ("strips", "png"), ("params", "json")]}
    table = run_forensics(
        toy["models"], toy["raw"], toy["targets"], toy["meta"],
        table_path=out["table"], figure_path=out["figure"], strips_path=out["strips"], params_path=out["params"],
        options=cpu_options(groups=["white_balance", "blur", "all"], lambdas=[0.0, 100.0], regularizers=["mse", "ssim"],
                            steps=3, lr=0.02, batch_size=16, seed=3),
    )  # fmt: skip
    written = pd.read_csv(out["table"])
    assert list(written.columns) == TABLE_COLUMNS
    assert len(written) == len(table)
    attacks = written[written["parameter_group"] != "none"]
    assert set(attacks["parameter_group"]) == {"white_balance", "blur", "all"}
    assert set(attacks["lambda"]) == {0.0, 100.0} and set(attacks["regularizer"]) == {"mse", "ssim"}
    assert (written["n"] == 2).all()  # one value per fold
    clean = written[(written["parameter_group"] == "none") & (written["metric"] == "accuracy")]
    assert len(clean) == 1 and 0.0 <= clean["mean"].iloc[0] <= 1.0
    assert set(written["metric"]) == {"accuracy", "f1", "mse_to_reference", "ssim_to_reference"}
    params = json.loads(out["params"].read_text())
    assert len(params["attacks"]) == 3 * 2 * 2 and params["reference"]["gamma"] == pytest.approx(2.2)
    for name in ("figure", "strips"):
        with Image.open(out[name]) as image:
            assert image.size[0] > 100 and image.size[1] > 100


def test_run_forensics_is_deterministic(toy, tmp_path):
    kwargs = dict(options=cpu_options(groups=["colour_correction"], lambdas=[0.0], regularizers=["mse"], steps=2, lr=0.02, batch_size=8, seed=4))
    tables = [
        run_forensics(toy["models"][:1], toy["raw"], toy["targets"], toy["meta"], table_path=tmp_path / f"t{i}.csv",
                      figure_path=tmp_path / f"f{i}.png", strips_path=tmp_path / f"s{i}.png", params_path=tmp_path / f"p{i}.json", **kwargs)
        for i in range(2)
    ]  # fmt: skip
    pd.testing.assert_frame_equal(tables[0], tables[1])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"groups": ["tone_curve"]}, r"forensics.groups.0: 'tone_curve' is not one of"),
        ({"groups": []}, r"forensics.groups: \[\] should be non-empty"),
        ({"lambdas": []}, r"forensics.lambdas: \[\] should be non-empty"),
        ({"lambdas": [-1.0]}, r"forensics.lambdas.0: -1.0 is less than the minimum of 0"),
        ({"regularizers": ["l1"]}, r"forensics.regularizers.0: 'l1' is not one of"),
        ({"view": "me,s,ga"}, "forensics.view: 'me,s,ga' has no differentiable twin"),
        ({"view": "ma,s,ga"}, "trained on view 'bi-s-ga'"),
    ],
)
def test_bad_options_raise_input_error(toy, tmp_path, options, message):
    with pytest.raises(InputError, match=message):  # from the options, or from the run (the models' view)
        run_forensics(
            toy["models"], toy["raw"], toy["targets"], toy["meta"], table_path=tmp_path / "t.csv",
            figure_path=tmp_path / "f.png", strips_path=tmp_path / "s.png", params_path=tmp_path / "p.json",
            options=cpu_options(steps=1, **options),
        )  # fmt: skip
    assert not (tmp_path / "t.csv").exists()


def test_forensics_options_name_every_bad_key_of_the_section():
    """The schema checks the section (all problems at once, each with its full key); the twin view is
    the one check it cannot express."""
    ForensicsOptions.from_config({})  # every option left out takes the schema's default
    with pytest.raises(InputError) as err:
        ForensicsOptions.from_config({"groups": ["gamma", "tone_curve"], "regularizers": ["mse", "l1"], "steps": 0, "lr": -1, "stepz": 3})
    message = str(err.value)
    for line in ("config forensics.groups.1: 'tone_curve'", "config forensics.regularizers.1: 'l1'",
                 "config forensics.steps: 0", "config forensics.lr: -1", "config forensics: Additional properties are not allowed ('stepz'"):
        assert line in message, message
    assert len(message.splitlines()) == 5
    with pytest.raises(InputError, match=r"^config forensics.view: 'me,s,ga' has no differentiable twin; allowed: \['bi,s,ga', 'ma,s,ga'\]$"):
        ForensicsOptions.from_config({"view": "me,s,ga"})


def test_forensics_options_from_config_keep_workflow_keys_out():
    options = ForensicsOptions.from_config({"enabled": True, "folds": 2, "model": None, "steps": 3, "lambdas": [0, 1]}, seed=7, device="cpu")
    assert options.steps == 3 and options.lambdas == (0.0, 1.0) and options.seed == 7
    assert options.lr == schema_default("forensics.lr") and options.bce_weight == schema_default("training.segmentation.bce_weight")
    with pytest.raises(InputError, match="unknown setting"):
        ForensicsOptions.from_config({}, sead=7)


def test_segmentation_model_on_a_classification_dataset_is_rejected(tmp_path):
    seg = write_dataset(tmp_path / "seg", "segmentation", n=8, size=16, seed=1)
    cls = write_dataset(tmp_path / "cls", "classification", n=8, size=16, seed=1)
    models = train_models(seg, "segmentation", tmp_path / "models", epochs=1, folds=1)
    with pytest.raises(InputError, match="segmentation model"):
        run_forensics(
            models, cls["raw"], cls["targets"], cls["meta"], table_path=tmp_path / "t.csv", figure_path=tmp_path / "f.png",
            strips_path=tmp_path / "s.png", params_path=tmp_path / "p.json", options=cpu_options(steps=1),
        )  # fmt: skip


def test_attack_seeds_are_the_decimal_ones_below_ten_and_never_collide():
    import itertools

    from lens2logit.forensics.attack import attack_seed_of

    assert attack_seed_of(7, 10, 2, 1, 3, 4) == 7 + 2000 + 100 + 30 + 4  # the seeds of every run so far
    grid = list(itertools.product(range(3), range(2), range(11), range(12)))  # 12 groups, 11 λs: base 12
    assert len({attack_seed_of(0, 12, *key) for key in grid}) == len(grid)
