"""Aggregation of per-model metric tables into the study's matrices and summaries."""

import json

import numpy as np
import pandas as pd
import pytest

from lens2logit.errors import InputError
from lens2logit.drift import aggregate, paper
from lens2logit.statistics import chance_level, fold_summary, headline_metric
from lens2logit.study.summary import write_summary

VIEWS = ["bi,s,me", "ma,s,ga", "me,u,ga"]


def _metric_tables(tmp_path, values):
    """values[fold][i][j] = accuracy of the model trained on view i, tested on view j."""
    paths = []
    for fold, grid in enumerate(values):
        for i, train in enumerate(VIEWS):
            rows = [
                {"train_view": train, "train_intensity": 1.0, "augmentation": "none", "fold": fold,
                 "test_view": test, "test_intensity": 1.0, "metric": metric, "value": grid[i][j] * scale}
                for j, test in enumerate(VIEWS)
                for metric, scale in (("accuracy", 1.0), ("f1", 0.5))
            ]
            # a test at another intensity must not enter the view-drift matrix
            rows.append({"train_view": train, "train_intensity": 1.0, "augmentation": "none", "fold": fold,
                         "test_view": train, "test_intensity": 0.05, "metric": "accuracy", "value": 0.0})
            p = tmp_path / f"m{fold}_{i}.csv"
            pd.DataFrame(rows).to_csv(p, index=False)
            paths.append(p)
    return paths


GRID0 = [[0.9, 0.6, 0.5], [0.7, 0.8, 0.4], [0.5, 0.6, 0.95]]
GRID1 = [[0.8, 0.6, 0.3], [0.5, 0.9, 0.4], [0.7, 0.6, 0.85]]


def test_drift_matrix_mean_std_n_in_paper_order(tmp_path):
    table = aggregate.drift_matrix(aggregate.read_tables(_metric_tables(tmp_path, [GRID0, GRID1])), VIEWS)
    assert list(table.columns[:6]) == ["train_view", "test_view", "metric", "mean", "std", "n"]
    acc = table[table.metric == "accuracy"]
    assert len(acc) == 9 and set(acc["n"]) == {2}
    # row-major in the given view order
    assert list(zip(acc.train_view, acc.test_view))[:3] == [("bi,s,me", v) for v in VIEWS]
    cell = acc[(acc.train_view == "bi,s,me") & (acc.test_view == "me,u,ga")].iloc[0]
    assert cell["mean"] == pytest.approx(0.4)
    assert cell["std"] == pytest.approx(np.std([0.5, 0.3], ddof=1))
    mean, std = aggregate.matrix_array(table, VIEWS, "accuracy")
    np.testing.assert_allclose(mean, (np.array(GRID0) + np.array(GRID1)) / 2)


def test_drift_summary_reports_diagonal_and_worst_drop(tmp_path):
    table = aggregate.drift_matrix(aggregate.read_tables(_metric_tables(tmp_path, [GRID0, GRID1])), VIEWS)
    s = aggregate.drift_summary(table, VIEWS, "accuracy")
    mean = (np.array(GRID0) + np.array(GRID1)) / 2
    assert s["diagonal_mean"] == pytest.approx(np.mean(np.diag(mean)))
    assert s["off_diagonal_mean"] == pytest.approx(mean[~np.eye(3, dtype=bool)].mean())
    assert s["max_drop_pair"] == ["bi,s,me", "me,u,ga"]  # 0.85 - 0.4
    assert s["max_drop"] == pytest.approx(0.45)
    assert s["rows_with_diagonal_best"] == 3
    assert s["cells_below_diagonal"] == int(((np.diag(mean)[:, None] - mean) > 0).sum()) == 6
    assert s["n_off_diagonal"] == 6
    # the paper's worst case is relative to the training view's score: (0.85 − 0.4) / 0.85
    assert s["max_relative_drop"] == pytest.approx(0.45 / 0.85)
    assert s["max_relative_drop_pair"] == ["bi,s,me", "me,u,ga"]
    assert s["test_view_mean_drop"]["me,u,ga"] == pytest.approx(0.45)
    assert s["most_dropped_test_view"] == "me,u,ga"


def test_missing_view_is_an_error(tmp_path):
    frame = aggregate.read_tables(_metric_tables(tmp_path, [GRID0]))
    with pytest.raises(ValueError, match="missing views"):
        aggregate.drift_matrix(frame, VIEWS + ["bi,u,ga"])


