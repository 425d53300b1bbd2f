"""The Snakemake workflow, run for real on the tiny config (configs/test.yaml).

One run is shared by the session (``conftest.workflow_run``) and only read here: the outputs' shapes
and contents, a second run that does nothing, a parameter change that reruns only what depends on it.
Tests that change files (a library edit, a training job killed with SIGKILL that is never taken as
finished, jobs per fold) work on their own copy of the run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE, TEST_CONFIG, WORKFLOW_ENV, copy_run, copy_workflow, snakemake
from lens2logit.isp.views import get_view

pytestmark = pytest.mark.slow


def planned_jobs(output: str) -> dict[str, int]:
    """Parse the 'Job stats' table of a dry run into {rule: count}."""
    counts = {}
    for line in output.splitlines():
        m = re.match(r"^\s*([a-z_]+)\s+(\d+)\s*$", line)
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


@pytest.fixture(scope="module")
def run(workflow_run):
    """The session's run of configs/test.yaml (read only)."""
    return workflow_run


VIEWS = TEST_CONFIG["views"]
DATASETS = TEST_CONFIG["datasets"]
FOLDS = TEST_CONFIG["drift"]["folds"]


@pytest.mark.parametrize("dataset", DATASETS)
def test_drift_matrix_has_every_pair_and_metric(run, dataset):
    table = pd.read_csv(run / f"results/drift/{dataset}/matrix.csv")
    assert list(table.columns[:6]) == ["train_view", "test_view", "metric", "mean", "std", "n"]
    metrics = {"accuracy", "precision", "recall", "f1"} if dataset != "drone_segmentation" else {"iou_image", "iou_dataset"}
    assert set(table["metric"]) == metrics
    assert len(table) == len(VIEWS) ** 2 * len(metrics)
    for metric in metrics:
        sub = table[table.metric == metric]
        assert set(zip(sub.train_view, sub.test_view)) == {(a, b) for a in VIEWS for b in VIEWS}
    assert (table["n"] == FOLDS).all()
    assert table["mean"].between(0, 1).all() and (table["std"].dropna() >= 0).all()
    # labels contain commas, so the CSV must quote them
    assert f'"{VIEWS[0]}"' in (run / f"results/drift/{dataset}/matrix.csv").read_text()
    for name in ("matrix.png", "difference.png"):
        assert (run / f"results/drift/{dataset}/{name}").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("dataset", DATASETS)
def test_per_model_metrics_match_a_fresh_evaluation(run, dataset):
    """The aggregated cell equals the mean of the per-fold tables, which equal a fresh evaluation."""
    from lens2logit.training.evaluate import evaluate_model

    aug = TEST_CONFIG["drift"]["augmentations"][0]
    view = get_view(VIEWS[0])
    values = []
    for k in range(FOLDS):
        model = run / f"results/models/{dataset}/{aug}/100/{view.slug}/fold{k}.pt"
        fresh = evaluate_model(model, [{"views": run / f"results/views/{dataset}/100/{get_view(VIEWS[-1]).slug}.npy",
                                        "targets": run / f"results/data/{dataset}/100/targets.npy", "test_view": VIEWS[-1]}])
        metric = fresh["metric"].iloc[0]
        stored = pd.read_csv(run / f"results/metrics/{dataset}/{aug}/100/{view.slug}/fold{k}.csv")
        row = stored[(stored.test_view == VIEWS[-1]) & (stored.metric == metric) & np.isclose(stored.test_intensity, 1.0)]
        assert row["value"].iloc[0] == pytest.approx(fresh["value"].iloc[0], abs=1e-6)
        values.append(row["value"].iloc[0])
    table = pd.read_csv(run / f"results/drift/{dataset}/matrix.csv")
    cell = table[(table.train_view == VIEWS[0]) & (table.test_view == VIEWS[-1]) & (table.metric == metric)]
    assert cell["mean"].iloc[0] == pytest.approx(np.mean(values))


