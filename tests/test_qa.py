"""Label-free drop prediction (issue 20): ATC and DoC estimators, the QA table, the `lens2logit qa` CLI."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import tifffile
import torch

from lens2logit.cli import main
from lens2logit.errors import InputError
from lens2logit.models import build_model
from lens2logit.qa.predict import METHODS, atc_predict, atc_threshold, doc_predict, no_drop_predict, predict
from lens2logit.training.records import calibration_record, confidences
from lens2logit.qa.table import CORRUPTION_BED, DRIFT_BED, qa_summary, qa_table, spearman
from lens2logit.training import save_checkpoint


def threshold_world(n: int, seed: int, a: float, b: float, cut: float = 0.6):
    """Confidences ~ Beta(a, b); a sample is right exactly when its confidence exceeds ``cut``.

    Under this mechanism (a shift of the confidence distribution, the same confidence→correctness
    rule) ATC is exact in expectation: its threshold converges to ``cut``. Returns (conf, correct).
    """
    conf = np.random.default_rng(seed).beta(a, b, size=n)
    return conf, (conf > cut).astype(float)


def test_atc_threshold_matches_source_accuracy():
    conf, correct = threshold_world(400, 0, 5, 2)
    t = atc_threshold(conf, correct)
    assert np.mean(conf > t) == pytest.approx(correct.mean(), abs=1 / 400)
    assert atc_threshold([0.9, 0.8], [1.0, 1.0]) == -np.inf  # all right: every target sample counts
    assert atc_threshold([0.9, 0.8], [0.0, 0.0]) == np.inf


def test_atc_known_answer_within_interval():
    source_conf, source_correct = threshold_world(600, 1, 5, 2)
    target_conf, target_correct = threshold_world(600, 2, 2, 2)  # shifted: far fewer confident samples
    truth = target_correct.mean()
    assert truth < source_correct.mean() - 0.2  # a real drop
    p = predict("atc", source_conf, source_correct, target_conf, seed=3)
    assert p["low"] <= truth <= p["high"]
    assert p["predicted"] == pytest.approx(truth, abs=0.03)
    assert p["high"] - p["low"] < 0.15
    naive = no_drop_predict(source_conf, source_correct, target_conf)
    assert abs(naive - truth) > 5 * abs(p["predicted"] - truth)


def test_estimators_never_take_target_labels():
    for fn in (atc_predict, doc_predict, no_drop_predict):
        assert list(inspect.signature(fn).parameters) == ["source_confidence", "source_score", "target_confidence"]
    assert list(inspect.signature(atc_threshold).parameters) == ["source_confidence", "source_score"]


def test_doc_known_answer():
    source_conf = np.array([0.95, 0.85, 0.9, 0.9])  # mean 0.9
    source_score = np.array([1.0, 1.0, 0.0, 1.0])  # accuracy 0.75
    target_conf = np.array([0.7, 0.6, 0.8])  # mean 0.7
    assert doc_predict(source_conf, source_score, target_conf) == pytest.approx(0.75 - (0.9 - 0.7))
    p = predict("doc", source_conf, source_score, target_conf, n_resamples=200)
    assert p["low"] <= p["predicted"] <= p["high"]


def test_predict_errors():
    with pytest.raises(InputError, match="method"):
        predict("cot", [0.5], [1.0], [0.5])
    with pytest.raises(InputError, match="source"):
        predict("atc", [0.5, 0.6], [1.0], [0.5])
    with pytest.raises(InputError, match="target"):
        predict("atc", [0.5], [1.0], [])


def records(kind="classification", views=("a", "b", "c"), folds=2, n=40, seed=0):
    """Per-sample records in the evaluation format: every fold's model of every view on every view."""
    rng = np.random.default_rng(seed)
    rows = []
    for train in views:
        for fold in range(folds):
            for test in views:
                shift = 0.0 if test == train else 0.15 * (1 + views.index(test))
                conf = np.clip(rng.beta(6, 2, size=n) - shift, 0.05, 1)
                right = rng.random(n) < conf
                label = rng.integers(0, 3, size=n)
                for i in range(n):
                    rows.append({"augmentation": "none", "train_view": train, "train_intensity": 1.0, "fold": fold,
                                 "test_view": test, "test_intensity": 1.0, "sample": i, "label": label[i],
                                 "prediction": label[i] if right[i] else (label[i] + 1) % 3, "confidence": conf[i]})  # fmt: skip
    return pd.DataFrame(rows)