def test_corruption_comparison(tmp_path):
    rows = []
    for fold in range(2):
        for view in VIEWS:
            rows += [{"view": view, "fold": fold, "corruption": "identity", "metric": "accuracy", "value": 0.9},
                     {"view": view, "fold": fold, "corruption": "fog", "metric": "accuracy", "value": 0.5},
                     {"view": view, "fold": fold, "corruption": "snow", "metric": "accuracy", "value": 0.3}]
    cor = pd.DataFrame(rows)
    table = aggregate.corruption_table(cor, VIEWS)
    assert list(table.columns) == ["view", "corruption", "metric", "mean", "std", "n"]
    assert set(table["n"]) == {2}
    drift = aggregate.drift_matrix(aggregate.read_tables(_metric_tables(tmp_path, [GRID0, GRID1])), VIEWS)
    comp = aggregate.corruption_comparison(cor, drift, VIEWS, "accuracy")
    first = comp.iloc[0]
    assert first["corruption_drop"] == pytest.approx(0.9 - 0.4)
    assert first["drift_drop"] == pytest.approx(0.85 - np.mean([0.6, 0.4]))
    assert comp.iloc[-1]["view"] == "all"
    assert comp.iloc[-1]["corruption_to_drift_ratio"] == pytest.approx(
        comp.iloc[-1]["corruption_drop"] / comp.iloc[-1]["drift_drop"])
    assert comp[["chance", "headroom", "drift_drop_normalised"]].isna().all().all()  # no chance given
    # with a chance level, drops are also given as shares of the headroom
    comp = aggregate.corruption_comparison(cor, drift, VIEWS, "accuracy", chance=0.25)
    first = comp.iloc[0]
    assert first["headroom"] == pytest.approx(0.9 - 0.25)
    assert first["corruption_drop_normalised"] == pytest.approx(0.5 / 0.65)
    assert first["drift_drop_normalised"] == pytest.approx((0.85 - 0.5) / (0.85 - 0.25))
    assert first["ratio_at_chance"] == pytest.approx(0.65 / 0.35)
    assert first["corruption_to_drift_ratio"] <= first["ratio_at_chance"]
    assert list(comp.columns) == aggregate.COMPARISON_COLUMNS
    # every row, "all" included, is consistent: normalised drop = drop ÷ headroom
    np.testing.assert_allclose(comp["corruption_drop_normalised"], comp["corruption_drop"] / comp["headroom"])
    np.testing.assert_allclose(comp["ratio_at_chance"], comp["headroom"] / comp["drift_drop"])


def test_fold_summary_mean_sample_std_and_count():
    frame = pd.DataFrame({"g": ["b", "b", "a", "c"], "value": [0.2, 0.4, 0.7, np.nan]})
    out = fold_summary(frame, ["g"])
    assert out["g"].tolist() == ["b", "a", "c"]  # order of first appearance
    assert out["mean"].tolist()[:2] == pytest.approx([0.3, 0.7])
    assert out["std"].iloc[0] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert np.isnan(out["std"].iloc[1])  # one fold: no spread
    assert out["n"].tolist() == [2, 1, 0]


def test_headline_metric_table():
    assert headline_metric("classification") == "accuracy"
    assert headline_metric("classification", "iou_image") == "accuracy"
    assert headline_metric("segmentation") == "iou_image"  # the paper's metric
    assert headline_metric("segmentation", "iou_image") == "iou_image"
    with pytest.raises(InputError, match="report.segmentation_headline"):
        headline_metric("segmentation", "dice")


def test_chance_level_is_the_best_constant_prediction():
    labels = np.array([0, 1, 1, 1, 2, 2, 0, 1])
    assert chance_level(labels, "accuracy") == pytest.approx(0.5)  # majority class, not 1/3
    masks = np.zeros((4, 4, 4), dtype=np.uint8)
    masks[0, :2] = 1  # 8 of 16 pixels
    masks[1, 0, :2] = 1  # 2 of 16
    # all-foreground prediction: dataset IoU = 10 / 64; per image: mean(0.5, 0.125, 0, 0)
    assert chance_level(masks, "iou_dataset") == pytest.approx(10 / 64)
    # per image, an all-background mask scores 1 on the two empty images: 0.5 > 0.156
    assert chance_level(masks, "iou_image") == pytest.approx(0.5)
    masks[2:] = 1
    assert chance_level(masks, "iou_image") == pytest.approx((0.5 + 0.125 + 1 + 1) / 4)
    with pytest.raises(InputError, match="f1"):
        chance_level(labels, "f1")


