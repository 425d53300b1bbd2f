"""``MANIFEST.sha256``: the "dataset complete" marker, in ``sha256sum`` format with relative paths.

Also the dataset's content fingerprint: the sha256 of every file a workflow branch reads, cached by
(size, mtime, ctime, inode) in one file per dataset under the user's cache folder (never the current
directory; ``utime`` can reset mtime but not ctime, so a rewrite that keeps size and mtime is re-hashed),
so that a changed, added or removed file reruns its branch and a file that no longer matches the
manifest stops the workflow naming it. ``lens2logit data verify`` hashes every file afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from lens2logit.data.files import file_identity
from lens2logit.data.layout import DRONE_TILE_SIZE, MANIFEST
from lens2logit.errors import InputError
from lens2logit.io import write_text

CHUNK = 1 << 20
# How many file names a problem report lists before "… and N more".
SHOWN_NAMES = 5
# Environment variable naming the hash cache folder (default: $XDG_CACHE_HOME or ~/.cache, /lens2logit/hashes).
HASH_CACHE_ENV = "LENS2LOGIT_HASH_CACHE"


def default_hash_cache_dir() -> Path:
    """The one hash-cache folder of this user: ``$LENS2LOGIT_HASH_CACHE``, else
    ``$XDG_CACHE_HOME/lens2logit/hashes`` (``~/.cache`` without it). Each dataset has one file in it,
    named by the hash of its absolute path, whatever the current directory."""
    if os.environ.get(HASH_CACHE_ENV):
        return Path(os.environ[HASH_CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lens2logit" / "hashes"


# Sentinel: "the default hash-cache folder" (resolved when used, so the environment can change it).
HASH_CACHE_DIR = "default"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(CHUNK), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    return digest.hexdigest()


# Top-level folders of derived files lens2logit may write into a dataset root (drone tile caches of
# ``load_dataset(..., cache_dir=None)``): neither data nor foreign.
DERIVED_FOLDER_PREFIX = "tiles_"


def _listed(root: Path, path: Path) -> bool:
    rel = path.relative_to(root)
    return (
        path.is_file()
        and rel.as_posix() != MANIFEST
        and not any(p.startswith(".") for p in rel.parts)
        and not (len(rel.parts) > 1 and rel.parts[0].startswith(DERIVED_FOLDER_PREFIX))
    )


def dataset_files(root: Path) -> list[Path]:
    """Every regular file below ``root`` except the manifest, hidden files/folders and derived
    ``tiles_*/`` caches, sorted."""
    root = Path(root)
    return [path for path in sorted(root.rglob("*")) if _listed(root, path)]


def write_manifest(root: Path, files: list[Path] | None = None, *, cache: "HashCache | None" = None) -> Path:
    """Hash ``files`` (default: all of ``dataset_files(root)``) and write ``root/MANIFEST.sha256`` atomically."""
    root = Path(root)
    files = dataset_files(root) if files is None else sorted(files)
    hash_of = cache.sha256 if cache is not None else sha256_file
    lines = [f"{hash_of(p)}  {p.relative_to(root).as_posix()}\n" for p in files]
    write_text(root / MANIFEST, "".join(lines))
    if cache is not None:
        cache.save()
    return root / MANIFEST


def read_manifest(root: Path) -> dict[str, str]:
    """{relative path: sha256} of ``root/MANIFEST.sha256``; InputError naming the manifest if it is
    missing, unreadable, not UTF-8, malformed or empty."""
    path = Path(root) / MANIFEST
    if Path(root).is_file():
        raise InputError(f"{root}: is a file; expected the dataset's root folder")
    if not path.is_file():
        raise InputError(f"{path}: manifest not found (dataset incomplete or not downloaded)")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the manifest ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: manifest is not UTF-8 text (byte {exc.start})") from None
    entries = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or name.startswith("/") or ".." in Path(name).parts:
            raise InputError(f"{path}:{number}: not a sha256sum line with a relative path")
        entries[name] = digest
    if not entries:
        raise InputError(f"{path}: manifest lists no files; an empty manifest verifies nothing")
    return entries


def name_list(names: list[str], shown: int = SHOWN_NAMES) -> str:
    """``a, b, c`` or ``a, b, c, … and 7 more``."""
    head = ", ".join(names[:shown])
    return head if len(names) <= shown else f"{head}, … and {len(names) - shown} more"


@dataclass
class Check:
    """Result of comparing files on disk with a manifest."""

    root: Path
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra)

    def problems(self) -> list[str]:
        """One ``kind: path`` line per problem file."""
        return [f"{kind}: {name}" for kind in ("missing", "changed", "extra") for name in getattr(self, kind)]

    def summary(self) -> str:
        """One line: counts per kind with the first few names."""
        parts = [
            f"{len(names)} {kind} ({name_list(names)})"
            for kind, names in (("missing", self.missing), ("changed", self.changed), ("extra", self.extra))
            if names
        ]
        return "; ".join(parts) if parts else f"{self.checked} files OK"


def verify_files(root: Path, names: list[str] | None = None, *, cache: "HashCache | None" = None) -> Check:
    """Compare ``root``'s files with its manifest.

    ``names`` = the relative paths to check (a workflow branch's files; default: every file under
    ``root``). Listed files missing on disk, files whose sha256 differs and files on disk not in the
    manifest are reported; files of the manifest outside ``names`` are ignored when ``names`` is given.
    """
    root = Path(root)
    manifest = read_manifest(root)
    on_disk = [p.relative_to(root).as_posix() for p in dataset_files(root)] if names is None else list(names)
    hash_of = cache.sha256 if cache is not None else sha256_file
    check = Check(root)
    scope = set(on_disk)
    if names is None:
        check.missing = sorted(n for n in manifest if not (root / n).is_file())
    else:
        folders = {str(Path(n).parent) for n in on_disk}
        # A manifest file in one of the branch's folders that is gone counts as missing.
        check.missing = sorted(n for n in manifest if str(Path(n).parent) in folders and n not in scope)
    for name in sorted(scope):
        path = root / name
        if name not in manifest:
            check.extra.append(name)
        elif not path.is_file():
            check.missing.append(name)
        elif hash_of(path) != manifest[name]:
            check.changed.append(name)
        check.checked += 1
    check.missing = sorted(set(check.missing))
    if cache is not None:
        cache.save()
    return check


def verify_manifest(root: Path) -> list[str]:
    """Problems found (``missing: path`` / ``changed: path`` / ``extra: path``); empty when the
    folder holds exactly the listed files with their hashes."""
    return verify_files(root).problems()


# ---------------------------------------------------------------- content fingerprint

class HashCache:
    """sha256 of files, remembered by (path, size, mtime, ctime, inode) in one JSON file per dataset
    root under ``cache_dir`` (default :func:`default_hash_cache_dir`; ``None``: no file, memory only)."""

    def __init__(self, root: Path, cache_dir: Path | str | None = HASH_CACHE_DIR):
        self.root = Path(root).resolve()
        self.path = None
        self.entries: dict[str, list] = {}
        self.dirty = False
        if cache_dir == HASH_CACHE_DIR:
            cache_dir = default_hash_cache_dir()
        if cache_dir is not None:
            key = hashlib.sha1(str(self.root).encode()).hexdigest()[:16]
            self.path = Path(cache_dir) / f"{key}.json"
            try:
                loaded = json.loads(self.path.read_text())
                if loaded.get("root") == str(self.root):
                    self.entries = loaded.get("files", {})
            except (OSError, ValueError, AttributeError):
                self.entries = {}

    def sha256(self, path: Path) -> str:
        path = Path(path)
        try:
            stat = path.stat()
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
        key = os.path.relpath(path.resolve(), self.root)
        identity = file_identity(stat)
        known = self.entries.get(key)
        if known and known[:-1] == identity:
            return known[-1]
        digest = sha256_file(path)
        self.entries[key] = [*identity, digest]
        self.dirty = True
        return digest

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        from lens2logit.io import write_json

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return  # an unwritable cache folder only costs re-hashing
        write_json(self.path, {"root": str(self.root), "files": dict(sorted(self.entries.items()))})
        self.dirty = False


def branch_files(source: str, root: Path, intensity: float, *, tile_size: int = DRONE_TILE_SIZE) -> list[str]:
    """Relative paths of the files a workflow branch (``source`` folder at ``intensity``) reads: the
    union of :meth:`~lens2logit.data.registry.Layout.files` of every dataset read from ``source``
    (both drone datasets share one branch; each answers for the layout the root holds)."""
    root = Path(root)
    return sorted(set().union(*(layout.files(root, intensity, tile_size) for layout in _workflow_layouts(source))))


def _workflow_layouts(source: str) -> list:
    from lens2logit.data.registry import source_layouts

    return source_layouts(source)


def intensity_listings(source: str, root: Path, *, tile_size: int = DRONE_TILE_SIZE) -> list[str]:
    """Relative names of every entry of every ``raw_scaleXXX`` image folder the loaders of ``source``
    compare across intensities (:meth:`~lens2logit.data.registry.Layout.listings`; a file added to or
    missing from any one folder fails every branch), so they belong to every branch's fingerprint."""
    root = Path(root)
    return sorted(set().union(*(layout.listings(root, tile_size) for layout in _workflow_layouts(source))))