@pytest.mark.parametrize("dataset", DATASETS)
def test_float16_views_change_the_drift_diagonal_little(run, dataset, tmp_path):
    """render.dtype float16 (the paper config's view storage): every model of the run scored on its own view
    rounded to float16 gives the float32 predictions, up to one flipped image or 1e-3 of IoU per model
    (benchmarks/view_dtype.py measures the default run)."""
    from lens2logit.training.evaluate import evaluate_model

    aug = TEST_CONFIG["drift"]["augmentations"][0]
    targets = run / f"results/data/{dataset}/100/targets.npy"
    for view in (get_view(v).slug for v in VIEWS):
        full_path = run / f"results/views/{dataset}/100/{view}.npy"
        half_path = tmp_path / f"{view}.npy"
        np.save(half_path, np.load(full_path).astype(np.float16))
        for k in range(FOLDS):
            model = run / f"results/models/{dataset}/{aug}/100/{view}/fold{k}.pt"
            full, half = (evaluate_model(model, [{"views": p, "targets": targets}], with_samples=True)
                          for p in (full_path, half_path))  # fmt: skip
            if "prediction" in full[1]:
                assert (full[1]["prediction"] != half[1]["prediction"]).sum() <= 1, (view, k)
            else:
                np.testing.assert_allclose(half[0]["value"], full[0]["value"], atol=1e-3, err_msg=f"{view} fold {k}")


def test_folds_partition_the_dataset(run):
    import json

    for dataset in DATASETS:
        folds = json.loads((run / f"results/splits/{dataset}.json").read_text())["folds"]
        n = len(np.load(run / f"results/data/{dataset}/100/targets.npy", mmap_mode="r"))
        vals = sorted(i for f in folds for i in f["val"])
        assert vals == list(range(n))
        for f in folds:
            assert not set(f["train"]) & set(f["val"])


@pytest.mark.parametrize("dataset", DATASETS)
def test_corruption_table_and_comparison(run, dataset):
    table = pd.read_csv(run / f"results/corruptions/{dataset}/table.csv")
    assert list(table.columns) == ["view", "corruption", "metric", "mean", "std", "n"]
    names = set(TEST_CONFIG["corruptions"]["names"]) | {"identity"}
    assert set(table["corruption"]) == names
    assert set(table["view"]) == set(VIEWS)
    assert (table["n"] == FOLDS).all()
    comp = pd.read_csv(run / f"results/corruptions/{dataset}/comparison.csv")
    assert comp["view"].tolist() == VIEWS + ["all"]
    # the clean score of the corruption run is the drift matrix's diagonal
    drift = pd.read_csv(run / f"results/drift/{dataset}/matrix.csv")
    metric = comp["metric"].iloc[0]
    diag = drift[(drift.metric == metric) & (drift.train_view == drift.test_view)].set_index("train_view")["mean"]
    for _, row in comp.iloc[:-1].iterrows():
        assert row["clean"] == pytest.approx(diag[row["view"]], abs=1e-6)
    # drops raw and normalised by headroom (clean − chance), and the ratio, per dataset
    from lens2logit.drift.aggregate import COMPARISON_COLUMNS

    assert list(comp.columns) == COMPARISON_COLUMNS
    assert comp["chance"].between(0, 1).all() and comp["chance"].nunique() == 1
    np.testing.assert_allclose(comp["headroom"], comp["clean"] - comp["chance"])
    np.testing.assert_allclose(comp["corruption_drop_normalised"], comp["corruption_drop"] / comp["headroom"])


@pytest.mark.parametrize("dataset", DATASETS)
def test_intensity_matrix(run, dataset):
    table = pd.read_csv(run / f"results/intensity/{dataset}/matrix.csv")
    assert list(table.columns) == ["train_intensity", "test_intensity", "metric", "mean", "std", "n"]
    levels = sorted(TEST_CONFIG["intensity_drift"]["intensities"])
    for metric, sub in table.groupby("metric"):
        assert sorted(set(sub.train_intensity)) == levels and sorted(set(sub.test_intensity)) == levels
        assert len(sub) == len(levels) ** 2
    assert (run / f"results/intensity/{dataset}/matrix.png").exists()