def test_paper_claims_without_a_run_are_not_run():
    table = paper.compare_with_paper({})
    assert (table["this run (90 % interval)"] == "not run").all() and (table["verdict"] == "—").all()
    row = table[(table.dataset == "microscopy") & (table.finding.str.startswith("mean drop"))].iloc[0]
    assert row["paper"].startswith("0.02 (0.83 → 0.81)") and "second-hand" in row["source"]


def test_write_drift_and_intensity_and_summary(tmp_path):
    paths = _metric_tables(tmp_path, [GRID0, GRID1])
    out = tmp_path / "drift"
    aggregate.write_drift(paths, VIEWS, ["none"], "classification", matrix_path=out / "matrix.csv",
                          summary_path=out / "summary.json", figure_path=out / "matrix.png",
                          difference_path=out / "difference.png", dataset="microscopy")
    for name in ("matrix.csv", "summary.json", "matrix.png", "difference.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # intensity: two training intensities, tested at both
    rows = [{"train_view": "ma,s,ga", "train_intensity": tr, "augmentation": "none", "fold": 0,
             "test_view": "ma,s,ga", "test_intensity": te, "metric": "accuracy", "value": 1 - abs(tr - te) / 2}
            for tr in (0.05, 1.0) for te in (0.05, 1.0)]
    ip = tmp_path / "i.csv"
    pd.DataFrame(rows).to_csv(ip, index=False)
    table = aggregate.write_intensity([ip], "ma,s,ga", "classification", matrix_path=tmp_path / "im.csv",
                                      figure_path=tmp_path / "im.png", dataset="microscopy")
    assert list(table.columns) == ["train_intensity", "test_intensity", "metric", "mean", "std", "n"]
    assert table["mean"].tolist() == pytest.approx([1.0, 0.525, 0.525, 1.0])
    text = write_summary(tmp_path / "summary.md", datasets=["microscopy"], drift=[out / "summary.json"],
                         intensity=[tmp_path / "im.csv"], kinds=["classification"])
    s = json.loads((out / "summary.json").read_text())
    assert f"{s['diagonal_mean']:.3f}" in text and "Intensity drift" in text
    # the paper comparison comes first and says plainly that the data are synthetic
    assert text.index("beside the paper") < text.index("Drift synthesis") and "synthetic data" in text
    assert f"| {s['mean_drop']:.3f} |" in text  # the drift table


def test_write_corruptions_with_chance_from_targets_and_summary(tmp_path):
    rows = [{"view": view, "fold": fold, "corruption": name, "metric": "accuracy", "value": value}
            for fold in range(2) for view in VIEWS for name, value in (("identity", 0.9), ("contrast", 0.5))]
    cp = tmp_path / "c.csv"
    pd.DataFrame(rows).to_csv(cp, index=False)
    targets = tmp_path / "targets.npy"
    np.save(targets, np.array([0, 0, 0, 1, 2, 1, 0, 0]))  # majority rate 5/8
    dataset_dir = tmp_path / "corruptions" / "microscopy"
    drift_paths = _metric_tables(tmp_path, [GRID0, GRID1])
    aggregate.write_corruptions([cp], drift_paths, VIEWS, "classification", table_path=dataset_dir / "table.csv",
                                comparison_path=dataset_dir / "comparison.csv", figure_path=dataset_dir / "figure.png",
                                dataset="microscopy", targets_path=targets)  # fmt: skip
    comp = pd.read_csv(dataset_dir / "comparison.csv")
    assert comp["chance"].tolist() == pytest.approx([5 / 8] * 4)
    overall = comp[comp.view == "all"].iloc[0]
    out = tmp_path / "drift"
    aggregate.write_drift(drift_paths, VIEWS, ["none"], "classification", matrix_path=out / "matrix.csv",
                          summary_path=out / "summary.json", figure_path=out / "matrix.png",
                          difference_path=out / "difference.png", dataset="microscopy")  # fmt: skip
    text = write_summary(tmp_path / "summary.md", datasets=["microscopy"], drift=[out / "summary.json"],
                         corruptions=[dataset_dir / "comparison.csv"], kinds=["classification"])  # fmt: skip
    assert f"| {overall['corruption_to_drift_ratio']:.3f} |" in text and "ratio at chance" in text

