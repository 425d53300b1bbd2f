"""Per-sample records, the bootstrap of the findings, the verdict rule and the seed table."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from lens2logit.errors import InputError
from lens2logit.models import build_model
from lens2logit.drift import aggregate, bootstrap, paper
from lens2logit.study import seeds
from lens2logit.corruptions.benchmark import score_corruptions
from lens2logit.training.scoring import score_model
from lens2logit.training import save_checkpoint

VIEWS = ["a", "b", "c", "d"]


def _drift_records(p: np.ndarray, n_per_fold=(100, 100), seed=0, n_classes=3) -> pd.DataFrame:
    """Classification records of every (train, test) cell: image correct with probability ``p[train, test]``."""
    rng = np.random.default_rng(seed)
    rows, first = [], 0
    for fold, n in enumerate(n_per_fold):
        ids = np.arange(first, first + n)
        first += n
        labels = ids % n_classes
        for i, tr in enumerate(VIEWS):
            for j, te in enumerate(VIEWS):
                correct = rng.random(n) < p[i, j]
                rows.append(pd.DataFrame({"train_view": tr, "train_intensity": 1.0, "augmentation": "none", "fold": fold,
                                          "test_view": te, "test_intensity": 1.0, "sample": ids, "label": labels,
                                          "prediction": np.where(correct, labels, (labels + 1) % n_classes),
                                          "confidence": 0.5}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def _corruption_records(clean: float, corrupted: float, n_per_fold=(100, 100), seed=1, keep=60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows, first = [], 0
    for fold, n in enumerate(n_per_fold):
        ids = np.arange(first, first + n)[:keep]
        first += n
        for view in VIEWS:
            for name, p in (("identity", clean), ("contrast", corrupted), ("gaussian_noise", corrupted)):
                correct = rng.random(len(ids)) < p
                rows.append(pd.DataFrame({"view": view, "fold": fold, "corruption": name, "sample": ids,
                                          "label": 0, "prediction": np.where(correct, 0, 1), "confidence": 0.5}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


P = np.full((4, 4), 0.7) + np.diag([0.2] * 4)  # true mean drop 0.2


def test_point_values_equal_the_aggregated_drift_summary():
    records = _drift_records(P)
    found = bootstrap.bootstrap_findings(records, VIEWS, "accuracy", n_replicates=200, seed=0)
    metrics = (records.assign(value=records.label == records.prediction)
               .groupby(["train_view", "train_intensity", "augmentation", "fold", "test_view", "test_intensity"])["value"]
               .mean().reset_index().assign(metric="accuracy"))  # fmt: skip
    summary = aggregate.drift_summary(aggregate.drift_matrix(metrics, VIEWS), VIEWS, "accuracy")
    f = found["findings"]
    assert f["mean_drop"]["value"] == pytest.approx(summary["mean_drop"])
    assert f["clean"]["value"] == pytest.approx(summary["diagonal_mean"])
    assert f["max_relative_drop"]["value"] == pytest.approx(summary["max_relative_drop"])
    assert f["max_relative_drop"]["pair"] == summary["max_relative_drop_pair"]
    assert f["most_dropped_test_view"]["value"] == summary["most_dropped_test_view"]
    assert sum(f["most_dropped_test_view"]["shares"].values()) == pytest.approx(1.0)
    assert found["chance"] == pytest.approx(67 / 200)  # ids 0..199, label = id % 3: class 0 has 67
    for name in ("clean", "drifted", "mean_drop"):  # not the maximum: its bootstrap is biased upwards
        assert f[name]["low"] <= f[name]["value"] <= f[name]["high"]


def test_interval_covers_the_known_mean_drop_at_about_its_level():
    covered = []
    for seed in range(40):
        records = _drift_records(P, seed=seed)
        f = bootstrap.bootstrap_findings(records, VIEWS, "accuracy", n_replicates=300, seed=seed)["findings"]["mean_drop"]
        covered.append(f["low"] <= 0.2 <= f["high"])
    assert 0.75 <= np.mean(covered) <= 1.0  # nominal 0.9; 40 trials


def test_ratio_interval_covers_the_known_ratio():
    # ISP drift drop 0.2; corruption drop 0.9 − 0.3 = 0.6 → ratio 3
    records = _drift_records(P, n_per_fold=(400, 400), seed=3)
    corr = _corruption_records(0.9, 0.3, n_per_fold=(400, 400), keep=300)
    found = bootstrap.bootstrap_findings(records, VIEWS, "accuracy", corruption_records=corr, n_replicates=500, seed=0)
    f = found["findings"]
    # the n behind the corruption findings: the images the corruption runs scored per fold
    assert found["corruption_images_per_fold"] == {"0": 300, "1": 300} and found["images_per_fold"] == {"0": 400, "1": 400}
    assert f["corruption_to_drift_ratio"]["low"] <= 3.0 <= f["corruption_to_drift_ratio"]["high"]
    assert f["corruption_drop"]["low"] <= 0.6 <= f["corruption_drop"]["high"]
    assert f["corruption_to_drift_ratio"]["value"] == pytest.approx(f["corruption_drop"]["value"] / f["mean_drop"]["value"])


def test_ratio_without_drift_drop_reaches_infinity():
    flat = np.full((4, 4), 0.8)  # no drift drop: about half the replicates drop ≤ 0
    records = _drift_records(flat, seed=2)
    corr = _corruption_records(0.8, 0.4)
    f = bootstrap.bootstrap_findings(records, VIEWS, "accuracy", corruption_records=corr, n_replicates=300, seed=0)["findings"]
    ratio = f["corruption_to_drift_ratio"]
    assert ratio["high"] == np.inf and ratio["undefined_share"] == 0.0
    assert paper.verdict(paper.RATIO_RANGE, ratio["low"], ratio["high"]) in ("cannot tell", "disagrees")


def test_an_undefined_or_infinite_ratio_is_printed_in_words_not_as_nan():
    """A point ratio with no ISP-drift drop (0 ÷ 0 → NaN) and an unbounded interval print readably."""
    text = paper.interval_text({"value": float("nan"), "low": 0.4, "high": float("inf")}, digits=1, unit="×")
    assert text == "undefined [0.4, ∞]"
    assert paper.interval_text({"value": 3.14, "low": 2.0, "high": 4.0}, digits=1, unit="×") == "3.1× [2.0, 4.0]"
    assert paper.interval_text({"value": 0.256, "low": 0.21, "high": 0.34}, 100, 0, " %") == "26 % [21, 34]"


def test_bootstrap_is_seeded_and_deterministic():
    records = _drift_records(P)
    one = bootstrap.bootstrap_findings(records, VIEWS, "accuracy", n_replicates=200, seed=5)
    two = bootstrap.bootstrap_findings(records, VIEWS, "accuracy", n_replicates=200, seed=5)
    other = bootstrap.bootstrap_findings(records, VIEWS, "accuracy", n_replicates=200, seed=6)
    assert one["findings"] == two["findings"]
    assert one["findings"]["mean_drop"]["low"] != other["findings"]["mean_drop"]["low"]


def test_segmentation_terms_dataset_and_image_iou():
    records = pd.DataFrame({"intersection": [1, 0, 3], "union": [2, 0, 4], "iou": [0.5, 1.0, 0.75]})
    num, den = bootstrap.per_sample_terms(records, "iou_dataset")
    assert num.sum() / den.sum() == pytest.approx(4 / 6)
    num, den = bootstrap.per_sample_terms(records, "iou_image")
    assert num.sum() / den.sum() == pytest.approx(0.75)
    with pytest.raises(InputError, match="f1"):
        bootstrap.per_sample_terms(records, "f1")


def test_missing_cell_is_refused():
    records = _drift_records(P)
    with pytest.raises(ValueError, match="lack records"):
        bootstrap.bootstrap_findings(records.iloc[1:], VIEWS, "accuracy", n_replicates=10)


@pytest.mark.parametrize(("low", "high", "expected"), [
    (5.0, 8.0, "agrees"),          # inside
    (4.0, 10.0, "agrees"),         # the band itself: edges count as inside
    (1.0, 3.9, "disagrees"),       # below
    (10.5, 30.0, "disagrees"),     # above
    (3.0, 5.0, "cannot tell"),     # straddles the lower edge
    (9.0, 12.0, "cannot tell"),    # straddles the upper edge
    (2.0, 20.0, "cannot tell"),    # contains the band
    (float("nan"), 5.0, "—"),
])  # fmt: skip
def test_verdict_from_the_interval(low, high, expected):
    assert paper.verdict(paper.RATIO_RANGE, low, high) == expected


def test_view_verdict_from_the_replicates_shares():
    assert paper.view_verdict("ma,s,me", {"ma,s,me": 0.95, "bi,s,me": 0.05}) == "agrees"
    assert paper.view_verdict("ma,s,me", {"ma,s,me": 0.6, "bi,s,me": 0.4}) == "cannot tell"
    assert paper.view_verdict("ma,s,me", {"bi,s,me": 0.92, "ma,s,me": 0.08}) == "disagrees"
    assert paper.view_verdict("ma,s,me", None) == "—"
    assert paper.view_set({"x": 0.5, "y": 0.3, "z": 0.15, "w": 0.05}) == ["x", "y", "z"]


def test_claim_bands():
    bands = {(c.dataset, c.quantity): c.band for c in paper.PAPER_CLAIMS}
    assert bands[("microscopy", "corruption_to_drift_ratio")] == bands[("drone_segmentation", "corruption_to_drift_ratio")] == (4.0, 10.0)
    assert bands[("microscopy", "max_relative_drop")] == pytest.approx((0.23, 0.43))
    assert bands[("drone_segmentation", "max_relative_drop")] == pytest.approx((0.10, 0.30))
    assert bands[("microscopy", "mean_drop")] == pytest.approx((0.01, 0.04))
    assert paper.PAPER_CHANCE["microscopy"] == pytest.approx(230 / 940)


def _result(mean_drop, ratio, worst, shares, chance=1 / 9):
    def f(v):
        return {"value": v[0], "low": v[1], "high": v[2]}
    return {"dataset": "microscopy", "metric": "accuracy", "n_replicates": 100, "seed": 1, "chance": chance,
            "balanced_accuracy": {"clean": 0.8, "drifted": 0.7},
            "findings": {"clean": f((0.8, 0.75, 0.85)), "drifted": f((0.7, 0.65, 0.75)), "mean_drop": f(mean_drop),
                         "corruption_drop": f((0.3, 0.2, 0.4)), "corruption_to_drift_ratio": f(ratio),
                         "max_relative_drop": {**f(worst), "pair": ["a", "b"]},
                         "most_dropped_test_view": {"value": max(shares, key=shares.get), "shares": shares}}}  # fmt: skip


def test_comparison_table_shows_intervals_bands_chance_and_no_ratio_at_chance():
    result = _result((0.1, 0.08, 0.12), (3.0, 2.5, 4.5), (0.4, 0.3, 0.5), {"ma,s,me": 0.97, "bi,s,me": 0.03})
    table = paper.compare_with_paper({"microscopy": result})
    mic = table[table.dataset == "microscopy"].set_index("finding")
    assert mic.loc["mean drop of accuracy, trained view → other views", "verdict"] == "disagrees"
    assert "0.100 [0.080, 0.120]" in mic.loc["mean drop of accuracy, trained view → other views", "this run (90 % interval)"]
    assert "chance 0.111" in mic.loc["mean drop of accuracy, trained view → other views", "this run (90 % interval)"]
    assert "chance 0.245" in mic.loc["mean drop of accuracy, trained view → other views", "paper"]
    assert mic.loc["drop under corruptions ÷ drop under ISP drift", "verdict"] == "cannot tell"
    assert "chance" not in mic.loc["drop under corruptions ÷ drop under ISP drift", "this run (90 % interval)"]
    assert mic.loc["test view that stands out with a clear drop", "verdict"] == "agrees"
    assert (table[table.dataset == "drone_segmentation"]["verdict"] == "—").all()
    assert table["source"].str.contains("second-hand").sum() == 2


def test_summary_paper_section_from_findings(tmp_path):
    from lens2logit.study.summary import write_summary

    drift_summary = {"dataset": "microscopy", "metric": "accuracy", "diagonal_mean": 0.8, "off_diagonal_mean": 0.7,
                     "mean_drop": 0.1, "max_drop": 0.3, "max_drop_pair": ["a", "b"], "rows_with_diagonal_best": 4,
                     "n_views": 4, "cells_below_diagonal": 10, "n_off_diagonal": 12}  # fmt: skip
    (tmp_path / "s.json").write_text(json.dumps(drift_summary))
    result = _result((0.03, 0.02, 0.035), (5.0, 4.5, 8.0), (0.3, 0.25, 0.6), {"ma,s,me": 0.5, "bi,s,me": 0.5})
    (tmp_path / "f.json").write_text(json.dumps(result))
    text = write_summary(tmp_path / "summary.md", datasets=["microscopy"], drift=[tmp_path / "s.json"],
                         findings=[tmp_path / "f.json"], kinds=["classification"])  # fmt: skip
    assert "Verdicts: 2 agree, 0 disagree, 2 cannot tell (without the two worst-case rows: 2 / 0 / 1)" in text
    assert "little information" in text and "second-hand" in text and "hypothetical" in text
    assert "factor of 2 of the published one" not in text


def _findings_run(tmp_path, name, result):
    folder = tmp_path / name / "findings"
    folder.mkdir(parents=True)
    (folder / "microscopy.json").write_text(json.dumps(result))
    return tmp_path / name


def test_seed_table_from_hand_made_findings(tmp_path):
    one = _result((0.03, 0.02, 0.035), (5.0, 4.5, 8.0), (0.3, 0.25, 0.6), {"ma,s,me": 0.95, "bi,s,me": 0.05})
    two = _result((0.038, 0.032, 0.05), (6.0, 4.2, 9.0), (0.35, 0.2, 0.5), {"ma,s,me": 0.97, "bi,s,me": 0.03})
    rows = {r["finding"]: r for r in seeds.seed_rows({"seed 1": {"microscopy": one}, "seed 2": {"microscopy": two}})}
    drop = rows["mean drop under ISP drift"]
    assert drop["seed 1 verdict"] == "agrees" and drop["seed 2 verdict"] == "cannot tell"  # straddles 0.04
    assert drop["same verdict"] == "no" and drop["within seed noise"] == "no"  # 0.038 ∉ [0.02, 0.035]
    ratio = rows["corruption ÷ ISP-drift ratio"]
    assert ratio["same verdict"] == "yes" and ratio["within seed noise"] == "yes"
    assert "seed 1 in seed 2: yes" in ratio["each value in the others' intervals"]
    assert rows["most-dropped test view"]["within seed noise"] == "yes"
    assert rows["diagonal mean (trained view)"]["seed 1 verdict"] == "(no claim)"
    text = seeds.write_seed_table([_findings_run(tmp_path, "r1", one), _findings_run(tmp_path, "r2", two)],
                                  tmp_path / "table.md", names=["seed 1", "seed 2"])  # fmt: skip
    assert (tmp_path / "table.md").read_text() == text and "| microscopy | mean drop under ISP drift |" in text
    with pytest.raises(InputError, match="at least two"):
        seeds.seed_rows({"seed 1": {"microscopy": one}})
    with pytest.raises(InputError, match="no findings"):
        seeds.read_run(tmp_path / "nowhere")


def test_cli_study_seeds(tmp_path, capsys):
    from lens2logit.cli import main

    one = _result((0.03, 0.02, 0.035), (5.0, 4.5, 8.0), (0.3, 0.25, 0.6), {"ma,s,me": 1.0})
    r1, r2 = _findings_run(tmp_path, "r1", one), _findings_run(tmp_path, "r2", one)
    assert main(["study", "seeds", str(r1), str(r2), "--names", "s1,s2", "--out", str(tmp_path / "t.md")]) == 0
    assert "| s1 verdict |" in (tmp_path / "t.md").read_text()
    assert main(["study", "seeds", str(r1), str(r2), "--names", "s1"]) == 2


def _checkpoint(path, kind="classification"):
    torch.manual_seed(0)
    n_classes = 3 if kind == "classification" else 1
    net = build_model("small_cnn" if kind == "classification" else "small_unet", kind, n_classes)
    ckpt = {"state_dict": net.state_dict(), "arch": "small_cnn" if kind == "classification" else "small_unet", "kind": kind,
            "n_classes": n_classes, "classes": ["a", "b", "c"][:n_classes], "mean": [0.5] * 3, "std": [0.3] * 3,
            "train_indices": list(range(6)), "val_indices": [11, 6, 7, 9, 8, 10], "fold": 0, "history": [], "config": {}}  # fmt: skip
    save_checkpoint(path, ckpt)


@pytest.mark.parametrize("kind", ["classification", "segmentation"])
def test_per_sample_records_equal_the_metrics(tmp_path, kind):
    rng = np.random.default_rng(0)
    views = rng.random((12, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "view.npy", views)
    np.save(tmp_path / "flip.npy", views[:, :, ::-1].copy())
    if kind == "classification":
        targets = (np.arange(12) % 3).astype(np.int64)
    else:
        targets = (rng.random((12, 32, 32)) > 0.6).astype(np.uint8)
    np.save(tmp_path / "targets.npy", targets)
    _checkpoint(tmp_path / "m.pt", kind)
    labels = [{"test_view": "v", "test_intensity": 1.0}, {"test_view": "flip", "test_intensity": 1.0}]
    metrics = score_model(tmp_path / "m.pt", [tmp_path / "view.npy", tmp_path / "flip.npy"], [tmp_path / "targets.npy"] * 2,
                          labels, tmp_path / "metrics.csv", train={"train_view": "v", "fold": 0}, batch_size=4,
                          samples_path=tmp_path / "samples.csv")  # fmt: skip
    samples = pd.read_csv(tmp_path / "samples.csv")
    assert len(samples) == 12 and list(samples.columns[:4]) == ["train_view", "fold", "test_view", "test_intensity"]
    for view, sub in samples.groupby("test_view"):
        assert sub["sample"].tolist() == list(range(6, 12))
        value = metrics[metrics.test_view == view].set_index("metric")["value"]
        if kind == "classification":
            assert (sub["label"] == sub["prediction"]).mean() == pytest.approx(value["accuracy"])
            assert sub["label"].tolist() == (np.arange(6, 12) % 3).tolist()
            assert sub["confidence"].between(1 / 3, 1).all()
        else:
            assert sub["iou"].mean() == pytest.approx(value["iou_image"])
            assert sub["intersection"].sum() / sub["union"].sum() == pytest.approx(value["iou_dataset"])
            assert sub["confidence"].between(0.5, 1).all()
    score_corruptions([tmp_path / "m.pt"], tmp_path / "view.npy", tmp_path / "targets.npy", tmp_path / "c.csv", view="v",
                      names=["contrast"], severity=1, seed=0, samples_path=tmp_path / "cs.csv")  # fmt: skip
    table, crec = pd.read_csv(tmp_path / "c.csv"), pd.read_csv(tmp_path / "cs.csv")
    assert list(crec.columns[:4]) == ["view", "fold", "corruption", "sample"]
    for name, sub in crec.groupby("corruption"):
        value = table[table.corruption == name].set_index("metric")["value"]
        if kind == "classification":
            assert (sub["label"] == sub["prediction"]).mean() == pytest.approx(value["accuracy"])
        else:
            assert sub["iou"].mean() == pytest.approx(value["iou_image"])


def test_literal_seed_test_fails_one_in_four_calibrated_findings():
    """Two runs of the same distribution with exact 90 % intervals: the value-in-interval test passes
    ≈ 75.5 % of the time, the difference test ≈ 90 % (seeds module docstring)."""
    rng = np.random.default_rng(0)
    z, n = 1.6448536, 200_000
    a, b = rng.normal(size=n), rng.normal(size=n)  # σ = 1: interval x ± z
    assert np.mean(np.abs(a - b) <= z) == pytest.approx(seeds.expected_inside_share(0.90), abs=0.005)
    assert np.mean(np.abs(a - b) <= z * np.sqrt(2)) == pytest.approx(0.90, abs=0.005)
    assert seeds.expected_inside_share(0.90) == pytest.approx(0.755, abs=0.001)


def _write_run(root, name, p, seed, *, dataset="microscopy"):
    """A results folder with per-sample records and the findings written from them."""
    results = root / name / "results"
    (results / "samples").mkdir(parents=True)
    drift, corr = results / "samples" / "drift.csv", results / "samples" / "corruptions.csv"
    _drift_records(p, seed=seed).to_csv(drift, index=False)
    _corruption_records(0.9, 0.5, seed=seed + 1000).to_csv(corr, index=False)
    bootstrap.write_findings([drift], VIEWS, "classification", results / "findings" / f"{dataset}.json", dataset=dataset,
                             corruption_paths=[corr], n_replicates=400, seed=seed)  # fmt: skip
    return results


def test_findings_name_their_records_and_rebuild_their_replicates(tmp_path):
    results = _write_run(tmp_path, "r1", P, seed=3)
    found = json.loads((results / "findings" / "microscopy.json").read_text())
    assert found["views"] == VIEWS and found["records"] == {"drift": ["samples/drift.csv"], "corruptions": ["samples/corruptions.csv"]}
    reps = bootstrap.rebuild_replicates(found, results)
    assert reps.points["mean_drop"] == pytest.approx(found["findings"]["mean_drop"]["value"], abs=1e-15)
    assert reps.values["mean_drop"].shape == (400,)
    # edited records after the findings were written: named, not silently mixed
    records = pd.read_csv(results / "samples" / "drift.csv")
    records.loc[records.index[:50], "prediction"] = -1
    records.to_csv(results / "samples" / "drift.csv", index=False)
    with pytest.raises(InputError, match="records changed since"):
        bootstrap.rebuild_replicates(found, results, "f.json")
    (results / "samples" / "corruptions.csv").unlink()
    with pytest.raises(InputError, match="record tables missing: .*corruptions.csv"):
        bootstrap.rebuild_replicates(found, results)
    with pytest.raises(InputError, match="older version"):
        bootstrap.rebuild_replicates({k: v for k, v in found.items() if k != "records"}, results)


def test_difference_test_holds_for_one_distribution_and_separates_two():
    """Pairs of runs of the same P: the mean drop's difference interval contains 0 in ≈ 90 % of pairs;
    runs whose true drops differ by 0.1 (P vs Q): almost never."""
    q = np.full((4, 4), 0.7) + np.diag([0.1] * 4)  # true mean drop 0.1
    reps = [bootstrap.bootstrap_replicates(_drift_records(P, seed=s), VIEWS, "accuracy", n_replicates=400, seed=100 + s)
            for s in range(60)]  # fmt: skip
    other = [bootstrap.bootstrap_replicates(_drift_records(q, seed=500 + s), VIEWS, "accuracy", n_replicates=400, seed=700 + s)
             for s in range(10)]  # fmt: skip
    same = [seeds.covers_zero(seeds.difference(reps[2 * i], reps[2 * i + 1], "mean_drop")) for i in range(30)]
    assert 0.75 <= np.mean(same) <= 1.0
    apart = [seeds.covers_zero(seeds.difference(reps[i], other[i], "mean_drop")) for i in range(10)]
    assert sum(apart) <= 1


def test_seed_table_with_replicates_and_calibration(tmp_path):
    runs = [_write_run(tmp_path, f"r{s}", P, seed=s) for s in (1, 2, 3)]
    text = seeds.write_seed_table(runs[:2], tmp_path / "two.md", names=["seed 1", "seed 2"])
    assert "| seed 1 − seed 2 [90 %] |" in text and "the 90 % interval of every difference" in text
    assert "expected ≈ 76 % per pair" in text and "Calibration" not in text
    rows = {r["finding"]: r for r in seeds.seed_rows(seeds.read_runs(runs[:2], ["a", "b"]),
                                                         {n: seeds.read_replicates(r, seeds.read_run(r))[0] for n, r in zip("ab", runs)})}  # fmt: skip
    drop = rows["mean drop under ISP drift"]
    low, high = (float(x) for x in drop["a − b [90 %]"].split("[")[1].rstrip("]").split(", "))
    assert low <= 0 <= high and drop["within seed noise"] == "yes"  # same P, 200 images per run
    assert rows["most-dropped test view"]["a − b [90 %]"] == "(categorical)"
    three = seeds.write_seed_table(runs, None, names=["s1", "s2", "s3"])
    assert "difference intervals containing 0" in three and "Calibration over 3 runs (s1, s2, s3)" in three
    calibration = {r["finding"]: r for r in seeds.calibration_rows(seeds.read_runs(runs, ["s1", "s2", "s3"]),
                                                                      {n: seeds.read_replicates(r, seeds.read_run(r))[0] for n, r in zip(["s1", "s2", "s3"], runs)})}  # fmt: skip
    assert calibration["mean drop under ISP drift"]["value in other's interval"].endswith("of 6")
    assert calibration["mean drop under ISP drift"]["difference contains 0"].endswith("of 3")
    with pytest.raises(InputError, match="at least three"):
        seeds.calibration_rows(seeds.read_runs(runs[:2]), {})


def test_spread_ratio_interval_covers_one_at_its_level():
    """Runs of a known σ with exact standard errors: the ratio's 90 % interval contains 1 in ≈ 90 % of draws."""
    rng = np.random.default_rng(4)
    hits = [seeds.spread_ratio(rng.normal(0, 0.02, 4), [0.02] * 4)[1:] for _ in range(2000)]
    assert np.mean([low <= 1 <= high for low, high in hits]) == pytest.approx(0.90, abs=0.02)
    ratio, low, high = seeds.spread_ratio([0.1, 0.2, 0.3], [0.01, 0.01, 0.01])
    assert ratio == pytest.approx(10.0) and low > 1  # intervals far too narrow for the spread
    with pytest.raises(InputError, match="at least two"):
        seeds.spread_ratio([0.1], [0.01])


