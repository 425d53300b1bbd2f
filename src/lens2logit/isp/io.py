"""Reading raw mosaics from disk: DNG (rawpy) and single-channel 16-bit TIFF (tifffile).

Heavy readers are imported lazily so that ``import lens2logit.isp`` stays light.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lens2logit.errors import InputError
from lens2logit.isp.camera import RAW_FULL_SCALE, CameraProfile, camera_from_rawpy

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