KIND = {"microscopy": "classification", "drone_classification": "classification", "drone_segmentation": "segmentation"}
KIND_METRICS = {"classification": {"accuracy", "precision", "recall", "f1"}, "segmentation": {"iou_image", "iou_dataset"}}
# forensics reports the headline pair of each kind and how far the attacked ISP's output moved
FORENSICS_METRICS = {"classification": {"accuracy", "f1"}, "segmentation": {"iou_image", "iou_dataset"}}
DISTANCES = {"mse_to_reference", "ssim_to_reference"}


def check_fold_summary(table: pd.DataFrame, folds: int) -> None:
    """``mean, std, n`` over ``folds`` folds: n everywhere, std NaN for one fold (ddof 1), else ≥ 0."""
    assert (table["n"] == folds).all(), table["n"].unique()
    assert table["mean"].notna().all()
    if folds == 1:
        assert table["std"].isna().all()
    else:
        assert (table["std"] >= 0).all()


@pytest.mark.parametrize("dataset", DATASETS)
def test_forensics_table(run, dataset):
    """One row per (parameter group × λ × regularizer) attack and metric, plus the clean ISP."""
    cfg = TEST_CONFIG["forensics"]
    table = pd.read_csv(run / f"results/forensics/{dataset}/table.csv")
    assert list(table.columns) == ["parameter_group", "lambda", "lambda_paper", "regularizer", "metric", "mean", "std", "n"]
    metrics = FORENSICS_METRICS[KIND[dataset]] | DISTANCES
    attacks = {(g, float(lam), r) for g in cfg["groups"] for lam in cfg["lambdas"] for r in cfg["regularizers"]}
    assert len(table) == (len(attacks) + 1) * len(metrics)
    clean = table[table.parameter_group == "none"]
    assert set(clean.metric) == metrics and clean["lambda"].isna().all() and clean["regularizer"].isna().all()
    attacked = table[table.parameter_group != "none"]
    for metric, sub in attacked.groupby("metric"):
        assert set(zip(sub.parameter_group, sub["lambda"].astype(float), sub.regularizer)) == attacks, metric
    assert set(attacked.metric) == metrics
    check_fold_summary(table, cfg["folds"])
    by_metric = {m: sub["mean"] for m, sub in table.groupby("metric")}
    for metric in metrics - DISTANCES:
        assert by_metric[metric].between(0, 1).all(), metric
    assert (by_metric["mse_to_reference"] >= 0).all() and by_metric["ssim_to_reference"].between(-1, 1).all()
    # the clean ISP is the reference itself
    clean_distance = clean.set_index("metric")["mean"]
    assert clean_distance["mse_to_reference"] == pytest.approx(0, abs=1e-9)
    assert clean_distance["ssim_to_reference"] == pytest.approx(1, abs=1e-5)
    # an unregularised attack on every stage moves the output away from the reference
    moved = attacked[(attacked.parameter_group == "all") & (attacked["lambda"] == 0) & (attacked.metric == "mse_to_reference")]
    assert (moved["mean"] > 0).all()
    for name in ("figure.png", "figure_distance.png", "strips.png"):
        assert (run / f"results/forensics/{dataset}/{name}").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("dataset", DATASETS)