def test_difference_text_units_and_no_negative_zero():
    f = {"value": -0.0001, "low": -0.02, "high": 0.1}
    assert seeds.difference_text(f, 100.0, 0, " %") == "0 points [-2, 10]"  # percentages differ by points
    assert seeds.difference_text({"value": -0.21, "low": -1.3, "high": 0.6}, 1.0, 1, "×") == "-0.2 [-1.3, 0.6]"
    assert seeds.difference_text({"value": -0.0004, "low": -0.0204, "high": 0.0104}, 1.0, 3, "") == "0.000 [-0.020, 0.010]"


def test_classification_resamples_within_classes_as_the_stratified_splits_do():
    """Every replicate keeps each fold's class counts; segmentation records (no label) resample the whole fold."""
    ids = {0: np.arange(30), 1: np.arange(30, 57)}
    labels = {0: np.arange(30) % 3, 1: np.r_[np.zeros(20), np.ones(7)]}
    weights, _ = bootstrap.resample_weights(ids, 500, np.random.default_rng(0), labels)
    for k in ids:
        for c in np.unique(labels[k]):
            assert (weights[k][:, labels[k] == c].sum(axis=1) == (labels[k] == c).sum()).all()
    plain, _ = bootstrap.resample_weights(ids, 500, np.random.default_rng(0))
    assert plain[1][:, :20].sum(axis=1).std() > 1  # the class mix varies without strata
    records = _drift_records(P)
    assert bootstrap.fold_labels(records.drop(columns="label"), {0: np.arange(100)}) is None
    assert (bootstrap.fold_labels(records, {0: np.arange(100)})[0] == np.arange(100) % 3).all()