def test_qa_table_one_row_per_model_test_view_method():
    table = qa_table(records(), "classification", n_resamples=50)
    keys = ["augmentation", "train_view", "fold", "test_view", "method"]
    assert len(table) == 3 * 2 * 2 * len(METHODS)  # 3 views × 2 folds, 2 other views each
    assert not table.duplicated(keys).any()
    assert (table["train_view"] != table["test_view"]).all()
    assert (table["predicted_low"] <= table["predicted"]).all() and (table["predicted"] <= table["predicted_high"]).all()
    np.testing.assert_allclose(table["abs_error"], (table["predicted"] - table["measured"]).abs())
    summary = qa_summary(table, "drift", DRIFT_BED["cell"], n_resamples=50)
    assert summary["method"].tolist() == list(METHODS)
    assert summary["n"].eq(3 * 2).all()  # cells: the folds' models averaged
    baseline = summary.set_index("method").loc["no_drop"]
    assert baseline["mae_minus_no_drop"] == 0 and baseline["mae_minus_no_drop_low"] == 0
    atc = summary.set_index("method").loc["atc"]
    assert atc["mae_minus_no_drop"] == pytest.approx(atc["mae"] - baseline["mae"])
    assert qa_summary(table, "drift", n_resamples=50)["n"].eq(3 * 2 * 2).all()
    assert (summary["mae_low"] <= summary["mae"]).all() and (summary["mae"] <= summary["mae_high"]).all()


def test_qa_table_predictions_ignore_target_labels():
    samples = records()
    table = qa_table(samples, "classification", n_resamples=50)
    scrambled = samples.copy()
    target = scrambled["test_view"] != scrambled["train_view"]
    scrambled.loc[target, "label"] = (scrambled.loc[target, "prediction"] + 1) % 3  # every target sample wrong
    changed = qa_table(scrambled, "classification", n_resamples=50)
    for column in ("predicted", "predicted_low", "predicted_high"):
        np.testing.assert_array_equal(table[column], changed[column])
    assert (changed["measured"] == 0).all() and (table["measured"] > 0).all()


def test_qa_drift_bed_ignores_the_intensity_drift_test_sets():
    """The intensity-drift view's models are also scored on their own view at lower light: those rows
    are neither the source (no_drop would predict a low-light accuracy) nor a target of the drift bed."""
    samples = records()
    table = qa_table(samples, "classification", n_resamples=50)
    own_at_low_light = samples[(samples["train_view"] == "a") & (samples["test_view"] == "a")].assign(
        test_intensity=0.01, prediction=lambda f: (f["label"] + 1) % 3, confidence=0.2)  # every sample wrong
    with_low_light = pd.concat([samples, own_at_low_light], ignore_index=True)
    pd.testing.assert_frame_equal(qa_table(with_low_light, "classification", n_resamples=50), table)
    with pytest.raises(InputError, match="test_intensity"):
        qa_table(samples.drop(columns="test_intensity"), "classification", n_resamples=50)


def test_qa_table_corruption_bed_and_segmentation():
    samples = records(kind="segmentation", views=("identity", "noise"))
    samples = samples.rename(columns={"train_view": "view", "test_view": "corruption"})
    samples = samples[samples["view"] == "identity"].assign(view="bi,s,me")
    samples["iou"] = np.where(samples["label"] == samples["prediction"], 0.9, 0.3)
    table = qa_table(samples, "segmentation", CORRUPTION_BED, n_resamples=50)
    assert len(table) == 2 * len(METHODS) and set(table["corruption"]) == {"noise"}
    assert table["measured"].between(0.3, 0.9).all()


def test_spearman():
    assert spearman(np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40])) == pytest.approx(1.0)
    assert spearman(np.array([1, 2, 3]), np.array([3, 2, 1])) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.array([1, 1, 1]), np.array([1, 2, 3])))


def test_confidences_and_calibration_record():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(confidences(logits, "classification"), [np.exp(2) / (1 + np.exp(2)), 0.5], rtol=1e-6)
    seg = torch.zeros(1, 1, 2, 2)  # p = 0.5 everywhere
    assert float(confidences(seg, "segmentation")[0]) == pytest.approx(0.5)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 2 * 2, 2))
    x = torch.randn(5, 3, 2, 2)
    y = torch.tensor([0, 1, 0, 1, 1])
    record = calibration_record(net, [(x[:3], y[:3]), (x[3:], y[3:])], "classification")
    with torch.no_grad():
        right = (net(x).argmax(1) == y).float().tolist()
    assert record["score"] == right and len(record["confidence"]) == 5 and record["metric"] == "accuracy"


# ---- CLI ----------------------------------------------------------------------------------

