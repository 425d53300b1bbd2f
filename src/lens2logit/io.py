"""Atomic file output: a killed job never leaves a file that looks finished.

Every writer goes through :func:`atomic_path`: the data land in a temporary sibling
(``.name.<random>.tmp``) that is renamed over the target only after a successful write.
``os.replace`` is atomic on POSIX within one file system. A writer killed by SIGKILL cannot
remove its temporary file; :func:`stale_temporaries` finds it, and the workflow's job wrapper
removes those of a job's outputs when the job starts again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from lens2logit.errors import InputError

TEMP_MARK = ".tmp"  # in every temporary file's name, before the target's extension


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    Args:
        target: the final file path; parent folders are created.
        suffix: suffix for the temporary file (defaults to the target's, so that libraries
            which pick a format from the extension keep working).

    On an exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Hidden, marked ".tmp", yet ending in the real extension for format-sniffing writers.
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=TEMP_MARK + (target.suffix if suffix is None else suffix), dir=target.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp makes 0600 files; give the result the mode a plain open() would have.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """The temporary files of :func:`atomic_path` for ``target`` that a killed writer left behind.

    Only call this where no other process writes ``target`` now (a Snakemake job owns its outputs):
    a live writer's temporary file looks the same.
    """
    target = Path(target)
    # mkstemp's names: the prefix, 8 random characters of [a-z0-9_], then the suffix.
    pattern = re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}" + re.escape(TEMP_MARK))
    if not target.parent.is_dir():
        return []
    return sorted(p for p in target.parent.iterdir() if pattern.match(p.name) and p.is_file())


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json(target: str | os.PathLike, obj: Any) -> None:
    write_text(target, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_npy(target: str | os.PathLike, array: np.ndarray) -> None:
    """Save ``array`` as ``.npy`` (memory-mappable with ``np.load(mmap_mode='r')``)."""
    with atomic_path(target, suffix=".npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())


def write_csv(target: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV without the index, atomically."""
    with atomic_path(target, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)


def save_torch(target: str | os.PathLike, obj: Any) -> None:
    """``torch.save`` atomically and byte-reproducibly: serialised in memory (fixed zip archive
    name "archive"; saving to the temporary path would store its random name in the file)."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(target, buffer.getvalue())


def load_torch(path: str | os.PathLike, what: str) -> Any:
    """Load a torch file safely (CPU tensors, no pickled code); bad files are an InputError
    naming ``what`` and the path."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
        raise InputError(f"{what} {path} is not readable: {exc}") from exc


def open_array(path: str | os.PathLike, name: str) -> np.ndarray:
    """Memory-map a ``.npy`` file; InputError naming ``name`` and the path if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{name} file not found: {path}")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{name} file {path} is not a readable .npy array: {exc}") from exc
