"""Camera profiles: the per-dataset constants of the static ISP (reference-spec §1.4).

All values are on the normalised raw scale (DN / 65535).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lens2logit.isp.cfa import BayerPattern


@dataclass(frozen=True)
class CameraProfile:
    """Constants shared by all twelve views of one camera.

    Attributes:
        name: profile name.
        black_level: per CFA site in the order R, G1 (red row), G2 (blue row), B.
        white_balance: per-channel gains (R, G, B), applied as-is (no normalisation to green).
        colour_matrix: 3×3 row-major matrix M, ``out = M @ rgb`` per pixel.
        pattern: Bayer layout of the mosaics.
        mean, std: per-channel statistics of the paper's static-view normalisation (informational;
            training standardises with statistics of its own training split).
    """

    name: str
    black_level: tuple[float, float, float, float]
    white_balance: tuple[float, float, float]
    colour_matrix: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
    pattern: BayerPattern = BayerPattern.RGGB
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)


MICROSCOPY = CameraProfile(
    name="microscopy",
    black_level=(9.834368023181512e-06,) * 4,
    # Fitted constants of the original data: note the negative red gain (reference-spec §1.4).
    white_balance=(-0.6567, 1.9673, 3.5304),
    colour_matrix=(
        (-2.0338, 0.0933, 0.4157),
        (-0.0286, 2.6464, -0.0574),
        (-0.5516, -0.0947, 2.9308),
    ),
    mean=(0.91, 0.84, 0.94),
    std=(0.08, 0.12, 0.05),
)

DRONE = CameraProfile(
    name="drone",
    black_level=(0.0625, 0.0626, 0.0625, 0.0626),
    white_balance=(2.86653646, 1.0, 1.73079425),
    colour_matrix=(
        (1.50768983, -0.33571374, -0.17197604),
        (-0.23048614, 1.70698738, -0.47650126),
        (-0.03119153, -0.32803956, 1.35923111),
    ),
    mean=(0.35, 0.36, 0.35),
    std=(0.12, 0.11, 0.12),
)

CAMERAS: dict[str, CameraProfile] = {"microscopy": MICROSCOPY, "drone": DRONE}


def get_camera(camera: "str | CameraProfile") -> CameraProfile:
    """Look up a profile by name, or pass a profile through."""
    if isinstance(camera, CameraProfile):
        return camera
    try:
        return CAMERAS[camera]
    except KeyError:
        raise ValueError(f"unknown camera profile {camera!r}; expected one of {sorted(CAMERAS)} or a CameraProfile") from None


# Full scale of the normalised raw values (16-bit DN), as the reference loaders use.
RAW_FULL_SCALE = 65535.0


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
    from lens2logit.isp.io import read_raw

    _, profile = read_raw(path)
    if profile is None:
        from lens2logit.errors import InputError

        raise InputError(f"{path}: not a DNG/raw file; camera metadata is only available from DNG files")
    return profile