def test_customization_tables(run, dataset):
    """Curves: every processing × intensity × fold × epoch × split × metric; final: their last epoch
    summarised over folds."""
    cfg = TEST_CONFIG["customization"]
    folds, epochs = cfg["folds"], cfg["epochs"]
    metrics = KIND_METRICS[KIND[dataset]] | {"loss"}
    cells = {(p, float(i)) for p in cfg["processings"] for i in cfg["intensities"]}
    curves = pd.read_csv(run / f"results/customization/{dataset}/curves.csv")
    assert list(curves.columns) == ["processing", "intensity", "epoch", "fold", "split", "metric", "value"]
    assert len(curves) == len(cells) * folds * epochs * 2 * len(metrics)
    assert set(zip(curves.processing, curves.intensity.astype(float))) == cells
    assert set(curves.fold) == set(range(folds)) and set(curves.epoch) == set(range(1, epochs + 1))
    assert set(curves.split) == {"train", "val"} and set(curves.metric) == metrics
    assert not curves.duplicated(["processing", "intensity", "epoch", "fold", "split", "metric"]).any()
    loss = curves.metric == "loss"
    assert np.isfinite(curves.value).all() and (curves.value[loss] >= 0).all()
    assert curves.value[~loss].between(0, 1).all()

    final = pd.read_csv(run / f"results/customization/{dataset}/final.csv")
    assert list(final.columns) == ["processing", "intensity", "metric", "mean", "std", "n"]
    assert len(final) == len(cells) * len(metrics)
    assert set(zip(final.processing, final.intensity.astype(float), final.metric)) == {(*c, m) for c in cells for m in metrics}
    check_fold_summary(final, folds)
    assert final["mean"][final.metric != "loss"].between(0, 1).all()
    # the final table is the last validation epoch of the curves, averaged over folds
    last = curves[(curves.epoch == epochs) & (curves.split == "val")]
    expected = last.groupby(["processing", "intensity", "metric"])["value"].mean()
    got = final.set_index(["processing", "intensity", "metric"])["mean"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False, atol=1e-9)
    assert (run / f"results/customization/{dataset}/figure.png").read_bytes()[:4] == b"\x89PNG"


def test_summary_and_report(run, tmp_path):
    text = (run / "results/summary.md").read_text()
    for dataset in DATASETS:
        assert dataset in text
    assert "This run beside the paper" in text and "synthetic data" in text
    assert "| microscopy | mean drop of accuracy" in text
    snakemake(run, "--report", str(tmp_path / "report.html"))  # written outside the shared run
    assert (tmp_path / "report.html").stat().st_size > 10_000


def test_findings_rebuild_from_the_records_they_name(run, tmp_path):
    """The workflow's findings files name their record tables so that `study seeds` can compare runs by
    the difference of their replicates; the run compared with itself (the same replicates) differs by 0."""
    from lens2logit.study import seeds

    found = seeds.read_run(run / "results")
    reps, why = seeds.read_replicates(run / "results", found)
    assert why == "" and set(reps) == set(found) == set(DATASETS)
    text = seeds.write_seed_table([run / "results", run / "results"], tmp_path / "t.md", names=["a", "b"])
    assert "| a − b [90 %] |" in text and "| 0.000 [0.000, 0.000] |" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "dataset" not in line]
    assert rows and all(line.endswith("| yes |") for line in rows)
    assert "*Within seed noise* = the 90 % interval of every difference between runs contains 0 (the most-dropped view: each run's view in every other run's 90 % set of views): " in text


def test_second_run_has_nothing_to_do(run):
    out = snakemake(run, "-n").stdout
    assert "Nothing to be done" in out, out[-2000:]


def test_changing_one_view_parameter_reruns_only_its_dependents(run):
    """unsharp=2d changes only the unsharp-masked views ('u' in the label): their one render job
    per dataset (the static views are another job) and what depends on them."""
    out = snakemake(run, "-n", "--config", "unsharp=2d").stdout
    jobs = planned_jobs(out)
    u_views = [v for v in VIEWS if get_view(v).sharpen == "unsharp_masking"]
    assert u_views, "the test config must contain an unsharp-masked view"
    assert jobs.get("render_views_unsharp") == len(DATASETS), jobs
    assert "render_views" not in jobs and "render_views_other_intensities" not in jobs, jobs
    # one training job per (dataset, augmentation, view) trains all its folds
    assert jobs.get("train_models") == len(u_views) * len(DATASETS) * len(TEST_CONFIG["drift"]["augmentations"]), jobs
    assert "prepare_dataset" not in jobs and "synthesize_data" not in jobs and "make_splits" not in jobs


