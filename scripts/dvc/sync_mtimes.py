"""Give every DVC-tracked output one modification time, so Snakemake sees a pulled study as up to date.

`dvc pull` / `dvc checkout` write files in no particular order, so an output can end up
older than its inputs, and Snakemake 9 reruns a job whose input is newer than its output
unless the input is small enough to be checksummed (`--max-checksum-file-size`, 1 MB).
Equal times are never "newer" (Snakemake compares with `>`), and "now" is newer than the
scripts of the git checkout, so after this nothing reruns for time reasons alone; changed
params, input sets or code are still detected from the pulled `.snakemake/metadata`.

Usage (right after a successful `dvc pull`):
    python scripts/dvc/sync_mtimes.py [REPOSITORY]      (default: the current folder)
"""

import os
import sys
import time
from pathlib import Path


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
    sys.path.insert(0, str(Path(__file__).parent))
    from tracked import tracked_outs

    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    n = sync_mtimes([out["path"] for out in tracked_outs(root)])
    print(f"sync_mtimes: {n} files under the outputs of the .dvc files in {root.resolve()} now share one modification time")
