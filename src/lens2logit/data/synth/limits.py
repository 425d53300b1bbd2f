"""Limits of ``synthesize``: sizes that cannot load or cannot fit, and folders it must not replace.

Checked before anything is drawn or written, each failure one InputError naming the option.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lens2logit.data.layout import (
    INTENSITIES,
    MANIFEST,
    MICROSCOPY_CLASSES,
    MICROSCOPY_LAYOUT,
    MICROSCOPY_MIN_CLASS_SAMPLES,
    SYNTH_PARAMS,
    drone_image_path,
    drone_mask_path,
    microscopy_image_path,
)
from lens2logit.errors import InputError

# Full drone images are this many tiles high and wide (see drone.py).
DRONE_TILES = (6, 8)
BYTES_PER_DN = 2  # 16-bit TIFFs on disk
BYTES_PER_SAMPLE = 4  # float32 in memory when the workflow loads one intensity
# Fraction of free disk / available memory a synthetic dataset may take.
HEADROOM = 0.8
# Files inside a synthetic root that lens2logit itself writes besides the manifest's entries.
OWN_FILES = (SYNTH_PARAMS, MANIFEST)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    raise AssertionError


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``; total physical memory where not known)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def free_disk(root: Path) -> int:
    """Free bytes on the file system that will hold ``root`` (its nearest existing parent)."""
    path = Path(root).absolute()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def synth_footprint(
    dataset: str, n: int, size: int, class_counts: dict[str, int] | None = None, frame: tuple[int, int] | None = None,
) -> tuple[int, int, int]:
    """(images per intensity, bytes on disk for all intensities, bytes of one intensity as float32)."""
    if dataset == "microscopy":
        images = sum(class_counts.values()) if class_counts else n * len(MICROSCOPY_CLASSES)
        pixels = size * size
    else:
        images = n
        height, width = frame if frame is not None else (DRONE_TILES[0] * size, DRONE_TILES[1] * size)
        pixels = height * width
    disk = images * pixels * BYTES_PER_DN * len(INTENSITIES) + (images * pixels if dataset == "drone" else 0)
    return images, disk, images * pixels * BYTES_PER_SAMPLE


def check_loadable(dataset: str, n: int | None, class_counts: dict[str, int] | None = None) -> None:
    """Refuse a dataset the loader could not load (``lens2logit data synth``; tests may write smaller ones)."""
    if dataset == "microscopy" and (n is not None or class_counts is not None):
        counts = class_counts if class_counts is not None else {c: n for c in MICROSCOPY_CLASSES}
        kept = [c for c, k in counts.items() if isinstance(k, int) and k > MICROSCOPY_MIN_CLASS_SAMPLES]
        if len(kept) < 2:
            option = "class_counts" if class_counts is not None else "n"
            value = class_counts if class_counts is not None else n
            raise InputError(
                f"{option}: {value!r} cannot load: the microscopy loader keeps only classes with more than "
                f"{MICROSCOPY_MIN_CLASS_SAMPLES} images and needs at least 2 of them (use n ≥ {MICROSCOPY_MIN_CLASS_SAMPLES + 1})"
            )


def _check_root_is_a_folder(root: Path) -> None:
    if Path(root).exists() and not Path(root).is_dir():
        raise InputError(f"{root}: is a file; --root must be the dataset's folder")


def check_synth_limits(
    dataset: str, n: int, size: int, class_counts: dict[str, int] | None, root: Path, frame: tuple[int, int] | None = None,
) -> None:
    """Refuse a dataset that does not fit on disk or in memory (estimated before anything is drawn)."""
    _check_root_is_a_folder(root)
    images, disk, memory = synth_footprint(dataset, n, size, class_counts, frame)
    height, width = frame if frame is not None else (DRONE_TILES[0] * size, DRONE_TILES[1] * size)
    what = f"{images} images of {size}×{size}" if dataset == "microscopy" else f"{images} full images of {height}×{width}"
    free = free_disk(root)
    if disk > HEADROOM * free:
        raise InputError(
            f"n/size: {what} need {_human(disk)} on disk ({len(INTENSITIES)} intensities); "
            f"only {_human(free)} free under {Path(root).absolute().parent}"
        )
    avail = available_memory()
    if memory > HEADROOM * avail:
        raise InputError(
            f"n/size: {what} need {_human(memory)} of memory to load one intensity (float32); "
            f"only {_human(avail)} available"
        )


def foreign_files(root: Path) -> list[str]:
    """Files under an existing ``root`` that ``synthesize`` did not write (relative paths, sorted)."""
    from lens2logit.data.manifest import DERIVED_FOLDER_PREFIX, read_manifest

    root = Path(root)
    if not root.is_dir():
        return []
    try:
        own = set(read_manifest(root))
    except InputError:
        own = set()
    own |= written_names(root)
    foreign = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or rel.parts[0].startswith(DERIVED_FOLDER_PREFIX):
            continue
        name = rel.as_posix()
        if name not in own and name not in OWN_FILES:
            foreign.append(name)
    return foreign


def check_foreign_files(root: Path) -> None:
    """Refuse to replace a synthetic root holding files it did not write (user files are never deleted)."""
    root = Path(root)
    _check_root_is_a_folder(root)
    if not (root / SYNTH_PARAMS).is_file():
        return  # not a synthetic root: synthesize refuses a non-empty one itself
    foreign = foreign_files(root)
    if foreign:
        from lens2logit.data.manifest import name_list

        raise InputError(
            f"{root}: holds {len(foreign)} file(s) that synthesis did not write ({name_list(foreign)}); "
            "move them away first — they would be deleted when the folder is rewritten"
        )


def written_names(root: Path) -> set[str]:
    """Relative paths that synthesis with the parameters recorded in ``root/synth.json`` writes."""
    import json

    try:
        params = json.loads((Path(root) / SYNTH_PARAMS).read_text(encoding="utf-8"))
        dataset, n, seed = params["dataset"], int(params["n"]), int(params["seed"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    if dataset == "microscopy":
        from lens2logit.data.synth.plan import microscopy_plan

        try:
            stems = [stem for stem, _ in microscopy_plan(n, params.get("class_counts"), seed)]
        except InputError:
            return set()
        names = {microscopy_image_path(s, i).as_posix() for i in INTENSITIES for s in stems}
        return names | {MICROSCOPY_LAYOUT.label_path(Path()).as_posix()}
    names = {drone_image_path(k, i).as_posix() for i in INTENSITIES for k in range(n)}
    return names | {drone_mask_path(k).as_posix() for k in range(n)}


# Key of synth.json holding the fingerprint of the files synthesis wrote (all but synth.json and the manifest).
WRITTEN_KEY = "written"


def written_fingerprint(root: Path, cache=None) -> str:
    """sha256 over (relative name, content sha256) of every dataset file of ``root`` except
    ``synth.json`` and the manifest: what ``synthesize`` records as the proof that it wrote the folder.
    ``cache``: a :class:`~lens2logit.data.manifest.HashCache` to reuse (and fill) the files' hashes."""
    import hashlib

    from lens2logit.data.manifest import dataset_files, sha256_file

    hash_of = cache.sha256 if cache is not None else sha256_file
    digest = hashlib.sha256()
    for path in dataset_files(root):
        name = path.relative_to(root).as_posix()
        if name != SYNTH_PARAMS:
            digest.update(f"{name}\0{hash_of(path)}\n".encode())
    return digest.hexdigest()


