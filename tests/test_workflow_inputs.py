"""Trustworthy inputs (issue 11) through Snakemake itself: data changes rerun exactly their branch,
a manifest mismatch stops the plan naming the file, late options fail the dry run, a job's user
error is one console line, and two runs of the tiny study give identical bytes."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import SNAKEMAKE, TEST_CONFIG, WORKFLOW_ENV, copy_workflow, snakemake
from lens2logit.data.layout import MANIFEST

DATA_TARGETS = ("results/data/microscopy/100/meta.json", "results/data/microscopy/005/meta.json")

pytestmark = pytest.mark.slow


def write_config(workdir: Path, name: str, cfg: dict) -> str:
    path = workdir / "configs" / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return f"configs/{name}"


def planned_prepare(workdir: Path, config: str) -> set[str]:
    """Intensity slugs of the microscopy prepare_dataset jobs a dry run of DATA_TARGETS would run."""
    proc = snakemake(workdir, "-n", *DATA_TARGETS, config=config)
    out = proc.stdout + proc.stderr
    return set(re.findall(r"wildcards: dataset=microscopy, intensity=(\d{3})", out))


@pytest.fixture(scope="module")
def path_study(tmp_path_factory):
    """The workflow on `data.source: path` data (synthetic files in the real layout), data prepared."""
    from lens2logit.data.synth import synthesize

    workdir = copy_workflow(tmp_path_factory.mktemp("path_wf"))
    root = synthesize("microscopy", workdir / "data" / "own" / "microscopy", seed=7, n=5, size=16)
    (root / "synth.json").unlink()
    (root / MANIFEST).unlink()  # a user's folder: no manifest
    cfg = {**TEST_CONFIG, "datasets": ["microscopy"], "data": {"source": "path", "root": "data/own", "tile_size": 32}}
    config = write_config(workdir, "path.yaml", cfg)
    snakemake(workdir, *DATA_TARGETS, config=config)
    return workdir, root, config


def test_path_data_changes_rerun_exactly_the_affected_branch(path_study):
    workdir, root, config = path_study
    assert planned_prepare(workdir, config) == set()
    labels = root / "labels" / "Ma190c_annotations.dat"
    original = labels.read_text()
    lines = original.splitlines()
    stem, cls = lines[0].split()
    other = next(line.split()[1] for line in lines if line.split()[1] != cls)
    labels.write_text("\n".join([f"{stem} {other}", *lines[1:]]) + "\n")  # relabel one image
    assert planned_prepare(workdir, config) == {"005", "100"}  # labels feed every intensity
    labels.write_text(original)  # same content again (new mtime): nothing to do

    low = sorted((root / "images" / "raw_scale005").glob("*.tiff"))
    kept = low[1].read_bytes()
    shutil.copyfile(low[0], low[1])  # replace one raw file by another image
    assert planned_prepare(workdir, config) == {"005"}
    low[1].write_bytes(kept)

    # A file added to or removed from one intensity folder: the loader compares every folder's
    # listing (and would now fail on either branch), so every branch reruns.
    added = root / "images" / "raw_scale100" / "Ma190c_lame9_zone1_composite_Mcropped_1.tiff"
    shutil.copyfile(low[0], added)
    assert planned_prepare(workdir, config) == {"005", "100"}
    added.unlink()

    removed = low[2].read_bytes()
    low[2].unlink()
    assert planned_prepare(workdir, config) == {"005", "100"}
    low[2].write_bytes(removed)
    assert planned_prepare(workdir, config) == set()  # content, not timestamps, decides


def workflow_on_data_copy(path_study, tmp_path: Path, name: str) -> tuple[Path, Path, str]:
    """A fresh workflow copy whose config points at a copy of the path study's data (the other
    tests' folder stays as it is): ``(workdir, data, config)``, data in ``tmp_path/name/microscopy``."""
    study_dir, root, config = path_study
    workdir = copy_workflow(tmp_path / "wf")
    data = tmp_path / name / "microscopy"
    shutil.copytree(root, data)
    cfg = yaml.safe_load((study_dir / config).read_text())
    cfg["data"]["root"] = str(data.parent)
    return workdir, data, write_config(workdir, f"{name}.yaml", cfg)


def test_manifest_mismatch_stops_the_plan_naming_the_file(path_study, tmp_path):
    from lens2logit.data.manifest import write_manifest

    workdir, data, other = workflow_on_data_copy(path_study, tmp_path, "manifest")
    write_manifest(data)
    snakemake(workdir, *DATA_TARGETS, config=other)
    victim = sorted((data / "images" / "raw_scale100").glob("*.tiff"))[3]
    content = bytearray(victim.read_bytes())
    content[-1] ^= 0x10  # one flipped bit in the pixel data
    victim.write_bytes(bytes(content))
    proc = snakemake(workdir, "-n", *DATA_TARGETS, config=other, check=False)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert f"1 changed (images/raw_scale100/{victim.name})" in err and str(data / MANIFEST) in err
    code = "import sys; from lens2logit.cli import main; sys.exit(main())"
    subprocess.run([sys.executable, "-c", code, "data", "verify", "microscopy", "--root", str(data), "--update"],
                   cwd=workdir, env=WORKFLOW_ENV, check=True, capture_output=True)
    assert planned_prepare(workdir, other) == {"100"}  # accepted: only the changed branch reruns


