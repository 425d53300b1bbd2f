"""Downloads of the real datasets: Zenodo (HTTPS, md5) or the original B2 bucket (b2sdk, SHA1).

Flow, for both sources, with ``root`` the dataset's own root (what ``load_dataset`` gets):

1. list the remote files with their sizes and checksums;
2. download each into ``<root.parent>/.partial-<root.name>/downloads/`` as ``*.part``, resuming from
   the bytes already there (HTTP ``Range`` / B2 ranged download), verify, then drop ``.part``;
3. extract archives safely (``archive.extract``) and arrange the loader layout (microscopy:
   ``images/raw_scaleXXX`` + ``labels/Ma190c_annotations.dat``; drone: ``images_full/raw_scaleXXX`` +
   ``masks_full``) in a staging tree, write ``MANIFEST.sha256`` and rename the tree onto ``root``.

A killed run never leaves ``root``; a rerun keeps verified and partial downloads and resumes.
Credentials for B2 come only from ``B2_APPLICATION_KEY_ID`` / ``B2_APPLICATION_KEY``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, BinaryIO

from lens2logit.data.archive import extract, is_archive
from lens2logit.data.layout import (
    DRONE_CLASSIFICATION,
    DRONE_IMAGE_SUFFIXES,
    DRONE_IMAGES_FULL,
    INTENSITY_FOLDER_PREFIX,
    MANIFEST,
    MASK_SUFFIXES,
    MICROSCOPY_IMAGE_SUFFIX,
    MICROSCOPY_LABELS,
    REFERENCE_INTENSITY,
    parse_intensity_folder,
)
from lens2logit.data.manifest import write_manifest
from lens2logit.errors import InputError
from lens2logit.io import write_json

log = logging.getLogger(__name__)

DOWNLOAD_DATASETS = ("microscopy", "drone")
SOURCES = ("zenodo", "b2")

ZENODO_URL = "https://zenodo.org"
ZENODO_URL_ENV = "LENS2LOGIT_ZENODO_URL"
ZENODO_RECORD = 5235536  # DOI 10.5281/zenodo.5235536
# Expected files of each dataset in the Zenodo record, by key (case-insensitive, exact). The record's
# listing was not verifiable offline: these are the published datasets' names (Raw-Microscopy,
# Raw-Drone) as archives. When none of a dataset's expected keys is in the record, the fallback
# takes every key containing one of ZENODO_KEY_HINTS and logs what it matched.
ZENODO_RECORD_KEYS = {
    "microscopy": ("Raw-Microscopy.zip", "Raw-Microscopy.tar.gz", "microscopy.zip", "microscopy.tar.gz"),
    "drone": ("Raw-Drone.zip", "Raw-Drone.tar.gz", "drone.zip", "drone.tar.gz"),
}
# Fallback: case-insensitive substring of the file key.
ZENODO_KEY_HINTS = {"microscopy": ("microscop",), "drone": ("drone",)}

B2_BUCKET = "perturbed-minds"
B2_KEY_ID_ENV, B2_KEY_ENV = "B2_APPLICATION_KEY_ID", "B2_APPLICATION_KEY"
B2_FOLDER_MARKER = ".bzEmpty"
# Bucket prefix → folder in the fetched tree (reference-spec §3.1).
B2_PREFIXES = {
    "microscopy": {"Data histopathology/WhiteCellsImages": "images", "Data histopathology/WhiteCellsLabels": "labels"},
    "drone": {"drone/images": "images_full", "drone/masks": "masks_full"},
}

CHUNK = 1 << 20  # hashing block
HTTP_CHUNK = 1 << 14  # streaming block: a dropped connection loses at most this much
HTTP_TIMEOUT = 60
PART = ".part"
DOWNLOAD_RECORD = "download.json"  # in the dataset root: the remote files and checksums it came from


class DownloadError(InputError):
    """A download that cannot complete: network failure, truncated file, wrong checksum. Names the file."""


@dataclass(frozen=True)
class RemoteFile:
    name: str                 # relative path inside the downloads folder
    size: int
    algorithm: str            # "md5" | "sha1"
    checksum: str
    fetch: Callable[[int, BinaryIO], None]  # write bytes from ``offset`` to the end into the handle


def staging_dir(root: Path) -> Path:
    return root.parent / f".partial-{root.name}"


def _check_relative(name: str, what: str) -> str:
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or ".." in pure.parts or name.startswith("\\"):
        raise DownloadError(f"{what}: unsafe remote file name {name!r}")
    return pure.as_posix()


# ---------------------------------------------------------------- Zenodo

def zenodo_url(explicit: str | None = None) -> str:
    return (explicit or os.environ.get(ZENODO_URL_ENV) or ZENODO_URL).rstrip("/")


def zenodo_files(dataset: str, *, base_url: str | None = None, record: int = ZENODO_RECORD, session=None) -> list[RemoteFile]:
    """The record's files of ``dataset`` with md5 checksums (Zenodo REST API ``/api/records/{id}``)."""
    import requests

    session = session or requests.Session()
    url = f"{zenodo_url(base_url)}/api/records/{record}"
    try:
        response = session.get(url, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        files = response.json()["files"]
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise DownloadError(f"{url}: cannot read the record's file list ({type(exc).__name__}: {exc})") from None
    keys = [e.get("key") if isinstance(e, dict) else None for e in files]
    wanted = select_record_keys(dataset, [k for k in keys if isinstance(k, str)])
    chosen = []
    for entry in files:
        try:
            key, size, checksum, link = entry["key"], int(entry["size"]), entry["checksum"], entry["links"]["self"]
        except (KeyError, TypeError, ValueError):
            raise DownloadError(f"{url}: malformed file entry {entry!r}") from None
        if key not in wanted:
            continue
        algorithm, _, digest = str(checksum).partition(":")
        if algorithm != "md5" or not re.fullmatch(r"[0-9a-f]{32}", digest):
            raise DownloadError(f"{url}: file {key!r} has no md5 checksum ({checksum!r})")
        chosen.append(RemoteFile(_check_relative(key, url), size, "md5", digest, _http_fetcher(session, link)))
    if not chosen:
        keys = [str(e.get("key")) for e in files if isinstance(e, dict)]
        raise DownloadError(f"{url}: no file of dataset {dataset!r} in the record (files: {keys})")
    return chosen


def select_record_keys(dataset: str, keys: list[str]) -> set[str]:
    """The record keys of ``dataset``: those of ZENODO_RECORD_KEYS, else (logged) the substring fallback."""
    expected = {k.lower() for k in ZENODO_RECORD_KEYS[dataset]}
    exact = {k for k in keys if k.lower() in expected}
    if exact:
        return exact
    hints = ZENODO_KEY_HINTS[dataset]
    matched = {k for k in keys if any(h in k.lower() for h in hints)}
    if matched:
        log.warning(
            "Zenodo record: none of the expected keys %s for %s; taking the files whose key contains %s: %s",
            list(ZENODO_RECORD_KEYS[dataset]), dataset, list(hints), sorted(matched),
        )
    return matched


def _http_fetcher(session, link: str) -> Callable[[int, BinaryIO], None]:
    def fetch(offset: int, out: BinaryIO) -> None:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with session.get(link, headers=headers, stream=True, timeout=HTTP_TIMEOUT) as response:
            if offset and response.status_code == 200:  # server ignored Range: start over
                out.seek(0)
                out.truncate()
            elif response.status_code == 416:  # nothing after ``offset``: the size check decides
                return
            elif response.status_code not in (200, 206):
                response.raise_for_status()
                raise DownloadError(f"{link}: unexpected HTTP status {response.status_code}")
            for block in response.iter_content(HTTP_CHUNK):
                out.write(block)

    return fetch


# ---------------------------------------------------------------- B2

def b2_authorize(api=None):
    """Authorize ``api`` (default: a fresh ``B2Api``) with the key from the environment."""
    key_id, key = os.environ.get(B2_KEY_ID_ENV), os.environ.get(B2_KEY_ENV)
    if not key_id or not key:
        raise InputError(f"B2 credentials missing: set {B2_KEY_ID_ENV} and {B2_KEY_ENV}")
    from b2sdk.v2 import B2Api, InMemoryAccountInfo, InMemoryCache
    from b2sdk.v2.exception import B2Error

    api = api or B2Api(InMemoryAccountInfo(), cache=InMemoryCache())
    try:
        api.authorize_account("production", key_id, key)
    except B2Error as exc:
        raise DownloadError(f"B2: authorization failed for key id {key_id!r} ({type(exc).__name__})") from None
    return api


def _b2_sha1(version) -> str | None:
    sha1 = str(version.content_sha1 or "").removeprefix("unverified:")
    if re.fullmatch(r"[0-9a-f]{40}", sha1):
        return sha1
    large = (version.file_info or {}).get("large_file_sha1")
    return large if large and re.fullmatch(r"[0-9a-f]{40}", large) else None


def b2_files(dataset: str, *, bucket: str = B2_BUCKET, api=None) -> list[RemoteFile]:
    """Files under the dataset's bucket prefixes (reference-spec §3.1), with SHA1 checksums."""
    from b2sdk.v2.exception import B2Error

    api = b2_authorize(api)
    try:
        remote = api.get_bucket_by_name(bucket)
    except B2Error as exc:
        raise DownloadError(f"B2 bucket {bucket!r}: not accessible ({type(exc).__name__})") from None
    chosen = []
    for prefix, dest in B2_PREFIXES[dataset].items():
        for version, _folder in remote.ls(prefix, recursive=True):
            relative = version.file_name[len(prefix):].lstrip("/")
            if not version.file_name.startswith(prefix + "/") or PurePosixPath(relative).name == B2_FOLDER_MARKER:
                continue
            sha1 = _b2_sha1(version)
            if sha1 is None:
                raise DownloadError(f"b2://{bucket}/{version.file_name}: no SHA1 to verify against")
            name = _check_relative(f"{dest}/{relative}", f"b2://{bucket}")
            chosen.append(RemoteFile(name, int(version.size), "sha1", sha1, _b2_fetcher(remote, version.file_name, int(version.size))))
    if not chosen:
        raise DownloadError(f"b2://{bucket}: no files under {list(B2_PREFIXES[dataset])}")
    return chosen


def _b2_fetcher(remote, file_name: str, size: int) -> Callable[[int, BinaryIO], None]:
    def fetch(offset: int, out: BinaryIO) -> None:
        if offset >= size:
            return
        downloaded = remote.download_file_by_name(file_name, range_=(offset, size - 1) if offset else None)
        downloaded.save(out)

    return fetch


# ---------------------------------------------------------------- common

def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_verified(remote: RemoteFile, downloads: Path, progress=None) -> Path:
    """Download one file with resume; verify size and checksum; return its final path."""
    final = downloads / remote.name
    if final.is_file() and final.stat().st_size == remote.size and _digest(final, remote.algorithm) == remote.checksum:
        return final
    part = final.with_name(final.name + PART)
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    if have > remote.size:
        part.unlink()
        have = 0
    if have < remote.size:
        with open(part, "ab" if have else "wb") as out:
            try:
                remote.fetch(have, out)
            except DownloadError:
                raise
            except Exception as exc:  # network errors of requests/urllib3/b2sdk
                out.flush()
                got = out.tell()
                raise DownloadError(
                    f"{remote.name}: download interrupted at {got} of {remote.size} bytes "
                    f"({type(exc).__name__}); rerun to resume"
                ) from None
            out.flush()
            os.fsync(out.fileno())
    got = part.stat().st_size
    if progress is not None:
        progress.update(got - have)
    if got != remote.size:
        if got > remote.size:
            part.unlink()
        raise DownloadError(f"{remote.name}: truncated or oversized: got {got} of {remote.size} bytes")
    if _digest(part, remote.algorithm) != remote.checksum:
        part.unlink()  # corrupt: the next run starts this file afresh
        raise DownloadError(f"{remote.name}: {remote.algorithm} checksum mismatch (expected {remote.checksum})")
    os.replace(part, final)
    return final


def unpack(downloads: Path, files: list[Path], fetched: Path) -> None:
    """Archives are extracted where they lie (relative folder); other files are copied."""
    shutil.rmtree(fetched, ignore_errors=True)
    fetched.mkdir(parents=True)
    for path in files:
        rel = path.relative_to(downloads)
        if is_archive(path):
            extract(path, fetched / rel.parent)
        else:
            (fetched / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, fetched / rel)


def _intensity_parents(tree: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Folders holding ``raw_scaleXXX`` sub-folders with image files, sorted."""
    parents = set()
    for folder in tree.rglob(f"{INTENSITY_FOLDER_PREFIX}*"):
        if folder.is_dir() and parse_intensity_folder(folder.name) is not None:
            if any(p.suffix.lower() in suffixes for p in folder.iterdir()):
                parents.add(folder.parent)
    return sorted(parents)


def _pick(candidates: list[Path], hint: str, what: str, tree: Path) -> Path:
    if not candidates:
        raise DownloadError(f"{tree}: downloaded content has no {what}")
    hinted = [c for c in candidates if hint in c.as_posix().lower()]
    return (hinted or candidates)[0]


def _move_intensity_folders(parent: Path, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for folder in sorted(parent.iterdir()):
        if folder.is_dir() and parse_intensity_folder(folder.name) is not None:
            shutil.move(str(folder), str(destination / folder.name))


TILED_DRONE_PARTS = ("images_tiles_*", "masks_tiles_*", str(DRONE_CLASSIFICATION))


def _tiled_drone_parent(fetched: Path) -> Path | None:
    """The folder holding the pre-tiled drone layout (lens2logit.data.drone_tiled), when the fetched
    content has no full frames (no ``images_full`` folder) but tile folders or the classification CSV."""
    if any(p.is_dir() for p in fetched.rglob(DRONE_IMAGES_FULL.name)):
        return None
    parents = {p.parent for p in fetched.rglob("images_tiles_*") if p.is_dir() and p.parent.name != DRONE_CLASSIFICATION.name}
    parents |= {p.parent.parent for p in fetched.rglob("dataset_tiles_*.csv") if p.parent.name == DRONE_CLASSIFICATION.name}
    return min(parents, key=lambda p: (len(p.parts), str(p))) if parents else None


def _move_tiled_drone(parent: Path, tree: Path) -> None:
    moved = []
    for pattern in TILED_DRONE_PARTS:
        for part in sorted(parent.glob(pattern)):
            if part.is_dir():
                shutil.move(str(part), str(tree / part.name))
                moved.append(part.name)
    log.info("%s: pre-tiled drone layout (%s)", parent, ", ".join(moved))


def arrange_layout(dataset: str, fetched: Path, tree: Path) -> None:
    """Move the fetched content into the loader layout under ``tree``: found in the release by the
    heuristics above, placed where the registry's layout of the dataset reads it (an empty drone
    root is the full-frame layout; a pre-tiled release keeps its folder names)."""
    from lens2logit.data.registry import dataset_layout

    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    if dataset == "microscopy":
        layout = dataset_layout("microscopy")
        parent = _pick(_intensity_parents(fetched, (MICROSCOPY_IMAGE_SUFFIX,)), "raw", "raw_scaleXXX/*.tiff folders", fetched)
        labels = sorted(fetched.rglob(MICROSCOPY_LABELS.name))
        if not labels:
            raise DownloadError(f"{fetched}: downloaded content has no {MICROSCOPY_LABELS.name}")
        _move_intensity_folders(parent, layout.listed_parent(tree))
        layout.label_path(tree).parent.mkdir(parents=True)
        shutil.move(str(labels[0]), str(layout.label_path(tree)))
        return
    tiled = _tiled_drone_parent(fetched)
    if tiled is not None:
        _move_tiled_drone(tiled, tree)
        return
    parent = _pick(_intensity_parents(fetched, DRONE_IMAGE_SUFFIXES), "full", "raw_scaleXXX/*.tif folders", fetched)
    stems = {p.stem for p in next(iter(sorted(parent.glob(f"{INTENSITY_FOLDER_PREFIX}*")))).iterdir()}
    mask_dirs = sorted(
        {
            p.parent for p in fetched.rglob("*")
            if p.is_file() and p.suffix.lower() in MASK_SUFFIXES and any(s in p.stem for s in stems)  # as the loader pairs
        }
        - {f for f in parent.iterdir()}
    )
    mask_dir = _pick(mask_dirs, "mask", "mask folder matching the image names", fetched)
    layout = dataset_layout("drone_segmentation")  # both drone datasets read the same full frames
    images = layout.image_folder(tree, REFERENCE_INTENSITY, pre_tiled=False).parent
    masks = layout.label_path(tree, pre_tiled=False)
    _move_intensity_folders(parent, images)
    masks.mkdir(parents=True)
    for mask in sorted(mask_dir.iterdir()):
        if mask.is_file() and mask.suffix.lower() in MASK_SUFFIXES:
            shutil.move(str(mask), str(masks / mask.name))


def download_record(dataset: str, source: str, remote: list[RemoteFile], origin: str | None = None) -> dict:
    """What was downloaded: dataset, source, origin (Zenodo record / B2 bucket) and every remote file with its checksum."""
    return {
        "dataset": dataset,
        "source": source,
        "origin": origin,
        "files": {r.name: f"{r.algorithm}:{r.checksum}" for r in sorted(remote, key=lambda r: r.name)},
    }


def _origin(source: str, zenodo_record: int, b2_bucket: str) -> str:
    return f"zenodo record {zenodo_record}" if source == "zenodo" else f"b2 bucket {b2_bucket}"


def check_complete(root: Path, dataset: str, source: str, remote: list[RemoteFile], origin: str | None = None) -> None:
    """``root`` is an unchanged download of exactly these remote files; InputError naming what is not."""
    import json

    from lens2logit.data.manifest import verify_files

    record_path = root / DOWNLOAD_RECORD
    if not record_path.is_file():
        raise InputError(
            f"{root}: has {MANIFEST} but no {DOWNLOAD_RECORD}: not a download of {source} {dataset!r} "
            "(synthetic or copied data?); move it away or choose another --root"
        )
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{record_path}: unreadable download record ({type(exc).__name__})") from None
    expected = download_record(dataset, source, remote, origin)
    keys = ("dataset", "source", "origin")
    if {k: record.get(k) for k in keys} != {k: expected[k] for k in keys}:
        raise InputError(
            f"{record_path}: a download of {record.get('dataset')!r} from {record.get('origin') or record.get('source')}, "
            f"not of {dataset!r} from {origin or source}"
        )
    if record.get("files") != expected["files"]:
        differ = sorted(set(record.get("files") or {}) ^ set(expected["files"])) or sorted(
            n for n in expected["files"] if record["files"].get(n) != expected["files"][n]
        )
        raise InputError(f"{record_path}: the remote files changed since this download: {', '.join(differ[:5])}")
    check = verify_files(root)
    if not check.ok:
        raise InputError(f"{root / MANIFEST}: {check.summary()}")


def download(
    dataset: str, root, *, source: str = "zenodo", zenodo_base_url: str | None = None,
    zenodo_record: int = ZENODO_RECORD, b2_bucket: str = B2_BUCKET, b2_api=None, session=None, progress: bool = False,
) -> Path:
    """Download ``dataset`` (``microscopy`` | ``drone``) into its own ``root``; return ``root``.

    Already complete (``root/MANIFEST.sha256`` present) → re-verified: the remote listing must
    match the checksums recorded at download time (``download.json``) and every file the manifest.

    Raises:
        InputError / DownloadError: one line naming the option or file.
    """
    if dataset not in DOWNLOAD_DATASETS:
        raise InputError(f"dataset: cannot download {dataset!r}; expected one of {list(DOWNLOAD_DATASETS)}")
    if source not in SOURCES:
        raise InputError(f"source: {source!r} is not one of {list(SOURCES)}")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: is a file; --root must be the dataset's folder")
    if (root / MANIFEST).is_file():
        if source == "zenodo":
            remote = zenodo_files(dataset, base_url=zenodo_base_url, record=zenodo_record, session=session)
        else:
            remote = b2_files(dataset, bucket=b2_bucket, api=b2_api)
        check_complete(root, dataset, source, remote, _origin(source, zenodo_record, b2_bucket))
        return root
    if root.exists() and any(root.iterdir()):
        raise InputError(f"{root}: exists without {MANIFEST}; move it away or choose another --root")
    if source == "zenodo":
        remote = zenodo_files(dataset, base_url=zenodo_base_url, record=zenodo_record, session=session)
    else:
        remote = b2_files(dataset, bucket=b2_bucket, api=b2_api)
    staging = staging_dir(root)
    downloads = staging / "downloads"
    from tqdm import tqdm

    with tqdm(total=sum(r.size for r in remote), unit="B", unit_scale=True, disable=not progress, desc=f"download {dataset}") as bar:
        files = [fetch_verified(r, downloads, bar) for r in remote]
    unpack(downloads, files, staging / "fetched")
    tree = staging / "tree"
    arrange_layout(dataset, staging / "fetched", tree)
    write_json(tree / DOWNLOAD_RECORD, download_record(dataset, source, remote, _origin(source, zenodo_record, b2_bucket)))
    write_manifest(tree)
    if root.exists():
        root.rmdir()  # empty (checked above)
    root.parent.mkdir(parents=True, exist_ok=True)
    tree.rename(root)
    shutil.rmtree(staging, ignore_errors=True)
    return root
