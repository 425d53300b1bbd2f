"""Give every DVC-tracked output one modification time, so Snakemake sees a pulled study as up to date.

`dvc pull` / `dvc checkout` write files in no particular order, so an output can end up
older than its inputs, and Snakemake 9 reruns a job whose input is newer than its output
unless the input is small enough to be checksummed (`--max-checksum-file-size`, 1 MB).
Equal times are never "newer" (Snakemake compares with `>`), and "now" is newer than the
scripts of the git checkout, so after this nothing reruns for time reasons alone; changed
params, input sets or code are still detected from the pulled `.snakemake/metadata`.

Usage (from the repository root, right after a successful `dvc pull`):
    python scripts/dvc/sync_mtimes.py [dvc.lock]
"""

import os
import sys
import time
from pathlib import Path

import yaml


def tracked_outputs(lock_path: Path) -> list[Path]:
    """Output paths (files or directories) of every stage in a dvc.lock."""
    lock = yaml.safe_load(lock_path.read_text()) or {}
    root = lock_path.parent
    return [root / out["path"] for stage in lock.get("stages", {}).values() for out in stage.get("outs", [])]


def sync_mtimes(paths: list[Path], timestamp_ns: int | None = None) -> int:
    """Set the mtime (and atime) of every file and directory under `paths`; returns the file count."""
    t = time.time_ns() if timestamp_ns is None else timestamp_ns
    count = 0
    for path in paths:
        if not path.exists():
            continue
        walk = os.walk(path) if path.is_dir() else [(str(path.parent), [], [path.name])]
        for dirpath, _, filenames in walk:
            for name in filenames:
                os.utime(os.path.join(dirpath, name), ns=(t, t))
                count += 1
            if path.is_dir():
                os.utime(dirpath, ns=(t, t))
    return count


if __name__ == "__main__":
    lock = Path(sys.argv[1] if len(sys.argv) > 1 else "dvc.lock")
    n = sync_mtimes(tracked_outputs(lock))
    print(f"sync_mtimes: {n} files under the outputs of {lock} now share one modification time")
