"""Nothing silent (issue 22; the probes of shared/docs/reviews/2026-12-04-reliability.md rerun as tests):
integrity that timestamps cannot fool, left-out images named, one-line config errors, synthesis that
never replaces what it did not write, and the small command-line cases."""

import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from lens2logit.cli import main
from lens2logit.data.manifest import (
    HashCache,
    branch_fingerprint,
    check_branch,
    default_hash_cache_dir,
    read_manifest,
)
from lens2logit.errors import InputError

from conftest import REPO, WORKFLOW_ENV, flip_byte_keep_size_and_mtime

LABELS = Path("labels") / "Ma190c_annotations.dat"


@pytest.fixture(autouse=True)
def own_hash_cache(tmp_path, monkeypatch):
    """Every test gets its own hash-cache folder (the default one is the user's)."""
    monkeypatch.setenv("LENS2LOGIT_HASH_CACHE", str(tmp_path / "hash-cache"))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Tiny synthetic datasets as the review made them (microscopy n 6, drone n 3, size 32)."""
    from lens2logit.data.synth import synthesize

    base = tmp_path_factory.mktemp("synthetic")
    synthesize("microscopy", base / "microscopy", seed=3, n=6, size=32)
    synthesize("drone", base / "drone", seed=3, n=3, size=32)
    return base


@pytest.fixture
def drone(synthetic, tmp_path):
    return Path(shutil.copytree(synthetic / "drone", tmp_path / "data" / "drone", symlinks=True))


@pytest.fixture
def microscopy(synthetic, tmp_path):
    return Path(shutil.copytree(synthetic / "microscopy", tmp_path / "data" / "microscopy", symlinks=True))


def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lens2logit", *map(str, args)], cwd=cwd or REPO,
                          env={**WORKFLOW_ENV, **{k: v for k, v in os.environ.items() if k == "LENS2LOGIT_HASH_CACHE"}},
                          capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------- 1. integrity (review 3.7, 3.8)

def test_bit_rot_with_size_and_mtime_kept_is_caught_everywhere(drone, tmp_path):
    """Review 3.7: verify (from any folder, --fast too), the plan's fingerprint and check, the job's
    check and --update all see a byte flipped with size and mtime kept."""
    name = "images_full/raw_scale100/00.tif"
    victim = drone / name
    before = branch_fingerprint("drone", drone, 1.0)  # the plan fills the cache
    assert check_branch("drone", drone, 1.0).ok
    assert cli("data", "verify", "drone", "--root", drone, "--fast").returncode == 0
    flip_byte_keep_size_and_mtime(victim, victim.stat().st_size // 2)
    for cwd in (REPO, tmp_path):
        for fast in ((), ("--fast",)):
            proc = cli("data", "verify", "drone", "--root", drone, *fast, cwd=cwd)
            assert proc.returncode == 1 and f"1 changed ({name})" in proc.stderr, (cwd, fast, proc.stderr)
    assert branch_fingerprint("drone", drone, 1.0) != before  # plan: the branch reruns
    with pytest.raises(InputError, match=rf"1 changed \({name}\)"):
        check_branch("drone", drone, 1.0)  # plan-time and in-job check of a dataset with a manifest
    assert cli("data", "verify", "drone", "--root", drone, "--update").returncode == 0
    assert read_manifest(drone)[name] == hashlib.sha256(victim.read_bytes()).hexdigest()  # the new hash


def test_hash_cache_is_one_file_per_dataset_never_in_the_current_folder(drone, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cache = HashCache(drone)
    assert cache.path.parent == default_hash_cache_dir() == tmp_path / "hash-cache"
    monkeypatch.chdir(drone)
    assert HashCache(Path(".")).path == cache.path  # keyed by the absolute path, whatever the cwd
    branch_fingerprint("drone", drone, 1.0)
    assert not (tmp_path / ".snakemake").exists() and not (drone / ".snakemake").exists()
    monkeypatch.delenv("LENS2LOGIT_HASH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_hash_cache_dir() == tmp_path / "xdg" / "lens2logit" / "hashes"


def test_tile_cache_key_sees_a_rewrite_keeping_size_and_mtime(drone):
    """The drone tile-selection cache (keyed by file identity) is not reused for a flipped mask."""
    from lens2logit.data.files import fingerprint

    mask = drone / "masks_full" / "00.png"
    before = fingerprint([mask], drone)
    flip_byte_keep_size_and_mtime(mask, mask.stat().st_size - 20)
    assert fingerprint([mask], drone) != before


def test_verify_reads_every_file_unless_fast(drone, monkeypatch):
    import lens2logit.data.manifest as manifest

    branch_fingerprint("drone", drone, 1.0)  # cache warm
    reads = []
    real = manifest.sha256_file
    monkeypatch.setattr(manifest, "sha256_file", lambda p: reads.append(p) or real(p))
    assert main(["data", "verify", "drone", "--root", str(drone)]) == 0
    assert len(reads) == len(read_manifest(drone))
    reads.clear()
    assert main(["data", "verify", "drone", "--root", str(drone), "--fast"]) == 0
    assert len(reads) < len(read_manifest(drone))  # the branch's files came from the cache


def test_fingerprint_sees_an_extra_file_in_an_intensity_folder_the_config_does_not_use(microscopy):
    """Review 3.8: the loader compares every intensity folder, so the fingerprint covers them."""
    before = branch_fingerprint("microscopy", microscopy, 1.0)
    extra = microscopy / "images" / "raw_scale050" / "Extra_image.tiff"
    shutil.copy(next((microscopy / "images" / "raw_scale050").glob("*.tiff")), extra)
    assert branch_fingerprint("microscopy", microscopy, 1.0) != before
    from lens2logit.data import load_dataset

    with pytest.raises(InputError, match="Extra_image.tiff: extra file"):
        load_dataset("microscopy", microscopy, 1.0)
    extra.unlink()
    assert branch_fingerprint("microscopy", microscopy, 1.0) == before


# ---------------------------------------------------------------- 2. left-out images (review 2.4, 2.15)

def mistype(root: Path, code: str = "MOn") -> tuple[str, int]:
    path = root / LABELS
    lines = path.read_text().splitlines()
    stem = lines[0].split()[0]
    lines[0] = f"{stem} {code}"
    path.write_text("\n".join(lines) + "\n")
    return stem, 1


def test_unknown_code_and_broken_images_are_named_in_data_info(microscopy):
    stem, line = mistype(microscopy)
    broken = (microscopy / LABELS).read_text().splitlines()[1].split()[0]
    for folder in (microscopy / "images").iterdir():  # a self-loop link in every intensity folder
        (folder / f"{broken}.tiff").unlink()
        (folder / f"{broken}.tiff").symlink_to(f"{broken}.tiff")
    proc = cli("data", "info", "microscopy", "--root", microscopy)
    assert proc.returncode == 0
    warnings = [line for line in proc.stdout.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, proc.stdout
    assert f"{microscopy / LABELS}:{line}: image {stem}, code MOn: unknown class code" in warnings[0]
    assert f"{microscopy / LABELS}:2: image {broken}, code " in warnings[1] and "image unreadable in every intensity folder" in warnings[1]


def test_left_out_images_are_warnings_of_the_loader(microscopy, caplog):
    from lens2logit.data import load_dataset

    stem, _ = mistype(microscopy)
    with caplog.at_level(logging.WARNING):
        data = load_dataset("microscopy", microscopy, 1.0)
    assert stem not in data.ids
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert f"image {stem}, code MOn: unknown class code" in caplog.records[0].getMessage()


def test_job_warnings_reach_the_console(tmp_path, capsys):
    """Inside a job, warnings go to the log file and to Snakemake's output (stderr)."""
    from types import SimpleNamespace

    from lens2logit.workflow import job

    fake = SimpleNamespace(log=[str(tmp_path / "job.log")], threads=1)
    with job(fake):
        logging.getLogger("lens2logit.data.microscopy").warning("labels.dat:3: image x, code MOn: unknown class code")
        logging.getLogger("lens2logit.data.microscopy").info("only in the log")
    err = capsys.readouterr().err
    assert "lens2logit: warning: labels.dat:3: image x, code MOn: unknown class code" in err
    assert "only in the log" not in err
    assert "unknown class code" in (tmp_path / "job.log").read_text()


