"""Shared helpers for the end-to-end tests: tool environment, commands, free ports, repo copies."""

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's bin: snakemake, dvc, moto_server


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


def snakemake_has_nothing_to_do(cwd: Path, *args: str) -> tuple[bool, str]:
    """Dry-run the default target; True if Snakemake reports nothing to do, plus its output."""
    proc = run(["snakemake", "--cores", "1", "--dry-run", *args], cwd)
    out = proc.stdout + proc.stderr
    return "Nothing to be done" in out, out


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


# ---- one tiny study, run once per session through the DVC pipeline -----------------------


def tiny_config(datasets=("microscopy",)) -> str:
    """configs/test.yaml restricted to `datasets` (one dataset keeps the end-to-end tests short)."""
    cfg = yaml.safe_load((REPO / "configs/test.yaml").read_text())
    cfg["datasets"] = list(datasets)
    return yaml.safe_dump(cfg, sort_keys=False)


@dataclass
class Study:
    base: Path      # temp folder holding everything below
    origin: Path    # git repo (copy of the working tree) where `dvc repro` ran; dvc.lock committed
    remote: Path    # its default (local-directory) DVC remote
    seconds: dict   # wall times of the steps


@pytest.fixture(scope="session")
def dvc_study(tmp_path_factory) -> Study:
    """The tiny config (one dataset) reproduced with `dvc repro`, committed and pushed to a local remote."""
    base = tmp_path_factory.mktemp("dvc_study")
    seconds = {}
    t = time.monotonic()
    origin = copy_worktree(base / "origin")
    (origin / "config.yaml").write_text(tiny_config())
    remote = base / "remote"
    run(["dvc", "remote", "modify", "--local", "local", "url", str(remote)], origin)
    seconds["copy"] = time.monotonic() - t
    t = time.monotonic()
    run(["dvc", "repro"], origin, timeout=1800)
    seconds["repro"] = time.monotonic() - t
    run(["git", "add", "-A"], origin)
    run(["git", "commit", "-q", "-m", "tiny study: dvc.lock"], origin)
    t = time.monotonic()
    run(["dvc", "push"], origin)
    seconds["push"] = time.monotonic() - t
    return Study(base, origin, remote, seconds)
