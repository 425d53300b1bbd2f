"""The SLURM profile against a real single-node SLURM (scripts/slurm/local_cluster.sh).

The drift experiment of the tiny config (one dataset: training, evaluation, aggregation) runs
locally, then again through `--workflow-profile profiles/slurm` on the local run's data and views,
and must give the same matrix.csv. (Its own local run, not the session's shared study: this file then
runs on the other pytest worker, beside the shared study's.) Training and evaluation of one model
share a SLURM job (`--groups`), which halves the per-job start-up cost on the 2-CPU node.
Skips with the reason when this machine cannot run SLURM (not root, apt-get fails, the
daemons do not come up, or another test holds the local cluster).
"""

import csv
import fcntl
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, copy_worktree, run, snakemake, tiny_config, tool_env

pytestmark = pytest.mark.slow

SCRIPT = REPO / "scripts/slurm/local_cluster.sh"
LOCK = Path("/tmp/lens2logit-slurm-test.lock")


@pytest.fixture(scope="module")
def slurm():
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root (apt-get, SlurmUser=root)")
    lock = open(LOCK, "w")
    deadline = time.monotonic() + 300
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                pytest.skip(f"another test run holds the local SLURM cluster ({LOCK})")
            time.sleep(2)
    # Not under pytest's 0700 temp tree: munged runs as user munge and must reach its folder.
    state = Path(tempfile.mkdtemp(prefix="lens2logit-slurm-"))
    state.chmod(0o755)
    env = tool_env(SLURM_LOCAL_DIR=str(state))
    started = False
    try:
        t = time.monotonic()
        proc = run(["bash", str(SCRIPT), "start"], REPO, env=env, check=False, timeout=600)
        started = True
        if proc.returncode != 0:
            pytest.skip(f"local SLURM did not start (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}")
        print(f"\n[timing] local_cluster.sh start {time.monotonic() - t:.1f}s")
        yield env
    finally:
        try:
            if started:
                pids = [int(p.read_text()) for p in Path(env["SLURM_LOCAL_DIR"]).rglob("*.pid") if p.read_text().strip()]
                stop = run(["bash", str(SCRIPT), "stop"], REPO, env=env, check=False, timeout=120)
                still = [p for p in pids if Path(f"/proc/{p}").exists()]
                assert stop.returncode == 0 and not still, f"daemons still running: {still}\n{stop.stderr}"
                assert not Path("/etc/slurm/slurm.conf").is_symlink() or not os.readlink(
                    "/etc/slurm/slurm.conf").startswith(env["SLURM_LOCAL_DIR"])
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
            shutil.rmtree(state, ignore_errors=True)


def test_cluster_runs_a_job(slurm):
    status = run(["bash", str(SCRIPT), "status"], REPO, env=slurm)
    assert "slurmctld running" in status.stdout and "idle" in status.stdout
    out = run(["srun", "-n1", "--time=1", "bash", "-c", "echo job-$SLURM_JOB_ID"], REPO, env=slurm, timeout=60).stdout
    assert re.fullmatch(r"job-\d+\s*", out), out


def test_profile_matches_the_workflow_rules():
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    text = "\n".join(p.read_text() for p in sorted((REPO / "rules").glob("*.smk")))
    rules = set(re.findall(r"^\s*rule (\w+):", text, re.M)) | set(re.findall(r"^\s*use rule \w+ as (\w+)", text, re.M))
    assert rules, "the check sees the workflow's rules"
    expected_in_profile = {"train_models", "train_models_intensity", "evaluate_models", "render_views_other_intensities", "prepare_dataset"}
    assert expected_in_profile <= set(profile["set-resources"])
    # every rule that does real work has explicit resources (target rules all/all_* do not run jobs)
    working = {r for r in rules if not r.startswith("all") and r != "report_inputs"}
    assert working <= set(profile["set-resources"]), sorted(working - set(profile["set-resources"]))
    assert profile["slurm-status-command"] == "squeue" and profile["slurm-no-account"] is True
    # the model rules ask for a GPU in the plugin's own way, everything else stays on CPUs
    gpu_rules = {"train_models", "train_models_intensity", "evaluate_models",
                 "score_corruptions", "drift_forensics", "isp_customization", "train_robust"}
    assert gpu_rules <= rules
    assert {r for r, res in profile["set-resources"].items() if res.get("gpu") or res.get("gres")} == gpu_rules
    assert "gpu" not in profile["default-resources"] and "gres" not in profile["default-resources"]


def read_matrix(path: Path) -> list[dict]:
    with path.open() as f:
        return sorted(csv.DictReader(f), key=lambda r: tuple(r.values()))


# drone_classification: the one end-to-end run of that dataset in the suite (configs/test.yaml has the other two)
SLURM_DATASETS = ["drone_classification"]


def test_tiny_study_on_slurm_matches_the_local_run(slurm, tmp_path):
    local = copy_worktree(tmp_path / "local_run")
    (local / "config.yaml").write_text(tiny_config(SLURM_DATASETS))
    snakemake(local, "all_drift", config="config.yaml")
    work = copy_worktree(tmp_path / "slurm_run")
    (work / "config.yaml").write_text(tiny_config(SLURM_DATASETS))
    data_root = yaml.safe_load(tiny_config(SLURM_DATASETS))["data"]["root"]
    for rel in (data_root, "results/data", "results/views"):  # copytree keeps the file times
        shutil.copytree(local / rel, work / rel)
    profile = yaml.safe_load((work / "profiles/slurm/config.yaml").read_text())
    # Fit the paper-sized requests onto the 2-CPU test node, one thread as in the local run.
    small = [f"{rule}:mem_mb=1000" for rule in profile["set-resources"]]
    small += [f"{rule}:runtime=20" for rule in profile["set-resources"]]
    small += [f"{rule}:gpu=0" for rule, res in profile["set-resources"].items() if "gpu" in res]  # CPU-only test node
    threads = [f"{rule}=1" for rule in profile["set-threads"]]
    cmd = [
        "snakemake", "--workflow-profile", "profiles/slurm", "all_drift",
        "--set-resources", *small, "--set-threads", *threads,
        # One group job per dataset: its models and their evaluation. A group asks for the threads of the
        # jobs it could run in parallel; --cores caps that at the node's 2 CPUs (Snakemake then runs
        # them in series inside the job), else the request exceeds every node and waits forever.
        "--groups", "train_models=fit", "evaluate_models=fit", "--group-components", "fit=1", "--cores", "2",
        "--jobs", "4", "--latency-wait", "10",
        "--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "2",
    ]
    t = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=work, env=slurm, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=1200)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"snakemake on SLURM timed out\n{out[-4000:]}")
    finally:
        run(["scancel", "--user", "root"], work, env=slurm, check=False)
    elapsed = time.monotonic() - t
    assert proc.returncode == 0, out[-6000:]
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    # 4 SLURM jobs here, one of them the group of the dataset's models with their evaluation
    assert len(submitted) >= 4 and "group_fit_evaluate_models_train_models" in out, f"jobs did not go through SLURM:\n{out[-4000:]}"
    assert "rule render_views" not in out and "rule prepare_dataset" not in out, "data/views should be reused"
    print(f"\n[timing] {len(submitted)} SLURM jobs in {elapsed:.1f}s ({elapsed / len(submitted):.1f}s per job)")

    for dataset in yaml.safe_load(tiny_config(SLURM_DATASETS))["datasets"]:
        rel = Path("results/drift") / dataset / "matrix.csv"
        assert read_matrix(work / rel) == read_matrix(local / rel), f"{rel} differs from the local run"
