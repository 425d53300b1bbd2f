"""Shared helpers of the tests: tool environment, commands, free ports, repo and workflow copies,
Snakemake runs, one torch thread, tiny segmentation views."""

import functools
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's bin: snakemake, dvc, moto_server
SNAKEMAKE = BIN / "snakemake"
WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "schemas", "report", "envs", "config.yaml", "configs", "profiles")
TEST_CONFIG = yaml.safe_load((REPO / "configs" / "test.yaml").read_text())
WORKFLOW_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}


def tool_env(**extra: str) -> dict[str, str]:
    """Environment for workflow/DVC subprocesses: venv tools first, offline, no telemetry."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        DVC_NO_ANALYTICS="1",
        HF_HUB_OFFLINE="1",
        PYTHONHASHSEED="0",
        GIT_AUTHOR_NAME="lens2logit-tests",
        GIT_AUTHOR_EMAIL="tests@localhost",
        GIT_COMMITTER_NAME="lens2logit-tests",
        GIT_COMMITTER_EMAIL="tests@localhost",
    )
    env.pop("SNAKEMAKE_PROFILE", None)
    env.update(extra)
    return env


def run(cmd, cwd, *, check=True, timeout=900, env=None, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, capture text output; on failure raise with its output in the message."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env or tool_env(),
        text=True,
        capture_output=True,
        timeout=timeout,
        shell=isinstance(cmd, str),
        **kwargs,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {cmd}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}"
        )
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_worktree(dest: Path, src: Path = REPO) -> Path:
    """Copy the files git would see in `src` (tracked + untracked, minus ignored) into a new git repo.

    The copy has one commit; the real repository's git state, DVC cache, remote and results
    are never touched.
    """
    files = run(["git", "ls-files", "-z", "-c", "-o", "--exclude-standard"], src).stdout.split("\0")
    dest.mkdir(parents=True)
    for rel in filter(None, files):
        s = src / rel
        if s.is_file():
            d = dest / rel
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-q", "-m", "snapshot of the working tree"], dest)
    return dest


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow's files (:data:`WORKFLOW_FILES`, no data, no results) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def snakemake(
    workdir: Path, *args: str, config: str = "configs/test.yaml", check: bool = True, timeout: int = 1800
) -> subprocess.CompletedProcess:
    """``snakemake --configfile CONFIG --cores 2 ARGS`` in ``workdir`` (:data:`WORKFLOW_ENV`); raise with its output on failure."""
    cmd = [str(SNAKEMAKE), "--configfile", config, "--cores", "2", *args]
    proc = subprocess.run(cmd, cwd=workdir, env=WORKFLOW_ENV, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def snakemake_has_nothing_to_do(cwd: Path, *args: str) -> tuple[bool, str]:
    """Dry-run the default target; True if Snakemake reports nothing to do, plus its output."""
    proc = run(["snakemake", "--cores", "1", "--dry-run", *args], cwd)
    out = proc.stdout + proc.stderr
    return "Nothing to be done" in out, out


# `make test` runs two pytest-xdist workers, a test file at a time (--dist loadfile), in this order:
#   0. the files that use the DVC study (dvc_study): one unit of work, so one worker makes that study
#      (a test pushes from it while another copies it) and, first, the session's workflow run;
#   1. the files that use no shared run, while that worker makes them;
#   2. the files that only read the workflow run, made once for both workers (workflow_run).
# So the run is made once and neither worker waits for it. (xdist's own --dist loadgroup does not group
# under pytest 9: the node-id suffix it sets is lost.)
DVC_STUDY_USE = re.compile(r"\bdvc_study\b")
WORKFLOW_RUN_USE = re.compile(r"\bworkflow_run\b")


@functools.lru_cache(maxsize=None)
def schedule_rank(test_file: str) -> int:
    """0: uses the DVC study; 1: no shared run; 2: reads the session's workflow run (order above)."""
    path = Path(test_file)
    path = path if path.is_absolute() else REPO / path
    text = "" if path.name == "conftest.py" else path.read_text()
    return 0 if DVC_STUDY_USE.search(text) else 2 if WORKFLOW_RUN_USE.search(text) else 1


# Within a rank the longest files go first (longest-processing-time-first), so that the short ones fill
# the gaps at the end. Measured with two workers on this machine kind (wall s): test_slurm ≈ 120 (mostly
# waiting for SLURM, which overlaps well with the study being made), test_workflow_inputs ≈ 100,
# test_reliability_workflow ≈ 65, test_data_custom ≈ 68, test_workflow ≈ 80. Only an order: a stale
# list costs time, never a result.
LONGEST_FIRST = ("test_slurm.py", "test_workflow_inputs.py", "test_data_custom.py", "test_reliability_workflow.py")


