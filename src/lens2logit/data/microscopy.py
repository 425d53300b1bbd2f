"""Raw-Microscopy loader (reference-spec §3.4)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from lens2logit.data.dataset import RawDataset
from lens2logit.data.files import (
    check_same_names,
    intensity_folders,
    list_files,
    odd_size_error,
    read_text_file,
    read_tiff_mosaic,
    to_unit,
)
from lens2logit.data.layout import (
    MICROSCOPY_EXCLUDED_STEMS,
    MICROSCOPY_IMAGE_SUFFIX,
    MICROSCOPY_KNOWN_CLASSES,
    MICROSCOPY_MIN_CLASS_SAMPLES,
    MICROSCOPY_LAYOUT,
    PUBLISHED_MICROSCOPY_COUNTS,
)
from lens2logit.errors import InputError

log = logging.getLogger(__name__)

def read_label_lines(path: Path) -> list[tuple[str, str, int]]:
    """``stem CLASS`` per line (whitespace-separated) → [(stem, class, line number)] in file order."""
    if not path.is_file():
        raise InputError(f"{path}: label file not found")
    entries = []
    for number, line in enumerate(read_text_file(path, "label file").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise InputError(f"{path}:{number}: expected 'stem CLASS', got {line.strip()!r}")
        entries.append((fields[0].removesuffix(MICROSCOPY_IMAGE_SUFFIX), fields[1], number))
    return entries


def select_classes(labels: list[str]) -> list[str]:
    """Known classes with more than MICROSCOPY_MIN_CLASS_SAMPLES entries in the label file, alphabetical."""
    counts = Counter(labels)
    return sorted(c for c in MICROSCOPY_KNOWN_CLASSES if counts[c] > MICROSCOPY_MIN_CLASS_SAMPLES)


def microscopy_samples(root: Path) -> tuple[list[str], list[str], dict[str, str]]:
    """Validated (ids, classes, labels) of a microscopy root, decided from names only.

    The reference code's lenient semantics (reference-spec §3.4): the image list comes from the
    label file; class sizes are counted over the whole label file; only the 16 known class codes
    with more than 4 entries are kept; the one excluded file is dropped. Every image or label line
    left out is logged as a warning naming the label file's line, the image and the code
    (:func:`microscopy_selection`); repeated identical lines are counted at INFO. A label file that
    matches no image is an error.
    """
    ids, classes, labels, dropped = microscopy_selection(root)
    for line in dropped:
        log.warning("%s", line)
    return ids, classes, labels


def _image_state(folders, stem: str) -> str:
    """Why ``stem``'s TIFF is not in the listing: ``unreadable`` (a broken link or not a regular file
    in every intensity folder) or ``missing``."""
    paths = [f / f"{stem}{MICROSCOPY_IMAGE_SUFFIX}" for f in folders]
    return "unreadable" if any(p.is_symlink() or p.exists() for p in paths) else "missing"


def microscopy_selection(root: Path) -> tuple[list[str], list[str], dict[str, str], list[str]]:
    """(ids, classes, labels, dropped) of :func:`microscopy_samples`; ``dropped`` = one line per label
    line or image left out, ``{label file}:{line}: image {stem}, code {CODE}: {why}`` (images without
    a label name the image file). :func:`label_problems` picks the ones ``data.strict_labels`` refuses."""
    layout = MICROSCOPY_LAYOUT  # which folders and files: the registry entry's layout
    image_root = layout.listed_parent(root)
    folders = intensity_folders(image_root)
    if not folders:
        raise InputError(f"{image_root}: no raw_scaleXXX folders")
    listings = {f: [p.name for p in list_files(f, (MICROSCOPY_IMAGE_SUFFIX,))] for f in folders.values()}
    check_same_names(listings)
    stems = {Path(n).stem for n in next(iter(listings.values()))}
    labels_path = layout.label_path(root)
    entries = read_label_lines(labels_path)
    if not any(stem in stems for stem, _, _ in entries):
        raise InputError(f"{labels_path}: no label matches an image in {image_root} (e.g. {next(iter(sorted(stems)), 'none')})")
    classes = select_classes([c for _, c, _ in entries])
    ignored: Counter = Counter()  # counts per reason, logged at INFO as the reference's summary
    dropped: list[str] = []
    labels: dict[str, str] = {}
    for stem, label, number in entries:
        where = f"{labels_path}:{number}: image {stem}, code {label}"
        if label not in MICROSCOPY_KNOWN_CLASSES:
            ignored["labels with an unknown class code"] += 1
            dropped.append(f"{where}: {UNKNOWN_CODE} (known: {', '.join(sorted(MICROSCOPY_KNOWN_CLASSES))}) — left out")
        elif label not in classes:
            ignored[f"labels of classes with at most {MICROSCOPY_MIN_CLASS_SAMPLES} samples"] += 1
            dropped.append(f"{where}: class with at most {MICROSCOPY_MIN_CLASS_SAMPLES} samples — left out (reference rule)")
        elif stem in MICROSCOPY_EXCLUDED_STEMS:
            ignored["labels of the excluded file"] += 1
            dropped.append(f"{where}: the reference's excluded file — left out (reference rule)")
        elif stem not in stems:
            ignored["labels without an image"] += 1
            state = _image_state(folders.values(), stem)
            dropped.append(f"{where}: image {state} in every intensity folder of {image_root} — left out")
        elif stem in labels:
            if labels[stem] != label:
                raise InputError(f"{labels_path}:{number}: {stem} labelled twice ({labels[stem]}, {label})")
            ignored["repeated label lines"] += 1
        else:
            labels[stem] = label
    labelled = {s for s, _, _ in entries}
    ignored["images without a label"] = len(stems - labelled)
    for what, count in ignored.items():
        if count:
            log.info("%s: %d %s ignored", labels_path, count, what)
    folder = next(iter(folders.values()))
    dropped += [
        f"{folder / (stem + MICROSCOPY_IMAGE_SUFFIX)}: image {stem}: {NO_LABEL} in {labels_path} — left out"
        for stem in sorted(stems - labelled)
    ]
    ids = sorted(labels)
    empty = sorted(set(classes) - set(labels.values()))
    if empty:
        log.info("%s: classes %s have no image and are dropped", labels_path, empty)
    classes = sorted(set(labels.values()))
    if not ids:
        raise InputError(f"{labels_path}: no class has more than {MICROSCOPY_MIN_CLASS_SAMPLES} samples with an image")
    return ids, classes, labels, dropped


# Markers of the drops ``data.strict_labels`` refuses (the reference's own rules — small classes, the
# excluded file — stay warnings).
UNKNOWN_CODE = "unknown class code"
NO_LABEL = "no label"
STRICT_DROPS = (UNKNOWN_CODE, "image unreadable", "image missing", NO_LABEL)


def label_problems(dropped: list[str]) -> list[str]:
    """The lines of ``dropped`` that ``data.strict_labels`` turns into a refusal."""
    return [line for line in dropped if any(f": {marker}" in line for marker in STRICT_DROPS)]


def check_published(ids: list[str], classes: list[str], labels: dict[str, str], where: Path) -> list[str]:
    """Warn (and return the messages) where real microscopy data differ from the published counts."""
    counts = {c: 0 for c in classes}
    for stem in ids:
        counts[labels[stem]] += 1
    problems = []
    total = sum(PUBLISHED_MICROSCOPY_COUNTS.values())
    if len(ids) != total or len(classes) != len(PUBLISHED_MICROSCOPY_COUNTS):
        problems.append(f"{len(ids)} images in {len(classes)} classes, published {total} in {len(PUBLISHED_MICROSCOPY_COUNTS)}")
    if counts != PUBLISHED_MICROSCOPY_COUNTS:
        diff = {c: (counts.get(c, 0), PUBLISHED_MICROSCOPY_COUNTS.get(c, 0))
                for c in sorted(set(counts) | set(PUBLISHED_MICROSCOPY_COUNTS))
                if counts.get(c, 0) != PUBLISHED_MICROSCOPY_COUNTS.get(c, 0)}
        problems.append(f"class counts (ours, published) {diff}")
    for problem in problems:
        log.warning("%s: differs from the published Raw-Microscopy data: %s", where, problem)
    return problems


def load_microscopy(root: Path, intensity: float, *, check_published_counts: bool = False) -> RawDataset:
    """Raw-Microscopy at one intensity; ``check_published_counts`` warns where real data differ from the paper's."""
    from lens2logit.isp.camera import MICROSCOPY

    ids, classes, labels = microscopy_samples(root)
    if check_published_counts:
        check_published(ids, classes, labels, root)
    folder = MICROSCOPY_LAYOUT.image_folder(root, intensity)
    if not folder.is_dir():
        raise InputError(f"{folder}: intensity folder not found")
    raw, floats = None, 0
    for i, stem in enumerate(ids):
        path = folder / f"{stem}{MICROSCOPY_IMAGE_SUFFIX}"
        image = read_tiff_mosaic(path)
        if raw is None:
            raw = np.empty((len(ids), *image.shape), dtype=np.float32)
        if image.shape != raw.shape[1:]:  # name the odd file, not the first one read
            raise odd_size_error([folder / f"{s}{MICROSCOPY_IMAGE_SUFFIX}" for s in ids], "image")
        raw[i] = to_unit(image)
        floats += image.dtype.kind == "f"
    if floats:
        log.info("%s: %d float TIFFs with non-integer DN values read as float DN", folder, floats)
    index = {c: k for k, c in enumerate(classes)}
    targets = np.array([index[labels[s]] for s in ids], dtype=np.int64)
    return RawDataset("microscopy", "classification", intensity, ids, raw, targets, list(classes), MICROSCOPY)