def path_config(root: Path, **data) -> dict:
    config = yaml.safe_load((REPO / "configs" / "test.yaml").read_text())
    config["datasets"] = ["microscopy"]
    config["data"] = {**config["data"], "source": "path", "root": str(root), **data}
    return config


def test_strict_labels_refuses_at_plan_time_and_can_be_switched_off(microscopy):
    from lens2logit.workflow.config import check_config, strict_labels

    stem, line = mistype(microscopy)
    root = microscopy.parent
    with pytest.raises(InputError) as refused:
        check_config(path_config(root))
    assert f"config data.strict_labels: {microscopy / LABELS}:{line}: image {stem}, code MOn: unknown class code" in str(refused.value)
    check_config(path_config(root, strict_labels=False))  # lenient on request
    assert strict_labels({"data": {"source": "path", "strict_labels": None}})
    assert not strict_labels({"data": {"source": "zenodo", "strict_labels": None}})
    assert strict_labels({"data": {"source": "zenodo", "strict_labels": True}})
    from lens2logit.schema import schema_default

    assert schema_default("data.strict_labels") is None


# ---------------------------------------------------------------- 3. config errors (review 1.3, 1.5, 1.11, 5.12b)

@pytest.mark.parametrize(
    "extra, line",
    [
        ({"drfit": {"folds": 3}}, "config (top level): Additional properties are not allowed ('drfit' was unexpected); allowed: corruptions, customization, data, datasets, drift,"),
        ({"views": ["bi,s,xx"]}, "config views.0: 'bi,s,xx' is not one of ['bi,s,me', 'bi,s,ga'"),
        ({"views": 5}, "config views: 5 is not valid under any of the given schemas; allowed: the static ISP views"),
        ({"drift": {"folds": 2.5}}, "config drift.folds: 2.5 is not of type 'integer'"),
    ],
)
def test_schema_errors_are_one_line_naming_key_value_and_allowed(extra, line):
    from lens2logit.cli.config import merge
    from lens2logit.schema import check_schema

    config = merge(yaml.safe_load((REPO / "config.yaml").read_text()), extra)
    with pytest.raises(InputError) as error:
        check_schema(config)
    assert str(error.value).startswith(line) and "\n" not in str(error.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 3\ndrift:\n  folds: [3\nviews: all\n")
    proc = cli("config", "check", bad)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"lens2logit: error: {bad}:4:6: YAML syntax error: expected ',' or ']', but got ':'"]
    out = tmp_path / "override.yaml"
    out.write_text("drift: {folds: [3\n")
    proc = cli("config", "override", "seed=4", "-o", out)
    assert proc.returncode == 2 and f"{out}:2:1: YAML syntax error" in proc.stderr


def test_config_override_outside_the_repo_still_checks(tmp_path):
    """Review 5.12b: from another folder the check uses the workflow's own config and schema."""
    out = tmp_path / "o.yaml"
    proc = cli("config", "override", "drift.folds=abc", "-o", out, cwd=tmp_path)
    assert proc.returncode == 2 and "config drift.folds: 'abc' is not of type 'integer'" in proc.stderr
    assert not out.exists()
    proc = cli("config", "override", "drift.folds=3", "-o", out, "--base", tmp_path / "none.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and "none.yaml: not found, so the result cannot be checked" in proc.stderr
    assert cli("config", "override", "drift.folds=3", "-o", out, cwd=tmp_path).returncode == 0
    assert yaml.safe_load(out.read_text()) == {"drift": {"folds": 3}}
    assert cli("config", "check", REPO / "configs" / "test.yaml", cwd=tmp_path).returncode == 0


# ---------------------------------------------------------------- 5. synthesis (review 5.9)

def test_synth_never_replaces_a_dataset_of_another_kind(drone):
    from lens2logit.data.synth import synthesize

    manifest = (drone / "MANIFEST.sha256").read_text()
    proc = cli("data", "synth", "microscopy", "--root", drone, "--seed", 3, "--n", 6, "--size", 32)
    assert proc.returncode == 2
    assert f"{drone}: holds a synthetic 'drone' dataset, not 'microscopy'; refusing to replace it" in proc.stderr
    assert (drone / "MANIFEST.sha256").read_text() == manifest and (drone / "masks_full").is_dir()
    # the same kind with other parameters is replaced (it is what synthesis wrote)
    synthesize("drone", drone, seed=4, n=3, size=32)
    assert json.loads((drone / "synth.json").read_text())["seed"] == 4


def test_synth_refuses_a_folder_changed_since_it_wrote_it(drone):
    from lens2logit.data.synth import synthesize

    victim = drone / "masks_full" / "00.png"
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")  # the user edited a mask
    with pytest.raises(InputError, match="differs from what synthesis wrote .*changed: masks_full/00.png"):
        synthesize("drone", drone, seed=4, n=3, size=32)
    assert victim.read_bytes().endswith(b"\x00")
    # a copied synth.json does not make a folder synthetic
    fake = drone.parent / "fake"
    shutil.copytree(drone, fake)
    (fake / "MANIFEST.sha256").unlink()
    with pytest.raises(InputError, match="refusing to replace it"):
        synthesize("drone", fake, seed=4, n=3, size=32)


def test_synth_rerun_with_same_parameters_is_still_a_no_op(drone):
    from lens2logit.data.synth import synthesize

    before = {p: p.stat().st_mtime_ns for p in drone.rglob("*")}
    synthesize("drone", drone, seed=3, n=3, size=32)
    assert {p: p.stat().st_mtime_ns for p in drone.rglob("*")} == before


def test_synth_help_shows_the_codes_defaults():
    from lens2logit.data.synth import DEFAULT_N, DEFAULT_SIZE

    text = " ".join(cli("data", "synth", "--help").stdout.split())
    assert f"images per class (default {DEFAULT_N['microscopy']})" in text
    assert f"drone: full images of 6×8 tiles (default {DEFAULT_N['drone']})" in text
    assert f"image side (default {DEFAULT_SIZE['microscopy']};" in text
    assert f"built around (default {DEFAULT_SIZE['drone']})" in text


# ---------------------------------------------------------------- 6. small command-line cases

def test_version():
    proc = cli("--version")
    from importlib.metadata import version

    assert proc.returncode == 0 and proc.stdout.strip() == f"lens2logit {version('lens2logit')}"


def _zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("make", [_zip, _tar])
def test_conflicting_archive_members_are_refused_before_any_write(tmp_path, make):
    from lens2logit.data.archive import extract

    archive = make(tmp_path / ("a.zip" if make is _zip else "a.tar"), [("a", b"file"), ("a/b", b"inside")])
    target = tmp_path / "out"
    with pytest.raises(InputError, match="member 'a' is both a file and a folder"):
        extract(archive, target)
    assert not target.exists() or not any(target.iterdir())
    (target / "x").mkdir(parents=True)
    with pytest.raises(InputError, match="would replace the folder"):
        extract(make(tmp_path / ("b.zip" if make is _zip else "b.tar"), [("x", b"file")]), target)
    with pytest.raises(InputError, match="archive not found"):
        extract(tmp_path / "missing.zip", target)


def test_runs_list_with_an_experiment_number_out_of_range(tmp_path):
    import mlflow

    from lens2logit.tracking.queries import search_runs
    from lens2logit.tracking.store import EXPERIMENTS

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment(EXPERIMENTS[0])
    with pytest.raises(InputError, match=r"unknown experiment\(s\) \['99'\] \(option --experiment\)"):
        search_runs(uri, experiments=["99"])
    proc = cli("runs", "list", "--experiment", "99", "--tracking-uri", uri)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_mask_size_message_has_plain_numbers(tmp_path):
    from lens2logit.data.files import check_equal_size

    with pytest.raises(InputError) as error:
        check_equal_size(tmp_path / "00.png", np.array([96, 128]), (np.int64(192), 256), "mask")
    assert str(error.value).endswith("mask size (96, 128) differs from (192, 256)")


def test_architecture_doc_names_existing_commands():
    import re

    from lens2logit.cli import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)
    doc = (REPO / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`lens2logit ([a-z][a-z-]*)", doc))
    assert named and named <= commands | {"--version"}, named - commands


def test_tracking_off_plans_without_a_localrules_warning(tmp_path):
    from conftest import SNAKEMAKE, copy_workflow

    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "off.yaml").write_text("tracking: {enabled: false}\n")
    proc = subprocess.run([str(SNAKEMAKE), "--configfile", "configs/test.yaml", "off.yaml", "-n", "--cores", "1"],
                          cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "localrules directive specifies rules that are not present" not in proc.stdout + proc.stderr
    assert "ingest_mlflow" not in proc.stdout


def test_a_rerun_job_removes_the_temporary_file_its_killed_run_left(tmp_path):
    """A writer killed by SIGKILL leaves its hidden temporary file; the job's next start removes it."""
    from types import SimpleNamespace

    from lens2logit.workflow import job

    target = tmp_path / "view.npy"
    killed = subprocess.run(
        [sys.executable, "-c",
         "import os, signal, sys\n"
         "from lens2logit.io import atomic_path\n"
         f"with atomic_path({str(target)!r}) as tmp:\n"
         "    tmp.write_bytes(b'half')\n"
         "    os.kill(os.getpid(), signal.SIGKILL)\n"],
        check=False,
    )
    assert killed.returncode == -9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".view.npy.") and left[0].endswith(".tmp.npy")
    neighbours = [tmp_path / ".view.npy.b.tmp.npy", tmp_path / ".view.npyx.abcdefgh.tmp.npy", tmp_path / "other.npy"]
    for path in neighbours:  # not view.npy's temporaries: another name, or not mkstemp's 8 characters
        path.write_bytes(b"keep")

    with job(SimpleNamespace(log=[str(tmp_path / "job.log")], output=[str(target)], threads=1)):
        pass

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([p.name for p in neighbours] + ["job.log"])
    assert "left by a killed earlier run of this job" in (tmp_path / "job.log").read_text()


def test_a_stale_temporary_that_cannot_be_removed_fails_the_job_with_its_traceback_in_the_log(tmp_path, monkeypatch):
    """The clean-up runs inside the job's error handling: its failure reaches the log with a traceback.

    The failure is injected (Path.unlink raising): tests run as root here, which removes read-only files.
    """
    from types import SimpleNamespace

    from lens2logit.workflow import job

    stale = tmp_path / ".view.npy.abcdefgh.tmp.npy"
    stale.write_bytes(b"half")

    def refuse(self, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    ran = []
    with pytest.raises(PermissionError):
        with job(SimpleNamespace(log=[str(tmp_path / "job.log")], output=[str(tmp_path / "view.npy")], threads=1)):
            ran.append(True)
    monkeypatch.undo()
    assert not ran and stale.exists()
    log_text = (tmp_path / "job.log").read_text()
    assert "Traceback" in log_text and "PermissionError" in log_text and stale.name in log_text
