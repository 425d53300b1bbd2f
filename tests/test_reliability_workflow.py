"""Reliability in the workflow itself (issue 22), on the tiny config with its data given as a path:

* Snakemake killed with SIGKILL of its whole process group leaves its lock; ``make run``'s first
  step (``lens2logit workflow unlock-stale``) clears it, and the rerun completes.
* an image left out for a mistyped class code is named on Snakemake's console (data.strict_labels: false),
  and refused at plan time by default.
* a byte flipped with size and mtime kept is caught by the plan (dataset with a manifest).
* a config error is one short message naming the key (line count measured), a YAML error names file and line.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SNAKEMAKE, TEST_CONFIG, WORKFLOW_ENV, copy_workflow, flip_byte_keep_size_and_mtime

pytestmark = pytest.mark.slow

LENS2LOGIT = [sys.executable, "-m", "lens2logit"]
TYPO = "MOn"  # a mistyped MON


def synth_path_data(root: Path, names=("microscopy", "drone")) -> None:
    """The tiny config's datasets ``names``, written as a user's folder (data.source: path)."""
    synth = TEST_CONFIG["data"]["synthetic"]
    for name in names:
        cmd = [*LENS2LOGIT, "data", "synth", name, "--root", str(root / name), "--seed", str(TEST_CONFIG["seed"]),
               "--n", str(synth[name]["n"]), "--size", str(synth[name]["size"])]
        subprocess.run(cmd, check=True, env=WORKFLOW_ENV, capture_output=True)


def mistype_first_label(root: Path) -> tuple[str, int]:
    """Replace the class code of the first MON line with ``MOn``; (image stem, line number)."""
    labels = root / "microscopy" / "labels" / "Ma190c_annotations.dat"
    lines = labels.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if line.split()[1] == "MON")
    stem = lines[number].split()[0]
    lines[number] = f"{stem} {TYPO}"
    labels.write_text("\n".join(lines) + "\n")
    (root / "microscopy" / "MANIFEST.sha256").unlink()  # the loader itself is tested, not the manifest
    return stem, number + 1


def dry_run(workdir: Path, *configs: str) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "--configfile", *configs, "-n", "--cores", "1"]
    return subprocess.run(cmd, cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """The tiny config's microscopy drift study on path data with one mistyped code: started, SIGKILLed
    (process group) once a few jobs have finished, then resumed as ``make run`` does. Returns (workdir,
    outputs, stem, line)."""
    base = tmp_path_factory.mktemp("killed")
    workdir = copy_workflow(base / "wf")
    data = base / "data"
    synth_path_data(data, ["microscopy"])
    stem, line = mistype_first_label(data)
    (workdir / "configs" / "path.yaml").write_text(yaml.safe_dump(
        {"datasets": ["microscopy"], "data": {"source": "path", "root": str(data), "strict_labels": False}}))
    # The drift study of the dataset with the typo only (data, views, training, scores): enough to kill
    # mid-run and resume; the drone datasets and the later studies would add minutes and nothing tested.
    cmd = [str(SNAKEMAKE), "all_drift", "--configfile", "configs/test.yaml", "configs/path.yaml", "--cores", "2"]
    log = (base / "first.log").open("w")
    proc = subprocess.Popen(cmd, cwd=workdir, env=WORKFLOW_ENV, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.time() + 900
        while time.time() < deadline and proc.poll() is None:
            if len(list((workdir / "results" / "views").rglob("*.npy"))) >= 2:
                break
            time.sleep(0.5)
        assert proc.poll() is None, "Snakemake ended before it could be killed:\n" + (base / "first.log").read_text()[-3000:]
        locks = sorted(p.name for p in (workdir / ".snakemake" / "locks").glob("*.lock"))
        os.killpg(proc.pid, signal.SIGKILL)  # Snakemake itself and every job it started
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    assert locks, "a running Snakemake holds a lock"
    assert list((workdir / ".snakemake" / "locks").glob("*.lock")), "kill -9 leaves the lock behind"
    # `make run`: unlock-stale, then snakemake.
    unlock = subprocess.run([*LENS2LOGIT, "workflow", "unlock-stale"], cwd=workdir, env=WORKFLOW_ENV,
                            capture_output=True, text=True, timeout=60)
    resumed = subprocess.run(cmd, cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=3600)
    outputs = {"first": (base / "first.log").read_text(), "unlock": unlock, "resumed": resumed}
    return workdir, outputs, stem, line


def test_make_run_resumes_after_snakemake_itself_was_killed(killed_and_resumed):
    workdir, out, _, _ = killed_and_resumed
    assert out["unlock"].returncode == 0, out["unlock"].stderr
    assert "stale lock of a killed Snakemake removed" in out["unlock"].stderr
    resumed = out["resumed"]
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-6000:]
    assert "LockException" not in resumed.stderr
    nothing = subprocess.run([str(SNAKEMAKE), "all_drift", "--configfile", "configs/test.yaml", "configs/path.yaml", "-n", "--cores", "1"],
                             cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=600)
    assert "Nothing to be done" in nothing.stdout + nothing.stderr
    assert not list((workdir / ".snakemake" / "locks").glob("*.lock"))


def test_makefile_runs_unlock_stale_before_snakemake():
    recipe = re.search(r"^run:.*?\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.M).group(1).splitlines()
    unlock = next(i for i, line in enumerate(recipe) if "lens2logit workflow unlock-stale" in line)
    first_snakemake = next(i for i, line in enumerate(recipe) if "/snakemake " in line)
    assert unlock < first_snakemake


def test_unlock_stale_keeps_the_lock_of_a_running_snakemake(tmp_path):
    lock = tmp_path / ".snakemake" / "locks" / "0.input.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("x")
    # a process that looks like Snakemake, working in that directory
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "snakemake"], cwd=tmp_path)
    try:
        time.sleep(0.3)
        proc = subprocess.run([*LENS2LOGIT, "workflow", "unlock-stale"], cwd=tmp_path, env=WORKFLOW_ENV,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1 and f"pid {holder.pid}" in proc.stderr and lock.exists()
    finally:
        holder.kill()
        holder.wait()
    proc = subprocess.run([*LENS2LOGIT, "workflow", "unlock-stale"], cwd=tmp_path, env=WORKFLOW_ENV,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not lock.exists()


def test_a_left_out_image_is_named_on_snakemakes_console(killed_and_resumed):
    """data.strict_labels: false: the image with the mistyped code is left out, and the console says
    which (label file:line, image, code); the job's warning reaches Snakemake's output."""
    _, out, stem, line = killed_and_resumed
    console = out["first"] + out["resumed"].stdout + out["resumed"].stderr
    assert re.search(rf"lens2logit: warning: \S+/labels/Ma190c_annotations\.dat:{line}: image {stem}, code {TYPO}: unknown class code",
                     console), console[-4000:]


def test_strict_labels_refuses_the_typo_at_plan_time(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    data = tmp_path / "data"
    synth_path_data(data, ["microscopy"])
    stem, line = mistype_first_label(data)
    path_config = {"datasets": ["microscopy"], "data": {"source": "path", "root": str(data)}}
    (workdir / "configs" / "path.yaml").write_text(yaml.safe_dump(path_config))
    proc = dry_run(workdir, "configs/test.yaml", "configs/path.yaml")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"Ma190c_annotations.dat:{line}: image {stem}, code {TYPO}: unknown class code" in out
    assert "data.strict_labels" in out


def test_plan_catches_a_byte_flipped_with_size_and_mtime_kept(tmp_path, monkeypatch):
    """Path data with their MANIFEST.sha256: the plan (hash cache warm) refuses, naming the file."""
    workdir = copy_workflow(tmp_path / "wf")
    data = tmp_path / "data"
    synth_path_data(data, ["drone"])
    path_config = {"datasets": ["drone_segmentation"], "data": {"source": "path", "root": str(data)}}
    (workdir / "configs" / "path.yaml").write_text(yaml.safe_dump(path_config))
    first = dry_run(workdir, "configs/test.yaml", "configs/path.yaml")
    assert first.returncode == 0, first.stderr[-3000:]  # fills the hash cache
    victim = data / "drone" / "images_full" / "raw_scale100" / "00.tif"
    flip_byte_keep_size_and_mtime(victim, victim.stat().st_size // 2)
    second = dry_run(workdir, "configs/test.yaml", "configs/path.yaml")
    assert second.returncode != 0
    assert "1 changed (images_full/raw_scale100/00.tif)" in second.stdout + second.stderr


@pytest.mark.parametrize(
    "bad, needle",
    [
        ("drfit: {folds: 3}\n", "config (top level): Additional properties are not allowed ('drfit' was unexpected); allowed: "),
        ('views: ["bi,s,xx"]\n', "config views.0: 'bi,s,xx' is not one of ['bi,s,me'"),
        ("training: {classification: {epochs: two}}\n", "config training.classification.epochs: 'two' is not of type 'integer'"),
    ],
)
def test_config_error_is_one_short_message(tmp_path, bad, needle):
    """The review counted 1164 lines for an unknown top-level key; now Snakemake's few lines around one
    line naming the key, the value and what is allowed."""
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "bad.yaml").write_text(bad)
    proc = dry_run(workdir, "configs/test.yaml", "bad.yaml")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    lines = [line for line in out.splitlines() if line.strip()]
    assert sum(needle in line for line in lines) == 1, out
    assert len(lines) <= 8, f"{len(lines)} lines:\n{out}"
    assert not (workdir / "results").exists()
