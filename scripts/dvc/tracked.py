"""What DVC versions of the study: the `.dvc` files that `share.py` writes, and their outputs.

Snakemake alone decides which jobs run; DVC only stores and restores what they made. The shared
paths are defined once, here (:func:`shared_paths`); every other DVC helper reads the `.dvc` files.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

RESULTS = "results"
SNAKEMAKE_METADATA = ".snakemake/metadata"  # params, input sets and code of every job


def shared_paths(root: Path, data_root: str) -> list[str]:
    """Folders `share.py` versions: the raw data when it lies inside the repository (synthetic or
    downloaded; a `data.source: path` folder elsewhere is the user's own), the results, and
    Snakemake's metadata, without which a fresh clone cannot see that a config value changed."""
    data = Path(data_root)
    data = data if data.is_absolute() else root / data
    inside = data.resolve().is_relative_to(root.resolve())
    return ([str(data.resolve().relative_to(root.resolve()))] if inside else []) + [RESULTS, SNAKEMAKE_METADATA]


def dvc_files(root: Path) -> list[Path]:
    """The committed `.dvc` files of the repository at ``root``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--", "*.dvc"], cwd=root, capture_output=True, text=True, check=True)
    return [root / name for name in listed.stdout.split("\0") if name]


def tracked_outs(root: Path) -> list[dict]:
    """Every output of the `.dvc` files: ``{"path": absolute Path, "md5": ..., "name": repo-relative}``."""
    outs = []
    for dvc_file in dvc_files(root):
        for out in (yaml.safe_load(dvc_file.read_text()) or {}).get("outs", []):
            path = (dvc_file.parent / out["path"]).resolve()
            outs.append({**out, "path": path, "name": str(path.relative_to(root.resolve()))})
    return outs
