"""Reading raw mosaics from disk: DNG (rawpy) and single-channel 16-bit TIFF (tifffile), and
camera profiles from DNG metadata (this module imports `camera`, never the other way round).

Heavy readers are imported lazily so that ``import lens2logit.isp`` stays light.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lens2logit.errors import InputError
from lens2logit.isp.camera import CameraProfile
from lens2logit.isp.cfa import BayerPattern

# Full scale of the normalised raw values (16-bit DN), as the reference loaders use.
RAW_FULL_SCALE = 65535.0
RAW_SUFFIXES = (".dng",)
TIFF_SUFFIXES = (".tif", ".tiff")


def _check_mosaic_shape(path: Path, mosaic: np.ndarray) -> None:
    h, w = mosaic.shape
    if h % 2 or w % 2 or h < 4 or w < 4:
        raise InputError(f"{path}: mosaic size {h}×{w} is not usable (height and width must be even and ≥ 4)")


def read_raw(path: str | os.PathLike) -> tuple[np.ndarray, CameraProfile | None]:
    """Read one raw mosaic.

    * ``.dng``: rawpy ``raw_image_visible`` / 65535, and a :class:`CameraProfile` from the metadata.
    * ``.tif``/``.tiff``: a 2-D ``uint16`` image / 65535; no profile (``None``).

    Returns:
        ``(mosaic, profile)``: float32 ``(H, W)`` in [0, 1], profile or ``None``.

    Raises:
        InputError: missing/unreadable file, unsupported type, not a single-channel 16-bit mosaic,
            odd size. The message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix in RAW_SUFFIXES:
        try:
            import rawpy

            with rawpy.imread(str(path)) as raw:
                mosaic = np.array(raw.raw_image_visible, copy=True)
                try:
                    profile = camera_from_rawpy(raw, name=path.stem)
                except ValueError as exc:
                    raise InputError(f"{path}: {exc}") from None
        except InputError:
            raise
        except Exception as exc:  # rawpy raises several LibRaw error types
            raise InputError(f"{path}: cannot read as a raw file ({type(exc).__name__}: {exc})") from None
        if mosaic.ndim != 2:
            raise InputError(f"{path}: not a Bayer mosaic (raw image has shape {mosaic.shape})")
    elif suffix in TIFF_SUFFIXES:
        try:
            import tifffile

            mosaic = tifffile.imread(str(path))
        except Exception as exc:
            raise InputError(f"{path}: cannot read as TIFF ({type(exc).__name__}: {exc})") from None
        if mosaic.ndim != 2:
            raise InputError(f"{path}: not a mosaic: expected a single-channel 2-D image, got shape {mosaic.shape}")
        if mosaic.dtype != np.uint16:
            raise InputError(f"{path}: not a 16-bit mosaic: expected uint16 samples, got {mosaic.dtype}")
        profile = None
    else:
        raise InputError(f"{path}: unsupported file type {path.suffix!r}; expected .dng, .tif or .tiff")
    _check_mosaic_shape(path, mosaic)
    return (mosaic.astype(np.float32) / np.float32(RAW_FULL_SCALE)), profile


def camera_from_rawpy(raw, *, name: str = "dng") -> CameraProfile:
    """Build a profile from an open ``rawpy.RawPy`` object (Bayer sensors only).

    Takes what the reference helper takes (reference-spec §1.4): per-site black level, the first
    three as-shot white-balance gains, and the first three columns of rawpy's camera→sRGB matrix;
    the Bayer pattern comes from ``raw_pattern``/``color_desc``. Black levels are divided by
    :data:`RAW_FULL_SCALE`, matching mosaics read as DN / 65535.

    Raises:
        ValueError: not a 2×2 Bayer RGB sensor.
    """
    pattern_idx = getattr(raw, "raw_pattern", None)
    desc = raw.color_desc.decode("ascii", "replace") if isinstance(raw.color_desc, bytes) else str(raw.color_desc)
    if pattern_idx is None or tuple(pattern_idx.shape) != (2, 2) or raw.num_colors != 3:
        raise ValueError(f"{name}: not a 2×2 Bayer RGB raw (colours {desc!r}, pattern {pattern_idx!r})")
    letters = "".join(desc[int(i)] for i in pattern_idx.flatten())
    try:
        pattern = BayerPattern.parse(letters)
    except ValueError:
        raise ValueError(f"{name}: unsupported CFA layout {letters!r}") from None
    per_channel = list(raw.black_level_per_channel)
    site_black = {(r, c): per_channel[int(pattern_idx[r, c])] / RAW_FULL_SCALE for r in range(2) for c in range(2)}
    black_level = tuple(float(site_black[site]) for site in pattern.site_order())
    wb = [float(v) for v in list(raw.camera_whitebalance)[:3]]
    if not all(v > 0 for v in wb):
        wb = [1.0, 1.0, 1.0]  # no as-shot white balance recorded
    matrix = [[float(v) for v in row[:3]] for row in raw.color_matrix[:3]]
    if not any(any(v != 0 for v in row) for row in matrix):
        matrix = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]  # no colour matrix recorded
    return CameraProfile(
        name=name,
        black_level=black_level,  # type: ignore[arg-type]
        white_balance=tuple(wb),  # type: ignore[arg-type]
        colour_matrix=tuple(tuple(row) for row in matrix),  # type: ignore[arg-type]
        pattern=pattern,
        extra={"white_level": float(raw.white_level)},
    )


def camera_from_dng(path) -> CameraProfile:
    """Camera profile from a DNG's metadata (black level per site, as-shot WB, colour matrix, pattern).

    Raises:
        lens2logit.errors.InputError: missing or unreadable file, or not a Bayer raw.
    """
    _, profile = read_raw(path)
    if profile is None:
        raise InputError(f"{path}: not a DNG/raw file; camera metadata is only available from DNG files")
    return profile