def test_views_are_rendered_a_few_jobs_at_a_time(run):
    """One job per (dataset, sharpening) at the reference intensity, one per dataset for the other intensities."""
    bench = run / "results/benchmarks"
    has_static = any(get_view(v).sharpen != "unsharp_masking" for v in VIEWS)
    assert len(list(bench.glob("render_views/*.tsv"))) == len(DATASETS) * has_static
    assert len(list(bench.glob("render_views_unsharp/*.tsv"))) == len(DATASETS)
    assert len(list(bench.glob("render_views_other_intensities/*.tsv"))) == len(DATASETS)
    for dataset in DATASETS:
        assert {p.stem for p in (run / f"results/views/{dataset}/100").glob("*.npy")} == {get_view(v).slug for v in VIEWS}


def test_timing_table_counts_every_job(run):
    table = pd.read_csv(run / "results/timing.csv")
    assert list(table.columns[:3]) == ["rule", "jobs", "total_s"]
    jobs = dict(zip(table.rule, table.jobs))
    # train_models_intensity (a `use rule` twin) writes its benchmarks under train_models/: one job per view folder
    assert jobs["train_models"] == len({p.parent for p in (run / "results/models").rglob("*.pt")})
    assert jobs["render_views_unsharp"] == len(DATASETS) and (table.total_s > 0).all()
    assert "| train_models |" in (run / "results/timing.md").read_text()


# ---- reruns follow the library code (params `code`: lens2logit.workflow.codehash) -------------------


