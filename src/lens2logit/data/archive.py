"""Safe archive extraction: every member is checked before anything is written.

Refused (with an error naming the member): absolute names, ``..`` components, links, devices and
anything else that is not a regular file or folder, and any name resolving outside the target.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from lens2logit.errors import InputError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def is_archive(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in ARCHIVE_SUFFIXES)


def _safe_relative(archive: Path, name: str, target: Path) -> Path:
    pure = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise InputError(f"{archive}: refusing archive: member {name!r} has an absolute path")
    if ".." in pure.parts:
        raise InputError(f"{archive}: refusing archive: member {name!r} points outside the folder")
    destination = (target / Path(*pure.parts)).resolve() if pure.parts else target.resolve()
    if not destination.is_relative_to(target.resolve()):
        raise InputError(f"{archive}: refusing archive: member {name!r} points outside the folder")
    return Path(*pure.parts) if pure.parts else Path(".")


def _zip_members(archive: Path, zf: zipfile.ZipFile, target: Path):
    members = []
    for info in zf.infolist():
        mode = info.external_attr >> 16
        if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise InputError(f"{archive}: refusing archive: member {info.filename!r} is a link or special file")
        members.append((info, _safe_relative(archive, info.filename, target)))
    return members


def _tar_members(archive: Path, tf: tarfile.TarFile, target: Path):
    members = []
    for info in tf.getmembers():
        if not (info.isfile() or info.isdir()):
            raise InputError(f"{archive}: refusing archive: member {info.name!r} is a link or special file")
        members.append((info, _safe_relative(archive, info.name, target)))
    return members


def _check_layout(archive: Path, members, target: Path) -> None:
    """Refuse, before any write, members that cannot all be written: a name used both as a file and
    as a folder (``a`` then ``a/b``), a file named like the target itself (``.``), a file whose place
    in ``target`` is already a folder or whose folder is already a file."""
    files = {rel for rel, is_dir, _ in members if not is_dir}
    folders = {parent for rel, _, _ in members for parent in rel.parents if parent != Path(".")}
    folders |= {rel for rel, is_dir, _ in members if is_dir and rel != Path(".")}
    for rel in sorted(files):
        if rel == Path("."):
            raise InputError(f"{archive}: refusing archive: a file member names the folder itself")
        if rel in folders:
            raise InputError(f"{archive}: refusing archive: member {rel.as_posix()!r} is both a file and a folder")
        if (target / rel).is_dir():
            raise InputError(f"{archive}: refusing archive: member {rel.as_posix()!r} would replace the folder {target / rel}")
    for folder in sorted(folders):
        if (target / folder).exists() and not (target / folder).is_dir():
            raise InputError(f"{archive}: refusing archive: folder {folder.as_posix()!r} would replace the file {target / folder}")


def _write_members(members, target: Path) -> list[Path]:
    """Write checked ``(relative path, is_dir, open_member)`` triples below ``target``."""
    written = []
    for rel, is_dir, open_member in members:
        if is_dir:
            (target / rel).mkdir(parents=True, exist_ok=True)
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        with open_member() as src, open(target / rel, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        written.append(rel)
    return written


def extract(archive: Path, target: Path) -> list[Path]:
    """Extract ``archive`` (zip or tar) into ``target``; return the files written (relative paths)."""
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise InputError(f"{archive}: archive not found (or not a file)")
    target.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                # all members are checked before any write
                members = [(rel, info.is_dir(), lambda info=info: zf.open(info)) for info, rel in _zip_members(archive, zf, target)]
                _check_layout(archive, members, target)
                written = _write_members(members, target)
        else:
            with tarfile.open(archive) as tf:
                members = [(rel, info.isdir(), lambda info=info: tf.extractfile(info)) for info, rel in _tar_members(archive, tf, target)]
                _check_layout(archive, members, target)
                written = _write_members(members, target)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise InputError(f"{archive}: broken archive ({type(exc).__name__}: {exc})") from None
    return written
