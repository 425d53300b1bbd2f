"""A Snakemake lock left behind by a killed Snakemake: found, and cleared only when no Snakemake
process works in the directory any more.

Snakemake writes ``.snakemake/locks/N.input.lock`` / ``N.output.lock`` while it runs and deletes
them when it ends; a ``kill -9`` leaves them, and the next run stops with ``LockException``. The
``make run`` entry point calls ``lens2logit workflow unlock-stale`` first, so the README's own
command resumes a killed run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Where Snakemake's file-based persistence keeps its locks, relative to the workflow directory.
LOCK_DIR = Path(".snakemake") / "locks"
PROC = Path("/proc")


def lock_files(directory: Path) -> list[Path]:
    """Snakemake's lock files in ``directory`` (sorted; empty when it is not locked)."""
    folder = Path(directory) / LOCK_DIR
    return sorted(p for p in folder.glob("*.lock")) if folder.is_dir() else []


def _is_snakemake(argv: list[str]) -> bool:
    """A Snakemake process or one of its jobs (``snakemake …``, ``python -m snakemake``, a job script
    under ``.snakemake/``)."""
    return any("snakemake" in arg for arg in argv)


def snakemake_pids(directory: Path, proc: Path = PROC) -> list[int] | None:
    """Process ids of Snakemake processes (or their jobs) whose working directory is ``directory``;
    None when the process table cannot be read (no ``/proc``)."""
    if not proc.is_dir():
        return None
    target = Path(directory).resolve()
    own = os.getpid()
    pids = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if not _is_snakemake(argv):
                continue
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone meanwhile, or another user's process
            continue
        if cwd == target:
            pids.append(int(entry.name))
    return sorted(pids)


def unlock_stale(directory: Path = Path("."), proc: Path = PROC) -> tuple[bool, str]:
    """Clear ``directory``'s Snakemake lock if no Snakemake process holds it.

    Returns (ok, message): ok = the next Snakemake can start (no lock, or a stale one removed);
    message = what was found and done (empty when there was no lock).
    """
    directory = Path(directory)
    locks = lock_files(directory)
    if not locks:
        return True, ""
    pids = snakemake_pids(directory, proc)
    where = directory.resolve()
    if pids is None:
        return False, (
            f"{where / LOCK_DIR}: locked, and the process table cannot be read here; if no Snakemake runs in "
            f"{where}, clear it with `snakemake --unlock` and run again"
        )
    if pids:
        return False, (
            f"{where / LOCK_DIR}: locked by a running Snakemake (pid {', '.join(map(str, pids))}); "
            "wait for it to finish or stop it, then run again"
        )
    shutil.rmtree(directory / LOCK_DIR, ignore_errors=True)
    return True, (
        f"{where / LOCK_DIR}: stale lock of a killed Snakemake removed ({len(locks)} lock files, no Snakemake "
        "process in this directory); the run resumes where it stopped"
    )
