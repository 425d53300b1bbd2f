"""The lab log (MLflow), against real parts: the workflow's ingest rule, the SQLite store, a real
``mlflow server`` on 127.0.0.1, the registry, the SQL questions and the ``lens2logit runs`` command.

The module's study is a copy of the session's ``dvc_study`` (configs/test.yaml) narrowed to
microscopy (the drone datasets' results removed) with the customization moved to 1 % light, the
level the lab log's SQL question asks about: only that branch, the summary and the ingest rule run
again, which writes ``results/mlflow/mlflow.db``.
Tests read the study; one that reruns the workflow works on its own copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import yaml

from conftest import BIN, REPO, TEST_CONFIG, copy_run, free_port, run, tool_env
from lens2logit.data.layout import intensity_slug

pytestmark = pytest.mark.slow

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
LOW_LIGHT = 0.01  # the intensity of the lab log's question "learned vs static ISP at 1 % light"
ENV = tool_env(MLFLOW_DISABLE_TELEMETRY="true", PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")


def snakemake(workdir: Path, *args: str, check: bool = True):
    return run([str(BIN / "snakemake"), "--cores", "2", *args], workdir, env=ENV, check=check)


@pytest.fixture(scope="module")
def study(dvc_study, tmp_path_factory) -> Path:
    """A copy of the DVC study, customization at 1 % light, ingested into its default SQLite store by
    the workflow's own rule (the copy's lab log starts empty: no record points into another folder)."""
    import shutil

    workdir = copy_run(dvc_study.origin, tmp_path_factory.mktemp("tracking") / "study")
    shutil.rmtree(workdir / "results/mlflow")
    for path in sorted(workdir.joinpath("results").rglob("drone*"), reverse=True):  # datasets and their source
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["datasets"] = ["microscopy"]
    config["customization"]["intensities"] = [LOW_LIGHT]
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run(["git", "commit", "-q", "-am", "customization at 1 % light"], workdir, env=ENV)
    snakemake(workdir)
    return workdir


CONFIG = TEST_CONFIG
EPOCHS = CONFIG["training"]["classification"]["epochs"]
AUG = CONFIG["drift"]["augmentations"][0]
MODEL = f"microscopy.{AUG}.100.bi-s-ga.fold0"
ISP = "isp.microscopy.001.parametrized.fold0"


def db_rows(db: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql, args).fetchall()


def active_runs(db: Path) -> dict[str, int]:
    rows = db_rows(db, "SELECT e.name, COUNT(*) FROM runs r JOIN experiments e USING (experiment_id) "
                       "WHERE r.lifecycle_stage = 'active' GROUP BY e.name")  # fmt: skip
    return dict(rows)


def expected_runs(results: Path) -> dict[str, int]:
    """Runs the lab log must hold, counted from the result files themselves."""
    from lens2logit.tracking.store import CUSTOMIZATION_EXPERIMENTS, FORENSICS_EXPERIMENT, TEST_EXPERIMENT, TRAIN_EXPERIMENT

    models = list(results.glob("models/*/*/*/*/fold*.pt"))
    tests = len(list(results.glob("metrics/*/*/*/*/fold*.csv")))
    attacks = len(json.loads((results / "forensics/microscopy/attacks.json").read_text())["attacks"])
    curves = pd.read_csv(results / "customization/microscopy/curves.csv")
    custom = len(curves[["processing", "intensity", "fold"]].drop_duplicates())
    return {TRAIN_EXPERIMENT: len(models), TEST_EXPERIMENT: tests + 1, FORENSICS_EXPERIMENT: attacks + 1,
            CUSTOMIZATION_EXPERIMENTS["microscopy"]: custom + 1}  # fmt: skip  (+1: each experiment's summary run)


def tree_digest(folder: Path, skip: str = "mlflow") -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and skip not in p.relative_to(folder).parts):
        h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------- SQLite default
def test_workflow_ingest_logs_runs_metrics_artifacts_and_models(study):
    results = study / "results"
    db = results / "mlflow/mlflow.db"
    summary = json.loads((results / "mlflow/ingest.json").read_text())
    assert summary["tracking_uri"] == f"sqlite:///{db.resolve()}"
    assert active_runs(db) == expected_runs(results)
    # per-epoch history of a training run, its params, split indices and wall time
    (run_id,) = db_rows(db, "SELECT run_uuid FROM runs WHERE name = ? AND lifecycle_stage = 'active'", MODEL)[0]
    steps = db_rows(db, "SELECT step, value FROM metrics WHERE run_uuid = ? AND key = 'val_accuracy' ORDER BY step", run_id)
    ckpt = __import__("torch").load(results / f"models/microscopy/{AUG}/100/bi-s-ga/fold0.pt", weights_only=True)
    history = [r["accuracy"] for r in ckpt["history"] if r["split"] == "val"]
    assert [s for s, _ in steps] == list(range(1, EPOCHS + 1))
    assert [v for _, v in steps] == pytest.approx(history)
    params = dict(db_rows(db, "SELECT key, value FROM params WHERE run_uuid = ?", run_id))
    assert params["view"] == "bi,s,ga" and params["fold"] == "0" and params["arch"] == "small_cnn" and params["seed"] == "3"
    assert (params["dataset"], params["source"], params["kind"]) == ("microscopy", "microscopy", "classification")
    assert "task" not in params
    tags = dict(db_rows(db, "SELECT key, value FROM tags WHERE run_uuid = ?", run_id))
    assert tags["lens2logit.dataset"] == "microscopy"
    assert tags["mlflow.source.git.commit"] == run(["git", "rev-parse", "HEAD"], study, env=ENV).stdout.strip()
    assert tags["lens2logit.git_dirty"] == "false"
    assert tags["device"] == "cpu"
    assert db_rows(db, "SELECT value FROM latest_metrics WHERE run_uuid = ? AND key = 'job_wall_time_s'", run_id)[0][0] > 0
    (artifact_uri,) = db_rows(db, "SELECT artifact_uri FROM runs WHERE run_uuid = ?", run_id)[0]
    splits = json.loads(Path(artifact_uri.removeprefix("file://"), "splits.json").read_text())
    assert splits["train"] == ckpt["train_indices"] and splits["val"] == ckpt["val_indices"]
    # the evaluation run links to its training run and holds one score per test view
    (test_id,) = db_rows(db, "SELECT run_uuid FROM tags WHERE key = 'lens2logit.train_run_id' AND value = ?", run_id)[0]
    table = pd.read_csv(results / f"metrics/microscopy/{AUG}/100/bi-s-ga/fold0.csv")
    scores = dict(db_rows(db, "SELECT key, value FROM latest_metrics WHERE run_uuid = ? AND key LIKE 'accuracy.%'", test_id))
    acc = table[table.metric == "accuracy"]  # every view at full light, the model's own view at the intensity-drift levels too
    assert scores == pytest.approx({f"accuracy.{v.replace(',', '-')}.{intensity_slug(i)}": x
                                    for v, i, x in zip(acc.test_view, acc.test_intensity, acc.value)})  # fmt: skip
    assert len(scores) > len(CONFIG["views"])
    # customization: per-epoch stage/gradient images of the learned ISP
    (custom_uri,) = db_rows(db, "SELECT r.artifact_uri FROM runs r JOIN tags t USING (run_uuid) WHERE t.key = 'lens2logit.key' "
                                "AND t.value = 'customization/microscopy/parametrized/001/fold0' AND r.lifecycle_stage = 'active'")[0]  # fmt: skip
    stages = sorted(Path(custom_uri.removeprefix("file://"), "stages").rglob("*.png"))
    assert len(stages) == EPOCHS and all(p.read_bytes()[:4] == b"\x89PNG" for p in stages)
    # registered models: every trained task model and the learned ISP, under stable names
    names = {n for (n,) in db_rows(db, "SELECT name FROM registered_models")}
    assert {MODEL, f"microscopy.{AUG}.100.ma-s-ga.fold1", "microscopy.none.001.parametrized.fold0", ISP} <= names
    assert len(db_rows(db, "SELECT * FROM model_versions WHERE name = ?", MODEL)) == 1
    version_tags = dict(db_rows(db, "SELECT key, value FROM model_version_tags WHERE name = ?", ISP))
    assert version_tags["lens2logit.model_type"] == "isp" and version_tags["lens2logit.dataset"] == "microscopy"


def test_second_ingest_changes_nothing_and_a_changed_result_replaces_its_runs(study, tmp_path):
    from lens2logit.tracking import ingest

    import shutil

    results = tmp_path / "results"
    shutil.copytree(study / "results", results, ignore=shutil.ignore_patterns("mlflow"))
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    first = ingest(results, tracking_uri=uri)
    counts = active_runs(tmp_path / "store/mlflow.db")
    second = ingest(results, tracking_uri=uri)
    assert first["created"] == first["runs"] and second["unchanged"] == second["runs"] and second["created"] == 0
    assert active_runs(tmp_path / "store/mlflow.db") == counts
    metrics = results / f"metrics/microscopy/{AUG}/100/ma-s-ga/fold1.csv"
    table = pd.read_csv(metrics)
    table.loc[table.metric == "accuracy", "value"] = 0.987654
    table.to_csv(metrics, index=False)
    third = ingest(results, tracking_uri=uri)
    assert third["replaced"] == 1 and third["created"] == 0
    assert active_runs(tmp_path / "store/mlflow.db") == counts
    values = db_rows(tmp_path / "store/mlflow.db", "SELECT m.value FROM latest_metrics m JOIN runs r USING (run_uuid) JOIN params p USING (run_uuid) "
                     "WHERE r.lifecycle_stage = 'active' AND m.key LIKE 'accuracy.%' AND p.key = 'train_model' AND p.value = ?", f"microscopy.{AUG}.100.ma-s-ga.fold1")  # fmt: skip
    assert [v for (v,) in values] == pytest.approx([0.987654] * len(CONFIG["views"]))


@pytest.fixture(scope="module")
def val_data(study):
    """Validation images of the registered drift model and its logged final validation accuracy."""
    import torch

    results = study / "results"
    ckpt = torch.load(results / f"models/microscopy/{AUG}/100/bi-s-ga/fold0.pt", weights_only=True)
    views = np.load(results / "views/microscopy/100/bi-s-ga.npy")
    targets = np.load(results / "data/microscopy/100/targets.npy")
    idx = np.asarray(ckpt["val_indices"])
    db = results / "mlflow/mlflow.db"
    logged = db_rows(db, "SELECT m.value FROM latest_metrics m JOIN runs r USING (run_uuid) WHERE r.name = ? "
                         "AND r.lifecycle_stage = 'active' AND m.key = 'val_accuracy'", MODEL)[0][0]  # fmt: skip
    return torch.from_numpy(views[idx]), torch.from_numpy(targets[idx]), logged


def accuracy(model, x, y) -> float:
    import torch

    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def test_registered_model_reloads_and_reproduces_its_validation_metric(study, val_data, monkeypatch):
    import mlflow
    import mlflow.pytorch

    from lens2logit.tracking.references import load_task_model, resolve_model

    monkeypatch.chdir(study)
    x, y, logged = val_data
    uri = f"sqlite:///{study / 'results/mlflow/mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model = mlflow.pytorch.load_model(f"models:/{MODEL}/1")
    assert accuracy(model, x, y) == pytest.approx(logged, abs=1e-6)
    # our own loader, through a reference resolved to the checkpoint the registry holds
    path = resolve_model(f"models:/{MODEL}/1", option="forensics.model", model_type="task-model", dataset="microscopy", tracking_uri=uri)
    assert "results/cache/models/registry" in path
    assert accuracy(load_task_model(path)[0], x, y) == pytest.approx(logged, abs=1e-6)
    # the learned ISP reloads too
    isp = mlflow.pytorch.load_model(f"models:/{ISP}/latest")
    assert isp(x[:, 0]).shape == (len(x), 3, *x.shape[-2:])


def test_bad_references_name_the_reference(study, monkeypatch):
    from lens2logit.errors import InputError
    from lens2logit.tracking.references import resolve_model

    monkeypatch.chdir(study)
    uri = f"sqlite:///{study / 'results/mlflow/mlflow.db'}"
    cases = {
        "models:/no.such.model/1": "no registered model 'no.such.model'",
        f"models:/{MODEL}/7": "has no version '7'",
        f"models:/{ISP}/1": "is a isp checkpoint, but forensics.model needs a task-model",
        "nowhere/model.pt": "checkpoint file not found",
    }
    for reference, message in cases.items():
        with pytest.raises(InputError, match=re.escape(message)) as err:
            resolve_model(reference, option="forensics.model", model_type="task-model", dataset="microscopy", tracking_uri=uri)
        assert reference in str(err.value)
    with pytest.raises(InputError, match="is a microscopy model, but it is used for dataset drone_segmentation"):
        resolve_model(f"models:/{MODEL}/1", option="forensics.model", dataset="drone_segmentation", tracking_uri=uri)
    port = free_port()
    with pytest.raises(InputError, match=f"MLflow tracking server http://127.0.0.1:{port} .* is unreachable"):
        resolve_model(f"models:/{MODEL}/1", option="forensics.model", tracking_uri=f"http://127.0.0.1:{port}")


# ------------------------------------------------------------------------------ SQL and the CLI
def test_sql_queries_answer_the_papers_questions(study):
    from lens2logit.isp.views import get_view
    from lens2logit.tracking.queries import QUERIES, run_sql

    results = study / "results"
    db = results / "mlflow/mlflow.db"
    doc = (REPO / "docs/lab-log.md").read_text()
    for sql in QUERIES.values():
        assert sql in doc  # the documented SQL is the SQL that is tested
    # worst train/test view pair, recomputed from the metric tables
    cols, rows = run_sql(db, "worst-drift-pair")
    tables = pd.concat([pd.read_csv(p) for p in results.glob(f"metrics/microscopy/{AUG}/100/*/fold*.csv")])
    tables["train_view"] = [get_view(v).slug for v in tables.train_view]
    tables["test_view"] = [get_view(v).slug for v in tables.test_view]
    full_light = (tables.metric == "accuracy") & np.isclose(tables.test_intensity, 1.0)  # intensity drift adds 5 % rows
    cells = tables[full_light].groupby(["train_view", "test_view"])["value"].mean()
    drops = {(a, b): cells[(a, a)] - cells[(a, b)] for a, b in cells.index if a != b}
    worst = max(drops.values())
    got = [dict(zip(cols, r)) for r in rows]
    assert got and {(g["train_view"], g["test_view"]) for g in got} <= {k for k, v in drops.items() if abs(v - worst) < 1e-6}
    assert all(g["score_drop"] == pytest.approx(worst, abs=1e-3) and g["dataset"] == "microscopy" for g in got)
    # learned vs static ISP at 1 % light, recomputed from curves.csv
    cols, rows = run_sql(db, "isp-at-1pct-light")
    curves = pd.read_csv(results / "customization/microscopy/curves.csv")
    last = curves[(curves.split == "val") & (curves.metric == "accuracy") & (curves.epoch == EPOCHS) & np.isclose(curves.intensity, 0.01)]
    expected = last.groupby("processing")["value"].mean()
    assert len(expected) == len(CONFIG["customization"]["processings"])  # the study has 1 % light runs to ask about
    assert {r[1]: r[3] for r in rows} == pytest.approx(expected.round(3).to_dict())
    # which parameter group breaks the model at the smallest λ, recomputed from attacks.json
    cols, rows = run_sql(db, "forensics-smallest-lambda")
    attacks = pd.DataFrame(json.loads((results / "forensics/microscopy/attacks.json").read_text())["attacks"])
    attacks["score"] = [m["accuracy"] for m in attacks.metrics]
    clean = attacks[attacks.parameter_group == "none"].score.mean()
    broken = attacks[(attacks.parameter_group != "none")].groupby(["parameter_group", "lambda"]).score.mean()
    broken = broken[broken < 0.5 * clean]
    smallest = broken.index.get_level_values("lambda").min() if len(broken) else None
    want = sorted(g for g, lam in broken.index if lam == smallest)
    assert sorted(r[1] for r in rows) == want
    assert all(r[3] == smallest for r in rows)


def test_runs_command_lists_filters_and_exports(study, monkeypatch, capsys, tmp_path):
    from lens2logit.cli import main

    monkeypatch.chdir(study)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["runs", "list", "--experiment", "0", "--filter", "params.view = 'bi,s,ga'", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    trained = sorted(f"microscopy.{m.parts[-4]}.{m.parts[-3]}.bi-s-ga.{m.stem}" for m in study.glob("results/models/microscopy/*/*/bi-s-ga/fold*.pt"))
    assert f"microscopy.{AUG}.005.bi-s-ga.fold0" in trained  # the intensity-drift model of the same view
    assert sorted(r["tags.mlflow.runName"] for r in listed) == trained
    assert all(r["params.view"] == "bi,s,ga" and 0 <= r["metrics.val_accuracy"] <= 1 for r in listed)
    out = tmp_path / "runs.csv"
    assert main(["runs", "list", "--columns", "run_id,experiment,params.dataset", "--format", "csv", "-o", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["run_id", "experiment", "params.dataset"]
    assert len(table) == sum(expected_runs(study / "results").values())
    assert main(["runs", "query", "isp-at-1pct-light", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("dataset,processing,folds,final_val_score")
    assert main(["runs", "list", "--experiment", "no such experiment"]) == 2
    assert "unknown experiment" in capsys.readouterr().err


# --------------------------------------------------------------------------- a real tracking server
class Server:
    """``mlflow server`` on 127.0.0.1 with a SQLite backend and proxied artifacts, stopped by its PID."""

    def __init__(self, base: Path, port: int):
        self.base, self.port, self.proc = base, port, None
        self.uri = f"http://127.0.0.1:{port}"

    def start(self) -> "Server":
        log = open(self.base / f"server-{time.monotonic_ns()}.log", "w")
        self.proc = subprocess.Popen(
            [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{self.base / 'server.db'}",
             "--artifacts-destination", str(self.base / "server-artifacts"), "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=ENV, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.uri}/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"mlflow server exited: {(self.base / log.name).read_text()[-3000:]}")
            time.sleep(0.5)
        raise AssertionError("mlflow server did not answer /health within 120 s")

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)  # the server and the workers it forked
            self.proc.wait(timeout=30)
        self.proc = None


def test_tracking_server_dies_mid_ingest_then_a_rerun_completes_the_log(study, tmp_path, val_data):
    import mlflow
    import mlflow.pytorch
    from mlflow.tracking import MlflowClient

    results = study / "results"
    server = Server(tmp_path, free_port()).start()
    try:
        before = tree_digest(results)
        code = "import sys; from lens2logit.tracking import ingest; ingest(sys.argv[1], tracking_uri=sys.argv[2])"
        ingest = subprocess.Popen([sys.executable, "-c", code, str(results), server.uri], cwd=study, env=ENV,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and ingest.poll() is None:
            if (tmp_path / "server.db").exists() and db_rows(tmp_path / "server.db", "SELECT COUNT(*) FROM runs")[0][0] >= 3:
                break
            time.sleep(0.05)
        server.stop(signal.SIGKILL)
        _, err = ingest.communicate(timeout=180)
        assert ingest.returncode != 0, "the ingest finished before the server was stopped"
        assert "the results folder is unchanged; run the ingest again" in err
        assert tree_digest(results) == before
        server.start()
        from lens2logit.tracking import ingest as ingest_results

        summary = ingest_results(results, tracking_uri=server.uri)
        assert summary["created"] + summary["replaced"] + summary["unchanged"] == summary["runs"]
        assert summary["unchanged"] >= 1  # runs finished before the crash are kept
        assert tree_digest(results) == before
        # runs, metrics, artifacts and registered models landed on the server, once each
        client = MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)
        keys = [r.data.tags["lens2logit.key"] for e in client.search_experiments() for r in client.search_runs([e.experiment_id], max_results=1000)]
        assert len(keys) == len(set(keys)) == sum(expected_runs(results).values())
        assert ingest_results(results, tracking_uri=server.uri)["unchanged"] == summary["runs"]
        run = client.search_runs([client.get_experiment_by_name("1 Controlled synthesis of hardware-drift test cases (Train)").experiment_id],
                                 filter_string=f"attributes.run_name = '{MODEL}'")[0]  # fmt: skip
        assert len(client.get_metric_history(run.info.run_id, "val_accuracy")) == EPOCHS
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"config.json", "splits.json"}
        assert len(client.search_model_versions(f"name = '{MODEL}'")) == 1
        mlflow.set_tracking_uri(server.uri)
        mlflow.set_registry_uri(server.uri)
        x, y, logged = val_data
        assert accuracy(mlflow.pytorch.load_model(f"models:/{MODEL}/1"), x, y) == pytest.approx(logged, abs=1e-6)
        page = requests.get(server.uri + "/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        api = requests.get(f"{server.uri}/api/2.0/mlflow/registered-models/search", timeout=10).json()
        assert ISP in {m["name"] for m in api["registered_models"]}
    finally:
        server.stop()


# ------------------------------------------------------------------ reuse: forensics by registry name
def test_forensics_attacks_a_model_given_by_registry_name(study, tmp_path):
    """The forensics of a copy of the study rerun against a registered model, fetched by a job
    (planning contacts no server); an unknown name fails that job, naming option and reference."""
    study = copy_run(study, tmp_path / "study")
    config = yaml.safe_load((study / "config.yaml").read_text())
    bad = f"models:/microscopy.{AUG}.100.nope.fold1/1"
    config["forensics"]["model"] = bad
    (study / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    failed = snakemake(study, "results/references/microscopy/forensics.model.pt", check=False)
    log = (study / "logs/resolve_model_reference/microscopy/forensics.model.log").read_text()
    assert failed.returncode != 0 and f"forensics.model {bad}: no registered model" in log
    assert not (study / "results/references/microscopy/forensics.model.pt").exists()

    config["forensics"]["model"] = f"models:/microscopy.{AUG}.100.bi-s-ga.fold1/1"
    (study / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake(study)
    attacks = json.loads((study / "results/forensics/microscopy/attacks.json").read_text())["attacks"]
    assert {a["model"] for a in attacks} == {"results/references/microscopy/forensics.model.pt"}
    import torch

    ckpt = torch.load(study / f"results/models/microscopy/{AUG}/100/bi-s-ga/fold1.pt", weights_only=True)
    fetched = torch.load(study / "results/references/microscopy/forensics.model.pt", weights_only=True)
    assert fetched["val_indices"] == ckpt["val_indices"]
    summary = json.loads((study / "results/mlflow/ingest.json").read_text())
    assert summary["replaced"] >= 1 and summary["created"] == 0


# ------------------------------------------------------- reuse: the two-stage customization recipe
def test_customization_continues_from_saved_classifier_and_isp(study, tmp_path):
    """Stage 2 of the original recipe: the stage-1 classifier frozen, its learned ISP optimised further."""
    import torch

    from lens2logit.errors import InputError
    from lens2logit.customization.joint import run_customization
    from lens2logit.customization.options import CustomizationOptions

    results = study / "results"
    saved = results / "customization/microscopy/models"
    data = [results / f"data/microscopy/001/{n}" for n in ("raw.npy", "targets.npy", "meta.json")]
    common = dict(
        intensities=[0.01], raw_paths=[data[0]], targets_paths=[data[1]], meta_paths=[data[2]],
        view_paths=[results / "views/microscopy/001/bi-s-ga.npy"], folds_path=results / "splits/microscopy.json",
        curves_path=tmp_path / "c.csv", final_path=tmp_path / "f.csv", figure_path=tmp_path / "f.png",
        stages_dir=tmp_path / "stages", models_dir=tmp_path / "models", dataset="microscopy",
    )  # fmt: skip

    def options(**changes):
        return CustomizationOptions.from_config({"epochs": 1, "folds": 1, "stage_samples": 0, **changes}, arch="small_cnn", device="cpu")

    run_customization(classifier=saved / "classifier_parametrized_001_fold0.pt", isp=saved / "isp_parametrized_001_fold0.pt",
                      options=options(processings=["parametrized"], freeze_classifier=True), **common)  # fmt: skip
    start_net = torch.load(saved / "classifier_parametrized_001_fold0.pt", weights_only=True)
    after_net = torch.load(tmp_path / "models/classifier_parametrized_001_fold0.pt", weights_only=True)
    assert all(torch.equal(start_net["state_dict"][k], v) for k, v in after_net["state_dict"].items())
    assert after_net["config"]["frozen_classifier"] is True and after_net["mean"] == start_net["mean"]
    start_isp = torch.load(saved / "isp_parametrized_001_fold0.pt", weights_only=True)["state_dict"]
    after_isp = torch.load(tmp_path / "models/isp_parametrized_001_fold0.pt", weights_only=True)["state_dict"]
    assert any(not torch.equal(start_isp[k], after_isp[k]) for k in ("gamma", "colour_correction", "demosaic"))
    with pytest.raises(InputError, match="freeze_classifier and customization.freeze_isp together"):
        run_customization(classifier=saved / "classifier_parametrized_001_fold0.pt", isp=saved / "isp_parametrized_001_fold0.pt",
                          options=options(processings=["parametrized"], freeze_classifier=True, freeze_isp=True), **common)  # fmt: skip
    with pytest.raises(InputError, match="nothing to train for processing 'static'"):
        run_customization(classifier=saved / "classifier_static_001_fold0.pt", options=options(processings=["static"], freeze_classifier=True), **common)