def schedule_key(test_file: str) -> tuple[int, int]:
    name = Path(test_file).name
    return schedule_rank(test_file), LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(config, items):
    """Files in :func:`schedule_key` order (stable: each file's own order is kept)."""
    items.sort(key=lambda item: schedule_key(item.nodeid.split("::", 1)[0]))


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False  # hand the files out in collection order (above), not by test count

    class DvcStudyTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            test_file = nodeid.split("::", 1)[0]
            return "dvc-study" if schedule_rank(test_file) == 0 else test_file

    return DvcStudyTogether(config, log)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture
def one_torch_thread():
    """torch on one thread during the test (restored afterwards): fast and deterministic on a shared machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def blob_views(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A tiny segmentation set: views ``(n, 3, size, size)`` float32, bright rectangles on a noisy
    background, and their masks ``(n, size, size)`` uint8."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), np.uint8)
    for m in masks:
        r, c = rng.integers(0, size - 12, size=2)
        m[r : r + rng.integers(6, 12), c : c + rng.integers(6, 12)] = 1
    views = rng.normal(0.4, 0.05, size=(n, 3, size, size)) + 0.25 * masks[:, None]
    return views.astype(np.float32), masks


def flip_byte_keep_size_and_mtime(path: Path, offset: int) -> None:
    """What bit rot or a time-preserving tool does: one byte changed, size and mtime as before."""
    stat = path.stat()
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


# ---- one full workflow run on configs/test.yaml, shared by the session (read-only) ----------


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory) -> Path:
    """The tiny config (every dataset and stage) run once by Snakemake, for every pytest-xdist worker
    of the session (a file lock in their shared temporary folder; the xdist documentation's recipe).
    Tests only read it; a test that changes files takes its own :func:`copy_run`."""
    if "PYTEST_XDIST_WORKER" not in os.environ:  # no xdist
        workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
        snakemake(workdir)
        return workdir
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent
    workdir, done = shared / "workflow", shared / "workflow.done"
    with FileLock(str(shared / "workflow.lock")):
        if not done.exists():
            shutil.rmtree(workdir, ignore_errors=True)  # a failed attempt of the other worker
            snakemake(copy_workflow(workdir))
            done.touch()
    return workdir


def tiny_config(datasets=("microscopy",)) -> str:
    """configs/test.yaml restricted to `datasets` (one dataset keeps the end-to-end tests short)."""
    return yaml.safe_dump({**TEST_CONFIG, "datasets": list(datasets)}, sort_keys=False)


@dataclass
class Study:
    base: Path      # temp folder holding everything below
    origin: Path    # git repo (copy of the working tree) holding the study, its .dvc files committed
    remote: Path    # its default (local-directory) DVC remote
    seconds: dict   # wall times of the steps


@pytest.fixture(scope="session")
def dvc_study(tmp_path_factory, workflow_run) -> Study:
    """The session's workflow run as a git repository whose config.yaml is its study
    (configs/test.yaml, self-contained), shared with `make share` to a local remote and committed."""
    base = tmp_path_factory.mktemp("dvc_study")
    seconds = {}
    t = time.monotonic()
    origin = copy_worktree(base / "origin")
    shutil.copy2(origin / "configs" / "test.yaml", origin / "config.yaml")
    for rel in (TEST_CONFIG["data"]["root"], "results", ".snakemake/metadata"):  # copytree keeps the file times
        shutil.copytree(workflow_run / rel, origin / rel, symlinks=True)
    remote = base / "remote"
    run(["dvc", "remote", "modify", "--local", "local", "url", str(remote)], origin)
    seconds["copy"] = time.monotonic() - t
    t = time.monotonic()
    shared = run([str(BIN / "python"), "scripts/dvc/share.py"], origin, timeout=1800)
    seconds["share"] = time.monotonic() - t
    run(["git", "add", "-A"], origin)  # the .dvc files share.py wrote
    run(["git", "commit", "-q", "-m", "tiny study: .dvc files"], origin)
    return Study(base, origin, remote, {**seconds, "share_output": shared.stdout})


def copy_run(run: Path, dest: Path) -> Path:
    """A private copy of a finished workflow folder (results, Snakemake metadata, data), file times kept."""
    ignore = lambda folder, names: {"cache"} & set(names) if Path(folder).name == ".dvc" else set()  # noqa: E731
    shutil.copytree(run, dest, symlinks=True, ignore=ignore)
    return dest
