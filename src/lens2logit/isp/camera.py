"""Camera profiles: the per-dataset constants of the static ISP (reference-spec §1.4).

All values are on the normalised raw scale (DN / 65535, ``isp.io.RAW_FULL_SCALE``). Profiles from DNG
metadata are built by ``isp.io.camera_from_dng`` (io imports this module, never the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lens2logit.errors import InputError
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
    """Look up a profile by name, or pass a profile through (an unknown name is an :class:`InputError`)."""
    if isinstance(camera, CameraProfile):
        return camera
    try:
        return CAMERAS[camera]
    except KeyError:
        raise InputError(f"unknown camera profile {camera!r}; expected one of {sorted(CAMERAS)} or a CameraProfile") from None