def test_stratified_interval_is_narrower_when_accuracy_depends_on_the_class():
    """Class 0 always right, class 1 right half the time: resampling the class mix (which the splits fix)
    would widen the interval of the diagonal mean; within classes it does not."""
    records = _drift_records(np.full((4, 4), 0.5), n_per_fold=(60, 60), n_classes=2)
    right = records["label"] == 0
    records.loc[right, "prediction"] = 0
    strat = bootstrap.bootstrap_findings(records, VIEWS, "accuracy", n_replicates=1000, seed=0)["findings"]["clean"]
    plain = bootstrap.bootstrap_findings(records.assign(label=0, prediction=(records.label == records.prediction).map({True: 0, False: 1})),
                                         VIEWS, "accuracy", n_replicates=1000, seed=0)["findings"]["clean"]  # fmt: skip
    assert strat["value"] == pytest.approx(plain["value"])
    assert strat["high"] - strat["low"] < 0.85 * (plain["high"] - plain["low"])


def test_seed_table_without_record_tables_falls_back_and_says_why(tmp_path):
    runs = [_write_run(tmp_path, f"r{s}", P, seed=s) for s in (1, 2)]
    (runs[1] / "samples" / "corruptions.csv").unlink()  # e.g. only the findings were pulled
    reps, why = seeds.read_replicates(runs[1], seeds.read_run(runs[1]))
    assert reps is None and "1 record tables missing, e.g." in why and "corruptions.csv" in why
    text = seeds.write_seed_table(runs, None, names=["a", "b"])
    assert "no difference test: " in text and "corruptions.csv" in text and "a − b [90 %]" not in text
    # present but changed since the findings: an error, not a silent fallback
    records = pd.read_csv(runs[0] / "samples" / "drift.csv")
    records["prediction"] = records["label"]
    records.to_csv(runs[0] / "samples" / "drift.csv", index=False)
    with pytest.raises(InputError, match=r"r1/results/findings/microscopy.json: clean rebuilt .* records changed since"):
        seeds.read_replicates(runs[0], seeds.read_run(runs[0]))