SIZE = 32


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    net = build_model("small_cnn", "classification", 2)
    rng = np.random.default_rng(0)
    ckpt = {"state_dict": net.state_dict(), "arch": "small_cnn", "kind": "classification", "n_classes": 2,
            "classes": ["a", "b"], "mean": [0.2] * 3, "std": [0.1] * 3, "train_indices": [0], "val_indices": [1],
            "fold": 0, "history": [],
            "calibration": {"confidence": rng.uniform(0.5, 1, 50).tolist(), "score": (rng.random(50) < 0.8).astype(float).tolist(),
                            "metric": "accuracy"},
            "config": {"views_path": "results/views/microscopy/100/bi-s-me.npy", "image_shape": [3, SIZE, SIZE]}}  # fmt: skip
    path = tmp_path / "model.pt"
    save_checkpoint(path, ckpt)
    return path


def write_mosaics(folder, n=3, size=SIZE):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        tifffile.imwrite(folder / f"img{i}.tiff", rng.integers(3000, 30000, size=(size, size), dtype=np.uint16))
    return folder


def test_cli_predicts_with_interval(tmp_path, model_file, capsys):
    images = write_mosaics(tmp_path / "new_camera")
    out = tmp_path / "qa.csv"
    assert main(["qa", "--model", str(model_file), "--images", str(images), "--camera", "microscopy",
                 "--view", "ma-u-ga", "--resamples", "100", "--output", str(out)]) == 0  # fmt: skip
    table = pd.read_csv(out)
    assert table["method"].tolist() == ["atc", "doc"]
    assert table["view"].eq("ma,u,ga").all() and table["n_images"].eq(3).all()
    assert (table["predicted_low"] <= table["predicted"]).all() and (table["predicted"] <= table["predicted_high"]).all()
    assert "ATC" in capsys.readouterr().out


@pytest.mark.parametrize(
    "case, message",
    [("missing_model", "model file not found"), ("empty_folder", "no raw images"), ("wrong_size", "trained on")],
)
def test_cli_clear_errors(tmp_path, model_file, capsys, case, message):
    images = tmp_path / "images"
    images.mkdir()
    model = model_file
    if case == "missing_model":
        model = tmp_path / "absent.pt"
        write_mosaics(images)
    elif case == "wrong_size":
        write_mosaics(images, size=2 * SIZE)
    assert main(["qa", "--model", str(model), "--images", str(images), "--camera", "microscopy"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("kind", ["classification", "segmentation"])
def test_training_stores_the_records_evaluation_writes(tmp_path, kind):
    """The checkpoint's calibration = the per-sample records evaluation writes on the model's own view."""
    from isp_task_helpers import train_models, write_dataset

    from lens2logit.training.evaluate import evaluate_model
    from lens2logit.training.records import sample_scores

    paths = write_dataset(tmp_path / "data", kind, n=16, size=32)
    model = train_models(paths, kind, tmp_path / "models", epochs=1, folds=1)[0]
    calibration = torch.load(model, weights_only=True)["calibration"]
    _, samples = evaluate_model(model, [{"views": paths["view"], "targets": paths["targets"]}], with_samples=True)
    np.testing.assert_allclose(calibration["confidence"], samples["confidence"], rtol=1e-5)
    np.testing.assert_allclose(calibration["score"], sample_scores(samples, kind), rtol=1e-6)
    assert calibration["metric"] == ("accuracy" if kind == "classification" else "iou_image")


def test_write_qa_stage_outputs(tmp_path):
    from lens2logit.qa.table import summary_markdown, write_qa

    paths = []
    for (view, fold), frame in records().groupby(["train_view", "fold"]):
        paths.append(tmp_path / f"{view}{fold}.csv")
        frame.to_csv(paths[-1], index=False)
    out = {name: tmp_path / "qa" / name for name in ("table.csv", "corruptions.csv", "summary.csv", "scatter.png")}
    summary = write_qa(paths, [], kind="classification", dataset="microscopy", table_path=out["table.csv"],
                       corruptions_path=out["corruptions.csv"], summary_path=out["summary.csv"],
                       figure_path=out["scatter.png"], n_resamples=50)  # fmt: skip
    assert all(p.is_file() for p in out.values())
    assert len(pd.read_csv(out["table.csv"])) == 3 * 2 * 2 * len(METHODS)
    assert pd.read_csv(out["corruptions.csv"]).empty  # corruptions off: a header only
    assert summary["test_bed"].eq("drift").all() and summary["method"].tolist() == list(METHODS)
    lines = summary_markdown([out["summary.csv"]])
    assert sum(line.startswith("| microscopy | drift | accuracy |") for line in lines) == len(METHODS)