def test_user_error_inside_a_job_is_one_console_line(path_study, tmp_path):
    workdir, data, bad = workflow_on_data_copy(path_study, tmp_path, "bad")
    broken = sorted((data / "images" / "raw_scale100").glob("*.tiff"))[0]
    broken.write_bytes(b"not a tiff at all")
    proc = snakemake(workdir, DATA_TARGETS[0], config=bad, check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("lens2logit: error:")]
    assert len(errors) == 1 and str(broken) in errors[0] and "unreadable TIFF" in errors[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    log = workdir / "logs" / "prepare_dataset" / "microscopy" / "100.log"
    assert "Traceback" in log.read_text()  # the developers' traceback stays in the job log


@pytest.mark.parametrize("override, key", [
    ({"forensics": {"view": "me,u,ga"}}, "forensics.view"),
    ({"training": {"classification": {"arch": "resnet19"}}}, "training.classification.arch"),
    ({"customization": {"neural": {"encoder": "tu-not_a_model"}}}, "customization.neural.encoder"),
    ({"training": {"segmentation": {"pretrained": "weights/none.pt"}}}, "training.segmentation.pretrained"),
    ({"data": {"tile_size": 1024}}, "data.tile_size"),
])
def test_late_options_fail_the_dry_run(tmp_path, override, key):
    workdir = copy_workflow(tmp_path / "wf")
    override_file = write_config(workdir, "override.yaml", override)
    proc = subprocess.run([str(SNAKEMAKE), "--configfile", "configs/test.yaml", override_file, "-n", "--cores", "1"],
                          cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert f"config {key}: " in proc.stdout + proc.stderr, proc.stderr[-2000:]
    assert not (workdir / "results").exists() and not (workdir / "data").exists()


def test_nested_override_on_the_command_line_is_typed(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    proc = subprocess.run([str(SNAKEMAKE), "--configfile", "configs/test.yaml", "-n", "--cores", "1",
                           "--config", "drift={folds: 3}"], cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    models = set(re.findall(r"results/models/\S+?/fold\d\.pt", proc.stdout))
    # 2 datasets × 3 views × 3 folds at full light + 2 datasets × 1 view × 1 fold at 5 % light
    assert len(models) == 2 * 3 * 3 + 2, sorted(models)
    assert len({m for m in models if m.endswith("fold2.pt")}) == 2 * 3


# ------------------------------------------------------------------ determinism

# Files that hold wall-clock measurements by design, and the MLflow lab log (random run ids and
# timestamps by MLflow's design; it indexes the results compared here).
TIMING_PARTS = ("benchmarks", "timing.csv", "timing.md", "mlflow")


def _digests(results: Path, include_checkpoints: bool) -> dict[str, str]:
    out = {}
    for path in sorted(results.rglob("*")):
        rel = path.relative_to(results)
        if not path.is_file() or rel.parts[0] in TIMING_PARTS or (path.suffix == ".pt" and not include_checkpoints):
            continue
        out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def dataset_files(digests: dict[str, str], dataset: str) -> dict[str, str]:
    """The entries of one dataset: a path part named after it (``drift/microscopy/…``, ``splits/microscopy.json``)."""
    return {name: d for name, d in digests.items() if dataset in (Path(part).stem for part in Path(name).parts)}


def test_two_runs_give_identical_output_bytes(workflow_run, tmp_path):
    """Same seed and config → the same bytes in every output. A second, independent working copy
    runs microscopy's drift study alone (data, views, splits, models, scores, matrices); its files,
    checkpoints included, must equal the session run's (which also ran the other datasets: microscopy's
    outputs do not depend on them)."""
    workdir = copy_workflow(tmp_path / "second")
    snakemake(workdir, "all_drift", "--config", "datasets=[microscopy]")
    second = _digests(workdir / "results", include_checkpoints=True)
    first = {name: d for name, d in _digests(workflow_run / "results", include_checkpoints=True).items() if name in second}
    second = dataset_files(second, "microscopy")
    assert any(name.endswith(".pt") for name in second)  # checkpoints too: no temporary names inside
    assert len(second) > 20 and sorted(dataset_files(first, "microscopy")) == sorted(second)
    differing = [name for name in second if first[name] != second[name]]
    assert differing == []