def branch_fingerprint(
    source: str, root: Path, intensity: float, *, tile_size: int = DRONE_TILE_SIZE, cache_dir=HASH_CACHE_DIR
) -> str:
    """Short sha256 over (name, content hash) of ``branch_files`` and the names of
    :func:`intensity_listings`: exactly what the loader reads for this branch, so it changes when a
    file of the branch is relabelled, replaced, added or removed, or a file appears in or leaves any
    intensity folder. Hashes are cached by (size, mtime, ctime, inode) in ``cache_dir``."""
    return _fingerprint(source, Path(root), intensity, tile_size, HashCache(root, cache_dir))


def _fingerprint(source: str, root: Path, intensity: float, tile_size: int, cache: HashCache) -> str:
    digest = hashlib.sha256()
    for name in branch_files(source, root, intensity, tile_size=tile_size):
        digest.update(f"{name}\0{cache.sha256(root / name)}\n".encode())
    for name in intensity_listings(source, root, tile_size=tile_size):
        digest.update(f"listed\0{name}\n".encode())
    cache.save()
    return digest.hexdigest()[:20]


def check_branch(
    source: str, root: Path, intensity: float, *, tile_size: int = DRONE_TILE_SIZE, accept_changes: bool = False, cache_dir=HASH_CACHE_DIR
) -> Check | None:
    """If ``root`` has a manifest, check the branch's files against it.

    Returns the check (``None`` without a manifest). Raises InputError naming the changed, missing and
    extra files unless ``accept_changes`` (then the caller decides, e.g. logs them).
    """
    root = Path(root)
    if not (root / MANIFEST).is_file():
        return None
    return _check_branch(source, root, intensity, tile_size, accept_changes, HashCache(root, cache_dir))


