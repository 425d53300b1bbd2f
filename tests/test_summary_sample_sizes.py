"""Every finding in results/summary.md carries its interval and the n behind it (founders' rule)."""

from __future__ import annotations

import json

import pandas as pd

from lens2logit.study.summary import sample_size, write_summary

DRIFT_SUMMARY = {
    "dataset": "microscopy", "augmentation": "none", "metric": "accuracy", "diagonal_mean": 0.9,
    "off_diagonal_mean": 0.85, "mean_drop": 0.05, "max_drop": 0.2, "max_drop_pair": ["bi,s,me", "ma,s,ga"],
    "max_relative_drop": 0.22, "max_relative_drop_pair": ["bi,s,me", "ma,s,ga"], "test_view_mean_drop": {},
    "most_dropped_test_view": "ma,s,ga", "rows_with_diagonal_best": 3, "cells_below_diagonal": 5,
    "n_off_diagonal": 6, "n_views": 3,
}  # fmt: skip


def _finding(value, low, high):
    return {"value": value, "low": low, "high": high}


FINDINGS = {
    "dataset": "microscopy", "kind": "classification", "metric": "accuracy", "n_replicates": 2000, "level": 0.9,
    "seed": 0, "folds": 2, "images_per_fold": {"0": 90, "1": 88}, "corruption_images_per_fold": {"0": 64, "1": 64},
    "chance": 0.111, "other_metrics": {},
    "findings": {"clean": _finding(0.9, 0.88, 0.92), "drifted": _finding(0.85, 0.83, 0.87),
                 "mean_drop": _finding(0.05, -0.01, 0.09), "max_relative_drop": _finding(0.22, 0.2, 0.3),
                 "corruption_drop": _finding(0.3, 0.25, 0.35), "corruption_to_drift_ratio": _finding(6.0, 3.1, 35.0),
                 "most_dropped_test_view": {"value": "ma,s,ga", "shares": {"ma,s,ga": 1.0}}},
}  # fmt: skip


def _write(tmp_path, intensity_folds: int):
    drift = tmp_path / "drift" / "microscopy" / "summary.json"
    drift.parent.mkdir(parents=True)
    drift.write_text(json.dumps(DRIFT_SUMMARY))
    findings = tmp_path / "findings" / "microscopy.json"
    findings.parent.mkdir()
    findings.write_text(json.dumps(FINDINGS))
    intensity = tmp_path / "intensity" / "microscopy" / "matrix.csv"
    intensity.parent.mkdir(parents=True)
    std = 0.02 if intensity_folds > 1 else float("nan")
    pd.DataFrame([{"train_intensity": tr, "test_intensity": te, "metric": "accuracy", "mean": 1 - abs(tr - te) / 2,
                   "std": std, "n": intensity_folds} for tr in (0.05, 1.0) for te in (0.05, 1.0)]).to_csv(intensity, index=False)  # fmt: skip
    comparison = tmp_path / "corruptions" / "microscopy" / "comparison.csv"
    comparison.parent.mkdir(parents=True)
    pd.DataFrame([{"view": "all", "metric": "accuracy", "clean": 0.9, "diagonal": 0.9, "drift_drop": 0.05,
                   "corruption_drop": 0.3, "chance": 0.111, "headroom": 0.789, "drift_drop_normalised": 0.06,
                   "corruption_drop_normalised": 0.38, "corruption_to_drift_ratio": 6.0, "ratio_at_chance": 15.8}]).to_csv(comparison, index=False)  # fmt: skip
    return write_summary(tmp_path / "summary.md", datasets=["microscopy"], drift=[drift], findings=[findings],
                         intensity=[intensity], corruptions=[comparison], kinds=["classification"])  # fmt: skip


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start: end if end >= 0 else None]


def test_sample_size_names_folds_and_images():
    assert sample_size(FINDINGS) == "2 folds × 90/88 images"
    assert sample_size(FINDINGS, "corruption_images_per_fold") == "2 folds × 64 images"
    assert sample_size(None) == "—"


def test_drift_and_corruption_sections_state_interval_and_n(tmp_path):
    text = _write(tmp_path, intensity_folds=2)
    drift = _section(text, "Drift synthesis")
    assert "| 2 folds × 90/88 images |" in drift
    # the mean drop's interval contains 0: the summary says it is inside the noise
    assert "[-0.010, 0.090] contains 0: inside the noise" in drift
    corruptions = _section(text, "ISP drift vs common corruptions")
    assert "[3.1, 35.0]" in corruptions and "[0.250, 0.350]" in corruptions
    assert "2 folds × 64 images" in corruptions
    # the paper table's preamble names the sample behind every interval
    assert "microscopy: 2 folds × 90/88 images" in _section(text, "This run beside the paper")


def test_intensity_section_states_n_and_a_single_fold_as_one_model(tmp_path):
    two = _section(_write(tmp_path / "two", intensity_folds=2), "Intensity drift")
    assert "1.000 ± 0.020" in two and "| 2 folds |" in two
    one = _section(_write(tmp_path / "one", intensity_folds=1), "Intensity drift")
    assert "1 fold (one model, no interval)" in one and "±" not in one.split("\n\n")[1]


def test_drift_section_without_findings_says_there_is_no_interval(tmp_path):
    drift = tmp_path / "summary.json"
    drift.write_text(json.dumps(DRIFT_SUMMARY))
    text = write_summary(tmp_path / "summary.md", datasets=["microscopy"], drift=[drift], kinds=["classification"])
    assert "no interval (bootstrap not run)" in _section(text, "Drift synthesis")
