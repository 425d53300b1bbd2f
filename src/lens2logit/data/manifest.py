"""``MANIFEST.sha256``: the "dataset complete" marker, in ``sha256sum`` format with relative paths."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lens2logit.data.layout import MANIFEST
from lens2logit.errors import InputError
from lens2logit.io import write_text

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_files(root: Path) -> list[Path]:
    """Every regular file below ``root`` except the manifest and hidden files/folders, sorted."""
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.as_posix() != MANIFEST and not any(p.startswith(".") for p in rel.parts):
            files.append(path)
    return files


def write_manifest(root: Path, files: list[Path] | None = None) -> Path:
    """Hash ``files`` (default: all of ``dataset_files(root)``) and write ``root/MANIFEST.sha256`` atomically."""
    root = Path(root)
    files = dataset_files(root) if files is None else sorted(files)
    lines = [f"{sha256_file(p)}  {p.relative_to(root).as_posix()}\n" for p in files]
    write_text(root / MANIFEST, "".join(lines))
    return root / MANIFEST


def read_manifest(root: Path) -> dict[str, str]:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise InputError(f"{path}: manifest not found (dataset incomplete or not downloaded)")
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or name.startswith("/") or ".." in Path(name).parts:
            raise InputError(f"{path}:{number}: not a sha256sum line with a relative path")
        entries[name] = digest
    return entries


def verify_manifest(root: Path) -> list[str]:
    """Problems found (``missing: path`` / ``changed: path``); empty when every listed file matches."""
    root = Path(root)
    problems = []
    for name, digest in read_manifest(root).items():
        path = root / name
        if not path.is_file():
            problems.append(f"missing: {name}")
        elif sha256_file(path) != digest:
            problems.append(f"changed: {name}")
    return problems