def _check_branch(source: str, root: Path, intensity: float, tile_size: int, accept_changes: bool, cache: HashCache) -> Check:
    check = verify_files(root, branch_files(source, root, intensity, tile_size=tile_size), cache=cache)
    if not check.ok and not accept_changes:
        raise InputError(
            f"{root / MANIFEST}: {check.summary()} — the data differ from the manifest; restore them, or accept the "
            f"change with `lens2logit data verify {source} --root {root} --update` (or config data.accept_changes: true)"
        )
    return check


def checked_branch_fingerprint(
    source: str, root: Path, intensity: float, *, tile_size: int = DRONE_TILE_SIZE, accept_changes: bool = False, cache_dir=HASH_CACHE_DIR
) -> str:
    """:func:`check_branch`, then :func:`branch_fingerprint`, with one hash cache (read once): what the
    plan does for every branch of path data."""
    root = Path(root)
    cache = HashCache(root, cache_dir)
    if (root / MANIFEST).is_file():
        _check_branch(source, root, intensity, tile_size, accept_changes, cache)
    return _fingerprint(source, root, intensity, tile_size, cache)


def update_manifest(root: Path, *, cache_dir=None) -> Path:
    """Rewrite ``root``'s manifest from the files now on disk (accepting changes); every file is
    hashed afresh unless a ``cache_dir`` is given (``HASH_CACHE_DIR``: the default cache)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset root not found (or not a folder)")
    return write_manifest(root, cache=HashCache(root, cache_dir) if cache_dir is not None else None)
