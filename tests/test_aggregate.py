"""Aggregation of per-model metric tables into the study's matrices and summaries."""

import json

import numpy as np
import pandas as pd
import pytest

from lens2logit.experiments import aggregate
from lens2logit.experiments.summary import write_summary

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


def test_write_drift_and_intensity_and_summary(tmp_path):
    paths = _metric_tables(tmp_path, [GRID0, GRID1])
    out = tmp_path / "drift"
    aggregate.write_drift(paths, VIEWS, ["none"], "classification", matrix_path=out / "matrix.csv",
                          summary_path=out / "summary.json", figure_path=out / "matrix.png",
                          difference_path=out / "difference.png", task="microscopy")
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
                                      figure_path=tmp_path / "im.png", task="microscopy")
    assert list(table.columns) == ["train_intensity", "test_intensity", "metric", "mean", "std", "n"]
    assert table["mean"].tolist() == pytest.approx([1.0, 0.525, 0.525, 1.0])
    text = write_summary(tmp_path / "summary.md", tasks=["microscopy"], drift=[out / "summary.json"],
                         intensity=[tmp_path / "im.csv"])
    s = json.loads((out / "summary.json").read_text())
    assert f"{s['diagonal_mean']:.3f}" in text and "Intensity drift" in text