def check_replaceable(root: Path, dataset: str, existing: dict | None) -> None:
    """Refuse to replace ``root`` unless synthesis wrote it, for this ``dataset``, and nothing changed since.

    ``existing`` = the root's ``synth.json`` (None: none). A synthetic dataset of another kind is never
    replaced; a folder whose files no longer match the fingerprint recorded in ``synth.json`` (or,
    for a ``synth.json`` without one, its manifest) was not (only) written by synthesis.
    """
    from lens2logit.data.manifest import name_list, verify_files

    if existing is None:
        return
    if not isinstance(existing, dict) or existing.get("dataset") != dataset:
        kind = existing.get("dataset") if isinstance(existing, dict) else None
        raise InputError(
            f"{root}: holds a synthetic {kind!r} dataset, not {dataset!r}; refusing to replace it "
            "(choose another --root, or delete the folder yourself)"
        )
    recorded = existing.get(WRITTEN_KEY)
    if recorded is not None and recorded == written_fingerprint(root):
        return
    try:
        check = verify_files(root)
    except InputError as exc:
        raise InputError(f"{root}: cannot tell that synthesis wrote it ({exc}); refusing to replace it") from None
    if recorded is not None or not check.ok:
        changed = check.problems() or ["files differ from the fingerprint in synth.json"]
        raise InputError(
            f"{root}: differs from what synthesis wrote ({name_list(changed)}); refusing to replace it "
            "(move your changes away, or delete the folder yourself)"
        )
