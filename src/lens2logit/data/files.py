"""Reading and checking the files of a raw dataset: every failure is one InputError naming the file."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from lens2logit.data.layout import DN_SCALE, INTENSITIES, intensity_folder
from lens2logit.errors import InputError

log = logging.getLogger(__name__)


def list_files(folder: Path, suffixes: Sequence[str]) -> list[Path]:
    """Sorted files of ``folder`` whose suffix (case-insensitive) is one of ``suffixes``; hidden files skipped."""
    if not folder.is_dir():
        raise InputError(f"{folder}: folder not found")
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes
    )


def intensity_folders(parent: Path) -> dict[float, Path]:
    """The ``raw_scaleXXX`` sub-folders of ``parent`` that exist, by intensity."""
    return {i: parent / intensity_folder(i) for i in INTENSITIES if (parent / intensity_folder(i)).is_dir()}


def check_same_names(listings: dict[Path, list[str]]) -> None:
    """All folders hold the same file names; otherwise name the first file that is missing or extra."""
    folders = list(listings)
    if not folders:
        return
    reference, names = folders[0], set(listings[folders[0]])
    for folder in folders[1:]:
        other = set(listings[folder])
        if other == names:
            continue
        missing = sorted(names - other)
        if missing:
            raise InputError(f"{folder / missing[0]}: missing (present in {reference})")
        extra = sorted(other - names)
        raise InputError(f"{folder / extra[0]}: extra file (not in {reference})")


def read_tiff_mosaic(path: Path) -> np.ndarray:
    """A single-channel 16-bit TIFF mosaic as stored (uint16 ``(H, W)``), checked."""
    import tifffile

    try:
        image = tifffile.imread(path)
    except Exception as exc:  # tifffile raises many types for broken files
        raise InputError(f"{path}: unreadable TIFF ({type(exc).__name__}: {exc})") from None
    return check_mosaic(path, image)


def check_mosaic(path: Path, image: np.ndarray) -> np.ndarray:
    """A checked ``(H, W)`` mosaic of DN values: uint16 as stored, or float32 for float TIFFs.

    Float TIFFs (the reference code reads every TIFF as float32 and writes its tiles that way) are
    accepted when finite and within ``[0, 65535]``; integer-valued ones become uint16, others stay
    float32 DN.
    """
    if image.ndim != 2:
        raise InputError(f"{path}: expected a single-channel mosaic, got shape {image.shape}")
    if image.dtype == np.uint16:
        pass
    elif image.dtype.kind == "f" and np.isfinite(image).all() and image.min() >= 0 and image.max() <= DN_SCALE:
        image = image.astype(np.uint16) if np.array_equal(image, np.round(image)) else image.astype(np.float32)
    else:
        raise InputError(f"{path}: expected 16-bit DN values, got dtype {image.dtype}")
    if image.shape[0] % 2 or image.shape[1] % 2:
        raise InputError(f"{path}: mosaic size {image.shape} is not even (Bayer cells would be cut)")
    return image


def pair_masks(
    stems: Sequence[str], images: Sequence[Path], mask_dir: Path, suffixes: Sequence[str], *,
    context: str = "", containment: bool = False,
) -> dict[str, Path]:
    """Map every image stem to its mask in ``mask_dir``; an image without a mask or a mask
    without an image is an InputError naming the file.

    With ``containment`` (the reference code's drone rule) a mask also belongs to the image whose
    stem its own stem contains (``DSC01_mask.png`` → ``DSC01``; the longest such stem wins).
    """
    files = list_files(mask_dir, suffixes)
    known = set(stems)
    masks: dict[str, Path] = {}
    contained = 0
    for path in files:
        owner = path.stem if path.stem in known else None
        if owner is None and containment:
            candidates = [s for s in known if s in path.stem]
            owner = max(candidates, key=len) if candidates else None
            contained += owner is not None
        if owner is None:
            raise InputError(f"{path}: mask without an image{context}")
        if owner in masks:
            raise InputError(f"{path}: second mask for image {owner} (first: {masks[owner].name})")
        masks[owner] = path
    for stem, path in zip(stems, images):
        if stem not in masks:
            raise InputError(f"{path}: no mask {stem}.* in {mask_dir}")
    if contained:
        log.info("%s: %d masks paired with their image by name containment", mask_dir, contained)
    return masks


def read_mask(path: Path) -> np.ndarray:
    """A binary mask as uint8 ``{0, 1}`` (any non-zero value is foreground)."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            mask = tifffile.imread(path)
        else:
            from PIL import Image

            with Image.open(path) as img:
                mask = np.asarray(img)
    except Exception as exc:
        raise InputError(f"{path}: unreadable mask ({type(exc).__name__}: {exc})") from None
    if mask.ndim == 3:  # RGB(A) masks: foreground where any colour channel is set
        mask = mask[..., :3].max(axis=-1) if mask.shape[-1] in (3, 4) else mask
    if mask.ndim != 2:
        raise InputError(f"{path}: expected a 2-D mask, got shape {mask.shape}")
    return (mask > 0).astype(np.uint8)


def read_masks(paths: Sequence[Path], shape: tuple[int, ...]) -> np.ndarray:
    """Masks that must all be ``shape`` ``(H, W)``, as ``(N, H, W)`` uint8 ``{0, 1}``; InputError naming a mask of another size."""
    targets = np.empty((len(paths), *shape), np.uint8)
    for i, path in enumerate(paths):
        mask = read_mask(path)
        check_equal_size(path, mask.shape, shape, "mask")
        targets[i] = mask
    return targets


def to_unit(dn: np.ndarray) -> np.ndarray:
    """DN → float32 DN / 65535 in [0, 1]."""
    return (np.asarray(dn, dtype=np.float32) / np.float32(DN_SCALE)).clip(0.0, 1.0)


def file_identity(stat: os.stat_result) -> list[int]:
    """Size, mtime, ctime and inode of a file: what tells a changed file without reading it (ctime
    changes on every write and cannot be set back, so a rewrite keeping size and mtime is still seen)."""
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def fingerprint(paths: Iterable[Path], base: Path) -> str:
    """Short hash of (relative name, :func:`file_identity`) of ``paths``: changes when any source
    file changes, also by a rewrite that keeps size and mtime."""
    digest = hashlib.sha1()
    for path in sorted(paths):
        identity = "\0".join(map(str, file_identity(path.stat())))
        digest.update(f"{path.relative_to(base).as_posix()}\0{identity}\n".encode())
    return digest.hexdigest()[:16]


def check_equal_size(
    path: Path, shape: tuple[int, ...], expected: tuple[int, ...] | None, what: str, reference: Path | None = None
) -> None:
    """``shape`` must equal ``expected`` (the size of ``reference``, named in the message when given)."""
    shape = tuple(int(v) for v in shape)  # plain ints: no numpy repr in the message
    if expected is not None and shape != tuple(int(v) for v in expected):
        of = f" of {reference.name}" if reference is not None else ""
        raise InputError(f"{path}: {what} size {shape} differs from {tuple(int(v) for v in expected)}{of}")


def read_text_file(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; InputError naming the file if it is missing, unreadable or not UTF-8."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; expected the {what}")
    if not path.is_file():
        raise InputError(f"{path}: {what} not found")
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {what} is not UTF-8 text (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r})") from None


def tiff_shape(path: Path) -> tuple[int, ...] | None:
    """Shape of a TIFF's first page from its header (no pixel data read); None if unreadable."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            return tuple(tif.pages[0].shape)
    except Exception:  # an unreadable file is reported by the reader itself
        return None


def odd_size_error(paths: Sequence[Path], what: str) -> InputError:
    """InputError naming the files whose TIFF size differs from the most common size of ``paths``."""
    from collections import Counter

    shapes = {p: tiff_shape(p) for p in paths}
    common, count = Counter(s for s in shapes.values() if s is not None).most_common(1)[0]
    odd = [p for p, s in shapes.items() if s != common]
    shown = ", ".join(f"{p} {shapes[p]}" for p in odd[:5]) + (f", … and {len(odd) - 5} more" if len(odd) > 5 else "")
    first = odd[0] if odd else paths[0]
    return InputError(f"{first}: {what} size differs from the {count} other files' {common}: {shown}")