def library_copy(run: Path) -> dict:
    """A copy of src/ inside the run, imported by Snakemake and its jobs instead of the repo's."""
    if not (run / "src").exists():
        shutil.copytree(REPO / "src", run / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return {**WORKFLOW_ENV, "PYTHONPATH": str(run / "src")}


def dry_run(run: Path, env: dict, *args: str) -> str:
    cmd = [str(SNAKEMAKE), "--configfile", "configs/test.yaml", "--cores", "2", "-n", *args]
    proc = subprocess.run(cmd, cwd=run, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def edit_function(path: Path, name: str) -> str:
    """Add a statement to function `name` (a change of behaviour for the hash); returns the old text."""
    import ast

    text = path.read_text()
    node = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and n.name == name)
    first = node.body[1] if ast.get_docstring(node) and len(node.body) > 1 else node.body[0]
    lines = text.splitlines(keepends=True)
    lines.insert(first.lineno - 1, " " * first.col_offset + "_edited = True\n")
    path.write_text("".join(lines))
    return text


def test_library_edit_reruns_exactly_the_jobs_that_run_it(run, tmp_path):
    run = copy_run(run, tmp_path / "run")
    env = library_copy(run)
    assert "Nothing to be done" in dry_run(run, env), "a copy of the same code must change nothing"
    lib = run / "src/lens2logit"

    # only comments and docstrings: nothing to do
    aggregate = lib / "drift/aggregate.py"
    text = aggregate.read_text()
    aggregate.write_text("# a comment\n" + text.replace('"""', '""" ', 1))
    try:
        assert "Nothing to be done" in dry_run(run, env)
    finally:
        aggregate.write_text(text)

    # one function used only by aggregation: the aggregates and the summary built from them
    edit_function(aggregate, "write_intensity")
    try:
        jobs = planned_jobs(dry_run(run, env))
    finally:
        aggregate.write_text(text)
    n = len(DATASETS)
    # (the lab log ingests the aggregates: tracking.enabled is true by default)
    assert jobs == {"aggregate_drift": n, "aggregate_corruptions": n, "aggregate_intensity": n,
                    "summarize": 1, "timing": 1, "ingest_mlflow": 1, "all": 1}, jobs  # the lab log takes in the new tables

    # the demosaicer: every view and everything downstream, but not the data or the splits
    demosaic = lib / "isp/demosaic.py"
    import ast

    first_function = next(n.name for n in ast.parse(demosaic.read_text()).body if isinstance(n, ast.FunctionDef))
    text = edit_function(demosaic, first_function)
    try:
        jobs = planned_jobs(dry_run(run, env))
    finally:
        demosaic.write_text(text)
    forced = planned_jobs(dry_run(run, env, "--forcerun", "render_views", "render_views_unsharp", "render_views_other_intensities"))
    assert jobs == forced, (jobs, forced)
    assert {"render_views", "render_views_unsharp", "render_views_other_intensities", "train_models", "evaluate_models"} <= set(jobs)
    assert not {"synthesize_data", "prepare_dataset", "make_splits"} & set(jobs), jobs

    # the lab-log ingest (issue 19, D3: it had no `code` param, so its code never reran it)
    sync = lib / "tracking/sync.py"
    text = edit_function(sync, "ingest")
    try:
        jobs = planned_jobs(dry_run(run, env))
    finally:
        sync.write_text(text)
    assert jobs == {"ingest_mlflow": 1, "all": 1}, jobs
    assert "Nothing to be done" in dry_run(run, env)


def test_sigkill_mid_training_never_leaves_a_finished_model(run, tmp_path):
    """SIGKILL the training process mid-epoch: Snakemake fails the job, no model file appears,
    and the next run trains it again."""
    import psutil

    run = copy_run(run, tmp_path / "run")
    dataset, view = "microscopy", get_view(VIEWS[0]).slug
    aug = TEST_CONFIG["drift"]["augmentations"][0]
    target = run / f"results/models/{dataset}/{aug}/100/{view}/fold0.pt"
    target.unlink()
    slow_training = {**TEST_CONFIG["training"], "classification": {"arch": "small_cnn", "epochs": 1500, "batch_size": 4, "lr": 0.002}}
    (run / "configs" / "slow.yaml").write_text(yaml.safe_dump({"training": slow_training}))
    cmd = [str(SNAKEMAKE), "--configfile", "configs/test.yaml", "configs/slow.yaml", "--cores", "1", str(target.relative_to(run))]
    proc = subprocess.Popen(cmd, cwd=run, env=WORKFLOW_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        trainer = None
        deadline = time.time() + 120
        while trainer is None and time.time() < deadline:
            time.sleep(0.2)
            for child in psutil.Process(proc.pid).children(recursive=True):
                try:
                    if any("train_models" in part for part in child.cmdline()):
                        trainer = child
                except psutil.NoSuchProcess:
                    pass
        assert trainer is not None, "training job never started"
        time.sleep(4)  # well inside the 1500 epochs
        assert trainer.is_running(), "training finished before it could be killed; make it slower"
        trainer.kill()  # SIGKILL
        assert proc.wait(timeout=120) != 0, "Snakemake must report the killed job as failed"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the job trains every fold of the view: none of its models is left (Snakemake may remove the folder)
    assert not list(target.parent.glob("fold*.pt*")), "a killed training job left a model file"
    # the rerun trains the model again and the workflow finishes
    assert "train_models" in planned_jobs(snakemake(run, "-n").stdout)
    snakemake(run)
    from lens2logit.training import load_model

    model, ckpt = load_model(target)
    assert ckpt["fold"] == 0
    assert "Nothing to be done" in snakemake(run, "-n").stdout


@pytest.mark.parametrize(
    "override, needle",
    [
        ({"views": ["bi,s,me", "xx,s,me"]}, "views"),
        ({"datasets": ["microscopy", "histology"]}, "datasets"),
        ({"training": {"classification": {"arch": "small_cnn", "epochs": -1, "batch_size": 4, "lr": 0.1},
                       "segmentation": {"arch": "small_unet", "epochs": 1, "batch_size": 4, "lr": 0.1}}}, "epochs"),
    ],
)
def test_bad_config_is_rejected_before_any_job(tmp_path, override, needle):
    workdir = copy_workflow(tmp_path / "wf")
    cfg = {**TEST_CONFIG, **override}
    (workdir / "configs" / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([str(SNAKEMAKE), "--configfile", "configs/bad.yaml", "-n", "--cores", "1"], cwd=workdir,
                          env=WORKFLOW_ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert needle in (proc.stdout + proc.stderr)
    assert not (workdir / "results").exists() and not (workdir / "data").exists()


def test_an_unknown_config_key_is_refused_at_plan_time_in_one_line(tmp_path):
    """A config written before the rename (`tasks:` for `datasets:`) is refused by `snakemake -n`, naming the key."""
    workdir = copy_workflow(tmp_path / "wf")
    old = {"tasks": ["microscopy"], **{k: v for k, v in TEST_CONFIG.items() if k != "datasets"}}
    (workdir / "configs" / "old.yaml").write_text(yaml.safe_dump(old))
    cmd = [str(SNAKEMAKE), "--configfile", "configs/old.yaml", "-n", "--cores", "1"]
    proc = subprocess.run(cmd, cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "Additional properties are not allowed ('tasks' was unexpected)" in proc.stdout + proc.stderr
    assert not (workdir / "results").exists()


def test_a_yaml_syntax_error_in_config_yaml_names_file_line_and_column(tmp_path):
    """Snakemake's own message for a broken config file names neither file nor line; the Snakefile checks
    config.yaml first. (A broken --configfile is read by Snakemake's command line before any project
    code: `lens2logit config check FILE` names its line.)"""
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "config.yaml").write_text("seed: 3\n  datasets: [microscopy]\n")
    proc = subprocess.run([str(SNAKEMAKE), "-n", "--cores", "1"], cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert f"{workdir / 'config.yaml'}:2:11: YAML syntax error: mapping values are not allowed here" in proc.stdout + proc.stderr


def test_lint_is_clean():
    proc = subprocess.run([str(SNAKEMAKE), "--lint"], cwd=REPO, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def local_weight_files(config) -> list[str]:
    """Every ``pretrained`` path of a config (local weight files the user provides)."""
    if isinstance(config, dict):
        found = [v for k, v in config.items() if k == "pretrained" and isinstance(v, str)]
        return found + [w for v in config.values() for w in local_weight_files(v)]
    if isinstance(config, list):
        return [w for v in config for w in local_weight_files(v)]
    return []


def test_paper_config_builds_its_dag(tmp_path):
    """The paper's DAG plans; its pretrained weights are the user's local files, which planning only
    checks for presence, so empty stand-ins are written in a copy of the workflow."""
    workdir = copy_workflow(tmp_path / "wf")
    weights = local_weight_files(yaml.safe_load((REPO / "configs/paper.yaml").read_text()))
    for name in weights:
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_bytes(b"")
    proc = subprocess.run([str(SNAKEMAKE), "--configfile", "configs/paper.yaml", "-n", "--cores", "8", "--quiet", "rules"],
                          cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = planned_jobs(proc.stdout)
    # one job per view (every fold): 3 datasets × 12 views × 3 augmentations at full light, plus the
    # intensity models (one view, 6 lower intensities); corruption scoring one job per view
    assert jobs["train_models"] == 3 * 12 * 3 and jobs["train_models_intensity"] == 3 * 6
    assert jobs["score_corruptions"] == 3 * 12
    # one evaluation job per dataset, every study on every dataset (config.yaml's per-study choices overridden)
    assert jobs["evaluate_models"] == 3
    assert jobs["drift_forensics"] == jobs["isp_customization"] == 3
