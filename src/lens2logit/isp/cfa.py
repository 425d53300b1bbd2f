"""Bayer colour-filter-array layouts.

A layout is described once by the colour of the four sites of its 2×2 cell; every algorithm
derives its sub-lattice offsets from that, so no algorithm is written once per layout.
"""

from __future__ import annotations

import enum

import torch

# Channel indices in RGB output.
R, G, B = 0, 1, 2


class BayerPattern(str, enum.Enum):
    """The four Bayer layouts, named by the 2×2 cell read row-major from the top-left pixel."""

    RGGB = "RGGB"
    BGGR = "BGGR"
    GRBG = "GRBG"
    GBRG = "GBRG"

    @classmethod
    def parse(cls, value: "str | BayerPattern") -> "BayerPattern":
        try:
            return cls(str(value.value if isinstance(value, BayerPattern) else value).upper())
        except ValueError:
            raise ValueError(f"unknown Bayer pattern {value!r}; expected one of {[p.value for p in cls]}") from None

    @property
    def cell(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Channel index (R=0, G=1, B=2) of each site of the 2×2 cell: ``cell[row][col]``."""
        lookup = {"R": R, "G": G, "B": B}
        s = self.value
        return ((lookup[s[0]], lookup[s[1]]), (lookup[s[2]], lookup[s[3]]))

    def offset(self, channel: int) -> tuple[int, int]:
        """(row, col) offset of the R or B site in the 2×2 cell."""
        if channel == G:
            raise ValueError("green has two sites; use green_offsets()")
        for r in range(2):
            for c in range(2):
                if self.cell[r][c] == channel:
                    return r, c
        raise AssertionError("unreachable")

    def green_offsets(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(row, col) offsets of the two green sites: the one in the red row first."""
        r_row = self.offset(R)[0]
        g_in_r_row = (r_row, 1 - self.offset(R)[1])
        g_in_b_row = (1 - r_row, self.offset(R)[1])
        return g_in_r_row, g_in_b_row

    def site_order(self) -> tuple[tuple[int, int], ...]:
        """Offsets in the canonical order R, G1 (red row), G2 (blue row), B used for per-site constants."""
        g1, g2 = self.green_offsets()
        return (self.offset(R), g1, g2, self.offset(B))


def cfa_masks(pattern: BayerPattern | str, height: int, width: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """Binary masks of the R, G and B sites.

    Args:
        pattern: Bayer layout.
        height, width: even image size.

    Returns:
        Tensor ``(3, H, W)``: ``masks[c, y, x] = 1`` where the sensor samples channel ``c``.
    """
    pattern = BayerPattern.parse(pattern)
    masks = torch.zeros(3, height, width, device=device, dtype=dtype)
    for r in range(2):
        for c in range(2):
            masks[pattern.cell[r][c], r::2, c::2] = 1
    return masks


def site_masks(pattern: BayerPattern | str, height: int, width: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """Binary masks of the four CFA sites in the order R, G1 (red row), G2 (blue row), B.

    Returns:
        Tensor ``(4, H, W)``.
    """
    pattern = BayerPattern.parse(pattern)
    masks = torch.zeros(4, height, width, dtype=dtype, device=device)
    for site, (dy, dx) in enumerate(pattern.site_order()):
        masks[site, dy::2, dx::2] = 1
    return masks


def mosaic(rgb: torch.Tensor, pattern: BayerPattern | str = BayerPattern.RGGB) -> torch.Tensor:
    """Sample an RGB image with a Bayer filter.

    Args:
        rgb: ``(*, 3, H, W)`` with even H, W.

    Returns:
        ``(*, H, W)`` mosaic.
    """
    if rgb.ndim < 3 or rgb.shape[-3] != 3:
        raise ValueError(f"mosaic expects (*, 3, H, W), got shape {tuple(rgb.shape)}")
    masks = cfa_masks(pattern, rgb.shape[-2], rgb.shape[-1], device=rgb.device, dtype=rgb.dtype)
    return (rgb * masks).sum(dim=-3)
