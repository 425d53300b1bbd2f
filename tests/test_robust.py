"""Drift-robust training (issue 20 item 2): regime isp_views, leave-one-view-out, its summary and options."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TEST_CONFIG
from lens2logit.workflow.config import check_config
from lens2logit.errors import InputError
from lens2logit.robust.train import (ViewMixBatches, draw_sample_views, lovo_training_views, train_leave_one_view_out,
                                           train_on_views)
from lens2logit.training.splits import make_folds, save_folds
from lens2logit.isp.views import VIEWS
from lens2logit.robust.summary import lovo_label, robust_summary

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SIZE = 16
N_VIEWS = 12


def test_isp_views_draws_every_view_uniformly_and_deterministically():
    n = 120_000
    draws = draw_sample_views(n, N_VIEWS, seed=3, epoch=0)
    counts = np.bincount(draws, minlength=N_VIEWS)
    # each count ~ Binomial(n, 1/12): std ≈ 96; 5 std is a bound a correct sampler breaks with p < 1e-5
    expected = n / N_VIEWS
    assert counts.size == N_VIEWS and np.all(np.abs(counts - expected) < 5 * np.sqrt(n * (1 / 12) * (11 / 12)))
    np.testing.assert_array_equal(draws, draw_sample_views(n, N_VIEWS, seed=3, epoch=0))  # same seed, same draw
    assert not np.array_equal(draws, draw_sample_views(n, N_VIEWS, seed=4, epoch=0))  # other seed
    assert not np.array_equal(draws, draw_sample_views(n, N_VIEWS, seed=3, epoch=1))  # redrawn every epoch


def _marked_views(n_views: int, n: int) -> list[np.ndarray]:
    """View ``v`` of sample ``i`` is the constant image ``v + i / 1000`` (view and sample readable from a pixel)."""
    return [np.full((n, 3, 4, 4), v, np.float32) + (np.arange(n, dtype=np.float32) / 1000)[:, None, None, None]
            for v in range(n_views)]


def test_view_mix_batches_serve_the_recorded_view_of_each_sample():
    arrays, n = _marked_views(5, 40), 40
    targets = np.arange(n) % 3
    indices = np.arange(0, n, 2)
    batches = ViewMixBatches(arrays, targets, indices, 6, seed=7, generator=torch.Generator().manual_seed(0))
    for epoch in range(3):
        served = {}
        for x, _ in batches:
            for image in x.numpy():
                view, sample = divmod(round(float(image[0, 0, 0]) * 1000), 1000)
                served[sample] = view
        record = batches.record[epoch]
        assert sorted(served) == indices.tolist()  # every training sample once per epoch
        assert [served[i] for i in indices.tolist()] == record.tolist()  # through its recorded view
    assert not np.array_equal(batches.record[0], batches.record[1])


def test_view_mix_batches_of_one_view_are_the_array_batches():
    """Same chunks, shuffle and lone-last-sample rule as ArrayBatches: only where a sample is read differs."""
    from lens2logit.training.batches import ArrayBatches

    arrays, n = _marked_views(1, 40), 40
    targets, indices = np.arange(n) % 3, np.arange(2, n, 2)  # 19 samples, batch 6: 6, 6, 7 (lone last joins)
    for shuffle in (None, 3):
        make = lambda: None if shuffle is None else torch.Generator().manual_seed(shuffle)  # noqa: E731
        mixed = ViewMixBatches(arrays, targets, indices, 6, seed=7, generator=make())
        plain = ArrayBatches(arrays[0], targets, indices, 6, generator=make())
        assert len(mixed) == len(plain) == 3
        for (xm, ym), (xp, yp) in zip(mixed, plain, strict=True):
            assert torch.equal(xm, xp) and torch.equal(ym, yp)


def _lovo_data(root, n=48):
    rng = np.random.default_rng(0)
    labels = (np.arange(n) % 2).astype(np.int64)
    base = rng.uniform(0.2, 0.4, size=(n, 3, SIZE, SIZE)).astype(np.float32)
    base[labels == 1, :, : SIZE // 2] += 0.3
    paths = []
    for k, view in enumerate(VIEWS[:4]):
        path = root / f"view{k}.npy"
        np.save(path, (base * (0.8 + 0.1 * k)).astype(np.float32))
        paths.append((view, path))
    np.save(root / "targets.npy", labels)
    save_folds(root / "folds.json", make_folds(labels, 4, seed=0, kind="classification"))
    return paths


def test_leave_one_view_out_never_trains_on_the_held_out_view(tmp_path):
    paths = _lovo_data(tmp_path)
    views = [v for v, _ in paths]
    held = views[2]
    kept = lovo_training_views(views, held)
    assert held not in kept and len(kept) == len(views) - 1
    files = [dict(paths)[v] for v in kept]
    ckpt = train_on_views(files, kept, tmp_path / "targets.npy", tmp_path / "folds.json", 0, device="cpu",
                          kind="classification", arch="small_cnn", epochs=2, batch_size=8, lr=1e-3,
                          augmentation="weak", seed=5, classes=["a", "b"])
    assert ckpt["train_views"] == kept and held not in ckpt["train_views"]
    assert ckpt["calibration"] is not None  # trained by train_on_view: a static checkpoint's keys too
    assert str(dict(paths)[held]) not in ckpt["config"]["views_paths"]
    record = np.array(ckpt["sample_views"])  # (epochs, n_train): index into train_views
    assert record.shape == (2, len(ckpt["train_indices"]))
    trained_on = {ckpt["train_views"][i] for i in np.unique(record)}
    assert held not in trained_on and trained_on == set(kept)  # 36 samples × 2 epochs reach all 3 views


def test_one_job_trains_and_scores_every_leave_one_view_out_model(tmp_path):
    from lens2logit.training import read_checkpoint

    paths = _lovo_data(tmp_path)
    labels, files = [v for v, _ in paths], [str(f) for _, f in paths]
    folds = [0, 1]
    models = [tmp_path / f"model_{i}_{k}.pt" for i in range(len(labels)) for k in folds]
    tables = [tmp_path / f"metrics_{i}_{k}.csv" for i in range(len(labels)) for k in folds]
    train_leave_one_view_out(files, labels, tmp_path / "targets.npy", None, tmp_path / "folds.json", folds, models, tables,
                             regime="isp_views", augmentation="weak", seed=5, eval_batch_size=16, device="cpu",
                             kind="classification", arch="small_cnn", epochs=1, batch_size=8, lr=1e-3, classes=["a", "b"])
    for i, held in enumerate(labels):  # outputs held-out view after view, fold after fold
        for j, fold in enumerate(folds):
            ckpt = read_checkpoint(models[i * len(folds) + j])
            assert ckpt["fold"] == fold and ckpt["train_views"] == [v for v in labels if v != held]
            table = pd.read_csv(tables[i * len(folds) + j])
            assert set(table["train_view"]) == {lovo_label(held)} and set(table["fold"]) == {fold}
            assert list(dict.fromkeys(table["test_view"])) == labels  # scored on every view, the held-out one too
    with pytest.raises(ValueError, match="4 view files for 4 views, 7 models"):
        train_leave_one_view_out(files, labels, tmp_path / "targets.npy", None, tmp_path / "folds.json", folds, models[:7],
                                 tables[:7], regime="isp_views", augmentation="weak", seed=5, eval_batch_size=16, device="cpu")


def test_lovo_refuses_an_unknown_held_out_view():
    with pytest.raises(InputError, match="held-out view"):
        lovo_training_views(VIEWS[:3], VIEWS[5])


def _config(**robust):
    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["forensics"] = {"enabled": False}
    cfg["customization"] = {"enabled": False}
    cfg["robust"] = {"enabled": True, **robust}
    return cfg


@pytest.mark.parametrize("robust, key", [
    ({"datasets": ["no_such_dataset"]}, "robust.datasets"),
    ({"folds": 99}, "robust.folds"),
    ({"regime": "isp_guess"}, "robust.regime"),
])  # fmt: skip
def test_bad_robust_options_are_refused_at_plan_time_naming_the_key(robust, key):
    check_config(_config())  # the defaults pass
    with pytest.raises(InputError, match=key.replace(".", r"\.")):
        check_config(_config(**robust))


def _matrix(cells: dict) -> pd.DataFrame:
    return pd.DataFrame([{"train_view": r, "test_view": c, "metric": "accuracy", "mean": m, "std": 0.0, "n": 1,
                          "augmentation": "weak"} for (r, c), m in cells.items()])


def test_robust_summary_compares_unseen_drop_with_static_drop_and_cost():
    views = VIEWS[:3]
    # static: diagonal 0.9, off-diagonal 0.6 → static drop 0.3 to every view
    static = _matrix({(r, c): 0.9 if r == c else 0.6 for r in views for c in views})
    # robust: 0.88 on seen views, 0.82 on the held-out → drop 0.06, cost 0.02
    robust = _matrix({(lovo_label(h), c): 0.82 if c == h else 0.88 for h in views for c in views})
    s = robust_summary(robust, static, views, "accuracy")
    assert s["n_held_out"] == 3
    assert s["robust_mean_drop_unseen"] == pytest.approx(0.06)
    assert s["static_mean_drop"] == pytest.approx(0.3)
    assert s["drop_ratio"] == pytest.approx(0.2)
    assert s["cost_seen"] == pytest.approx(0.02)
    assert s["target"]["drop"] == "holds" and s["target"]["cost"] == "fails" and not s["target"]["holds"]


def test_summary_gets_one_robust_line_per_dataset(tmp_path):
    import json

    from lens2logit.study.summary import robust_section

    views = VIEWS[:3]
    static = _matrix({(r, c): 0.9 if r == c else 0.6 for r in views for c in views})
    robust = _matrix({(lovo_label(h), c): 0.82 if c == h else 0.88 for h in views for c in views})
    path = tmp_path / "microscopy" / "summary.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"dataset": "microscopy", **robust_summary(robust, static, views, "accuracy")}))
    lines = robust_section([str(path)])
    assert lines[0].startswith("## Drift-robust training")
    rows = [line for line in "\n".join(lines).splitlines() if line.startswith("| microscopy")]
    assert len(rows) == 1 and "drop holds, cost fails" in rows[0]
    # every finding states its n: held-out views and folds per model, and the static drop its interval
    header = next(line for line in lines if line.startswith("| dataset"))
    assert "held-out views" in header and "folds per model" in header and "static 90 % CI" in header
    assert "| 3 | 1 |" in rows[0]
    assert robust_section([]) == []


def test_workflow_plans_one_robust_job_per_dataset(tmp_path):
    """Dry run of the test workflow with the robust stage on: one train_robust job (every held-out view), one aggregate."""
    import re

    from conftest import copy_workflow, snakemake

    wf = copy_workflow(tmp_path)
    out = snakemake(wf, "-n", "--config", "robust={enabled: true, datasets: [microscopy], folds: 1}")
    text = out.stdout + out.stderr
    counts = dict(re.findall(r"^(train_robust|aggregate_robust)\s+(\d+)$", text, re.M))
    assert counts == {"train_robust": "1", "aggregate_robust": "1"}
    job = next(block for block in text.split("\n\n") if "rule train_robust:" in block)
    outputs = re.search(r"output: (.*)", job).group(1)
    assert outputs.count("results/robust/microscopy/models/") == 3  # configs/test.yaml: 3 views, 1 fold
