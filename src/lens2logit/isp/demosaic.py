"""Bayer demosaicing in torch: bilinear, Malvar–He–Cutler 2004, Menon 2007 (DDFAPD + refining).

Each algorithm is written once; the CFA layout only enters through the sub-lattice offsets of
:class:`~lens2logit.isp.cfa.BayerPattern`. Border handling matches colour-demosaicing 0.2.7
(the reference-spec's library): ``reflect`` for the 2-D kernels of bilinear and Malvar, ``mirror``
for Menon's 1-D filters, zero fill for Menon's direction classifier. Outputs are not clipped.

Bilinear and Malvar are linear: they also accept their filters as a tensor (``weight=``), the form
the differentiable ISP learns (:func:`bilinear_demosaic_weight`, :func:`malvar_demosaic_weight`
give the fixed filters; with them the result equals the default sub-lattice implementation, which
reads the taps as numbers and is faster).

Shapes: ``(N, H, W) → (N, 3, H, W)`` (any leading dims work), H and W even.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lens2logit.isp.cfa import B, R, BayerPattern, cfa_masks, site_masks
from lens2logit.isp.filters import K_BILINEAR_G, K_BILINEAR_RB, check_image, pad2d
from lens2logit.isp.methods import DEMOSAIC_METHODS, LINEAR_DEMOSAIC_METHODS

# Malvar, He & Cutler (2004), "High-quality linear interpolation for demosaicing of Bayer-patterned
# color images", ICASSP: gradient-corrected 5×5 filters.
MALVAR_G_AT_RB = torch.tensor(
    [
        [0.0, 0.0, -1.0, 0.0, 0.0],
        [0.0, 0.0, 2.0, 0.0, 0.0],
        [-1.0, 2.0, 4.0, 2.0, -1.0],
        [0.0, 0.0, 2.0, 0.0, 0.0],
        [0.0, 0.0, -1.0, 0.0, 0.0],
    ]
) / 8
# R (B) at a green site whose horizontal neighbours are R (B).
MALVAR_RB_AT_G_HORIZONTAL = torch.tensor(
    [
        [0.0, 0.0, 0.5, 0.0, 0.0],
        [0.0, -1.0, 0.0, -1.0, 0.0],
        [-1.0, 4.0, 5.0, 4.0, -1.0],
        [0.0, -1.0, 0.0, -1.0, 0.0],
        [0.0, 0.0, 0.5, 0.0, 0.0],
    ]
) / 8
# R (B) at a green site whose vertical neighbours are R (B).
MALVAR_RB_AT_G_VERTICAL = MALVAR_RB_AT_G_HORIZONTAL.T.contiguous()
# R at a B site, or B at an R site.
MALVAR_RB_AT_BR = torch.tensor(
    [
        [0.0, 0.0, -1.5, 0.0, 0.0],
        [0.0, 2.0, 0.0, 2.0, 0.0],
        [-1.5, 0.0, 6.0, 0.0, -1.5],
        [0.0, 2.0, 0.0, 2.0, 0.0],
        [0.0, 0.0, -1.5, 0.0, 0.0],
    ]
) / 8

# Menon, Andriani & Calvagno (2007), "Demosaicing with directional filtering and a posteriori
# decision", IEEE TIP 16(1). Green estimate along one direction: h0 + h1.
MENON_GREEN_TAPS = torch.tensor([-0.25, 0.5, 0.5, 0.5, -0.25])
# Direction classifier: weights of the colour-difference gradients D_H(y+dy, x+dx) summed into d_H
# (a 5×5 window that looks left, as colour-demosaicing's convolution does); d_V uses the transpose.
MENON_CLASSIFIER_TAPS = ((0, 0, 3.0), (0, -2, 3.0), (1, -1, 1.0), (-1, -1, 1.0), (2, 0, 1.0), (-2, 0, 1.0), (2, -2, 1.0), (-2, -2, 1.0))
NEIGHBOUR_MEAN_TAPS = torch.tensor([0.5, 0.0, 0.5])
REFINE_MEAN_TAPS = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64) / 3  # float64: taps are read as Python floats


def _check_mosaic(raw: torch.Tensor, name: str) -> None:
    check_image(raw, name)
    h, w = raw.shape[-2:]
    if h % 2 or w % 2 or h < 4 or w < 4:
        raise ValueError(f"{name}: mosaic height and width must be even and ≥ 4, got {h}×{w}")


@dataclass(frozen=True)
class _Sites:
    """(row, col) offsets in the 2×2 cell: R, B, green in the red row, green in the blue row."""

    r: tuple[int, int]
    b: tuple[int, int]
    g_r_row: tuple[int, int]
    g_b_row: tuple[int, int]

    @classmethod
    def of(cls, pattern: BayerPattern | str) -> "_Sites":
        pattern = BayerPattern.parse(pattern)
        g_r_row, g_b_row = pattern.green_offsets()
        return cls(r=pattern.offset(R), b=pattern.offset(B), g_r_row=g_r_row, g_b_row=g_b_row)


# Sub-lattice ("quad") representation. A full-resolution plane X (B, H, W) is stored as its four
# sub-lattices, contiguous: Q[:, py, px] = X[:, py::2, px::2] (B, 2, 2, H/2, W/2). A filter tap at
# full-resolution offset (dy, dx) from a site is then a contiguous slice of one sub-lattice, so
# every algorithm computes each value only at the sites that need it, with vectorised
# arithmetic. Borders: the quad is padded by one cell (= two pixels) exactly as the full plane
# would be padded in the given border mode.


def _source_index(i: int, length: int, mode: str) -> int | None:
    """Full-resolution index read for padded index ``i`` (``None``: zero fill)."""
    if 0 <= i < length:
        return i
    if mode == "constant":
        return None
    if mode == "reflect":
        return -i - 1 if i < 0 else 2 * length - 1 - i
    if mode == "mirror":
        return -i if i < 0 else 2 * length - 2 - i
    return min(max(i, 0), length - 1)  # nearest


@functools.lru_cache(maxsize=None)
def _frame_indices(h: int, w: int, mode: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices, within one padded quad ``(2, 2, h + 2, w + 2)``, of its one-cell frame and of
    the interior cells that frame copies when the full ``2h × 2w`` plane is padded by two pixels
    in ``mode`` (sources are ``-1`` for ``"constant"``)."""

    def flat(py: int, px: int, cy: int, cx: int) -> int:
        return ((py * 2 + px) * (h + 2) + cy) * (w + 2) + cx

    frame, source = [], []
    for py in (0, 1):
        for px in (0, 1):
            for cy in range(h + 2):
                for cx in range(w + 2):
                    if 0 < cy <= h and 0 < cx <= w:
                        continue
                    sy = _source_index(2 * (cy - 1) + py, 2 * h, mode)
                    sx = _source_index(2 * (cx - 1) + px, 2 * w, mode)
                    frame.append(flat(py, px, cy, cx))
                    source.append(-1 if sy is None or sx is None else flat(sy % 2, sx % 2, sy // 2 + 1, sx // 2 + 1))
    return torch.tensor(frame, device=device), torch.tensor(source, device=device)


def _fill_border(p: torch.Tensor, mode: str) -> None:
    """Fill the one-cell frame of a padded quad ``(B, 2, 2, h + 2, w + 2)`` from its interior, as
    the full plane padded by two pixels in ``mode`` (SciPy names). In place, as one gather and one
    scatter (a strided copy per frame side costs ~20× more in per-op overhead)."""
    frame, source = _frame_indices(p.shape[-2] - 2, p.shape[-1] - 2, mode, p.device)
    flat = p.view(p.shape[0], -1)
    if mode == "constant":
        flat.index_fill_(1, frame, 0.0)
    else:
        flat.index_copy_(1, frame, flat.index_select(1, source))


class _Lattice:
    """A padded quad read at (site, offset): ``at(site, dy, dx)`` is X[y + dy, x + dx] for every
    (y, x) of that site, as a ``(B, H/2, W/2)`` view. Sub-lattices built as empty are zero but not
    stored: read them only through :meth:`correlate` (and ``rows``/``cols``/``along``)."""

    def __init__(self, planes, like: torch.Tensor, mode: str):
        """``planes``: ``{(py, px): (B, h, w)}`` (missing sites are zero) or a quad ``(B, 2, 2, h, w)``."""
        b, self.h2, self.w2 = like.shape
        self.q = like.new_empty(b, 2, 2, self.h2 + 2, self.w2 + 2)
        if isinstance(planes, torch.Tensor):
            self.q[..., 1 : self.h2 + 1, 1 : self.w2 + 1].copy_(planes)
        else:
            for py in (0, 1):
                for px in (0, 1):
                    plane = planes.get((py, px))
                    if plane is None:
                        # An empty (all-zero) sub-lattice: zeroed, as its outer rows and columns are
                        # copied into the padding frame; correlate() skips reading its interior.
                        self._window(py, px, 1, 1).zero_()
                    else:
                        self._window(py, px, 1, 1).copy_(plane)
        # Sub-lattices that are zero inside the image (only their frame may hold padding).
        self.empty = set() if isinstance(planes, torch.Tensor) else {(py, px) for py in (0, 1) for px in (0, 1)} - set(planes)
        _fill_border(self.q, mode)
        self._views: dict[tuple[int, int, int, int], torch.Tensor] = {}

    def _window(self, py: int, px: int, cy: int, cx: int) -> torch.Tensor:
        """``q[:, py, px, cy : cy + h, cx : cx + w]`` as one ``as_strided`` op (Python indexing
        costs one op per axis, and these views are made thousands of times per batch)."""
        b, _, _, hp, wp = self.q.shape
        offset = self.q.storage_offset() + ((py * 2 + px) * hp + cy) * wp + cx
        return self.q.as_strided((b, self.h2, self.w2), (4 * hp * wp, wp, 1), offset)

    @classmethod
    def of_plane(cls, x: torch.Tensor, mode: str) -> "_Lattice":
        b, h, w = x.shape
        return cls(x.reshape(b, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3), x.new_empty(b, h // 2, w // 2), mode)

    @classmethod
    def of_sites(cls, planes: dict, like: torch.Tensor, mode: str) -> "_Lattice":
        """From per-site planes ``{(py, px): (B, h, w)}``; missing sites are zero."""
        return cls(planes, like, mode)

    def at(self, site, dy: int, dx: int) -> torch.Tensor:
        ty, tx = site[0] + dy + 2, site[1] + dx + 2
        key = (ty % 2, tx % 2, ty // 2, tx // 2)
        view = self._views.get(key)
        if view is None:  # views are cached: taps of different sites often read the same one
            view = self._window(*key)
            self._views[key] = view
        return view

    def correlate(self, site, taps) -> torch.Tensor:
        """``Σ w · X[y + dy, x + dx]`` over ``taps = ((dy, dx, w), ...)`` at ``site``."""
        out = None
        frame_taps = []
        for dy, dx, w in taps:
            if w == 0.0:
                continue
            ty, tx = site[0] + dy, site[1] + dx
            if (ty % 2, tx % 2) in self.empty:
                frame_taps.append((dy, dx, w))  # reads zeros except in the padding frame
                continue
            view = self.at(site, dy, dx)
            out = view * w if out is None else out.add_(view, alpha=w)
        if out is None:
            out = self.q.new_zeros(self.q.shape[0], self.h2, self.w2)
        for dy, dx, w in frame_taps:
            self._add_frame(out, site, dy, dx, w)
        return out

    def _add_frame(self, out: torch.Tensor, site, dy: int, dx: int, w: float) -> None:
        """Add ``w·`` the part of a tap's view that overlaps the padding frame (the rest is zero)."""
        view = self.at(site, dy, dx)
        qy, qx = (site[0] + dy + 2) // 2, (site[1] + dx + 2) // 2
        first, last = 0, self.h2
        if qy == 0:  # view row 0 is the top frame row
            out[:, 0].add_(view[:, 0], alpha=w)
            first = 1
        elif qy == 2:  # view's last row is the bottom frame row
            out[:, -1].add_(view[:, -1], alpha=w)
            last = self.h2 - 1
        if qx in (0, 2):
            col = 0 if qx == 0 else self.w2 - 1
            out[:, first:last, col].add_(view[:, first:last, col], alpha=w)

    def rows(self, site, taps) -> torch.Tensor:
        """Horizontal 1-D correlation (odd ``taps``) at ``site``."""
        r = len(taps) // 2
        return self.correlate(site, [(0, k - r, w) for k, w in enumerate(taps)])

    def cols(self, site, taps) -> torch.Tensor:
        r = len(taps) // 2
        return self.correlate(site, [(k - r, 0, w) for k, w in enumerate(taps)])

    def along(self, site, taps, horizontal: "_Choice") -> torch.Tensor:
        """Along rows where ``horizontal``, along columns elsewhere."""
        return horizontal.pick(self.rows(site, taps), self.cols(site, taps))


class _Choice:
    """A per-pixel choice between two planes, as {0, 1} float weights.

    ``torch.where`` is not vectorised on the CPU (~30× slower than an add here); multiplying by
    exact 0/1 weights and adding is exact and fast.
    """

    def __init__(self, first: torch.Tensor):
        self.first = first.to(torch.float32)
        self.second = 1.0 - self.first

    def pick(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``a`` where chosen, else ``b``."""
        return torch.addcmul(b * self.second, a, self.first)


def _kernel_taps(kernel: torch.Tensor) -> tuple[tuple[int, int, float], ...]:
    """Non-zero taps ``(dy, dx, w)`` of an odd 2-D kernel (used as a correlation)."""
    kh, kw = kernel.shape
    k = kernel.tolist()
    return tuple((dy - kh // 2, dx - kw // 2, k[dy][dx]) for dy in range(kh) for dx in range(kw) if k[dy][dx] != 0)


# Tap lists of the fixed kernels, built once.
_BILINEAR_RB_TAPS = _kernel_taps(K_BILINEAR_RB)
_BILINEAR_G_TAPS = _kernel_taps(K_BILINEAR_G)
_MALVAR_TAPS = tuple(
    _kernel_taps(k) for k in (MALVAR_G_AT_RB, MALVAR_RB_AT_G_HORIZONTAL, MALVAR_RB_AT_G_VERTICAL, MALVAR_RB_AT_BR)
)


def _flatten_batch(raw: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    lead = tuple(raw.shape[:-2])
    return raw.reshape(-1, *raw.shape[-2:]), lead


def bilinear_demosaic_weight() -> torch.Tensor:
    """Bilinear demosaicing as a 3→3 kernel on the sparse colour planes: the bilinear kernels on
    the diagonal, zeros elsewhere.

    Returns:
        ``(3, 3, 3, 3)`` (out channel, in channel, ky, kx).
    """
    weight = torch.zeros(3, 3, 3, 3)
    for c, kernel in enumerate((K_BILINEAR_RB, K_BILINEAR_G, K_BILINEAR_RB)):
        weight[c, c] = kernel
    return weight


def malvar_demosaic_weight() -> torch.Tensor:
    """Malvar–He–Cutler (2004) as one 5×5 filter per output colour and CFA site.

    At each pixel an output colour is either the sample itself (a delta filter) or one of four
    gradient-corrected filters applied to the mosaic.

    Returns:
        ``(3, 4, 5, 5)`` indexed (output colour R/G/B, site R/G1/G2/B, ky, kx).
    """
    delta = torch.zeros(5, 5)
    delta[2, 2] = 1
    g_at_rb = MALVAR_G_AT_RB.float()
    across = MALVAR_RB_AT_BR.float()
    # G1 lies in the red row (R left/right, B above/below); G2 in the blue row.
    horizontal, vertical = MALVAR_RB_AT_G_HORIZONTAL.float(), MALVAR_RB_AT_G_VERTICAL.float()
    return torch.stack(
        [
            torch.stack([delta, horizontal, vertical, across]),  # R
            torch.stack([g_at_rb, delta, delta, g_at_rb]),  # G
            torch.stack([across, vertical, horizontal, delta]),  # B
        ]
    )


def _check_weight(weight: torch.Tensor, shape: tuple[int, int], name: str) -> None:
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4 or tuple(weight.shape[:2]) != shape:
        raise ValueError(f"{name}: weight must be a tensor ({shape[0]}, {shape[1]}, k, k), got {getattr(weight, 'shape', weight)}")
    if weight.shape[-1] % 2 == 0 or weight.shape[-2] % 2 == 0:
        raise ValueError(f"{name}: weight kernels must have odd sizes, got {tuple(weight.shape[-2:])}")


def _demosaic_sparse_planes(raw: torch.Tensor, pattern, weight: torch.Tensor) -> torch.Tensor:
    """3→3 correlation of the sparse R, G, B planes (border ``reflect``); differentiable in ``weight``."""
    _check_weight(weight, (3, 3), "demosaic_bilinear")
    flat, lead = _flatten_batch(raw)
    b, h, w = flat.shape
    planes = flat.unsqueeze(1) * cfa_masks(pattern, h, w, device=flat.device, dtype=flat.dtype)
    ky, kx = weight.shape[-2:]
    rgb = F.conv2d(pad2d(planes, (ky - 1) // 2, (kx - 1) // 2, "reflect"), weight.to(flat.dtype))
    return rgb.reshape(*lead, 3, h, w)


def _demosaic_site_filters(raw: torch.Tensor, pattern, weight: torch.Tensor) -> torch.Tensor:
    """Per output colour, the filter of each pixel's CFA site over the mosaic (border ``reflect``);
    differentiable in ``weight``."""
    _check_weight(weight, (3, 4), "demosaic_malvar2004")
    flat, lead = _flatten_batch(raw)
    b, h, w = flat.shape
    ky, kx = weight.shape[-2:]
    padded = pad2d(flat.unsqueeze(1), (ky - 1) // 2, (kx - 1) // 2, "reflect")
    filtered = F.conv2d(padded, weight.to(flat.dtype).reshape(12, 1, ky, kx)).reshape(b, 3, 4, h, w)
    rgb = (filtered * site_masks(pattern, h, w, device=flat.device, dtype=flat.dtype)).sum(dim=2)
    return rgb.reshape(*lead, 3, h, w)


def demosaic_bilinear(
    raw: torch.Tensor, pattern: BayerPattern | str = BayerPattern.RGGB, *, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Bilinear demosaicing (colour-demosaicing ``demosaicing_CFA_Bayer_bilinear``).

    Each channel's sparse plane (zero where the channel was not sampled) is convolved with
    :data:`K_BILINEAR_RB` (R, B) or :data:`K_BILINEAR_G` (G), border ``reflect`` — which, as in
    the reference, also blends a border sample with its reflected copies.

    Args:
        raw: mosaic ``(*, H, W)``, H and W even.
        pattern: Bayer layout.
        weight: ``(3, 3, k, k)`` 3→3 kernel on the sparse planes (e.g. learnable; differentiable
            in it), or ``None`` for :func:`bilinear_demosaic_weight` computed on sub-lattices.

    Returns:
        ``(*, 3, H, W)``.

    Example:
        >>> demosaic_bilinear(torch.full((1, 8, 8), 0.5))[0, :, 3, 3].tolist()
        [0.5, 0.5, 0.5]
    """
    _check_mosaic(raw, "demosaic_bilinear")
    if weight is not None:
        return _demosaic_sparse_planes(raw, pattern, weight)
    flat, lead = _flatten_batch(raw)
    s = _Sites.of(pattern)
    sites = (s.r, s.b, s.g_r_row, s.g_b_row)
    quad = flat.reshape(flat.shape[0], flat.shape[1] // 2, 2, flat.shape[2] // 2, 2)
    known = {site: quad[:, :, site[0], :, site[1]] for site in sites}
    like = flat.new_empty(flat.shape[0], flat.shape[1] // 2, flat.shape[2] // 2)
    rb_taps, g_taps = _BILINEAR_RB_TAPS, _BILINEAR_G_TAPS
    # Every tap is needed at every site: in the interior some read an all-zero sub-lattice, but
    # 'reflect' copies other sub-lattices into its border cells.
    red = _Lattice.of_sites({s.r: known[s.r]}, like, "reflect")
    green = _Lattice.of_sites({s.g_r_row: known[s.g_r_row], s.g_b_row: known[s.g_b_row]}, like, "reflect")
    blue = _Lattice.of_sites({s.b: known[s.b]}, like, "reflect")
    channels = (
        {site: red.correlate(site, rb_taps) for site in sites},
        {site: green.correlate(site, g_taps) for site in sites},
        {site: blue.correlate(site, rb_taps) for site in sites},
    )
    return _assemble_channels(channels, flat).reshape(*lead, 3, *raw.shape[-2:])


def demosaic_malvar2004(
    raw: torch.Tensor, pattern: BayerPattern | str = BayerPattern.RGGB, *, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Malvar–He–Cutler (2004) gradient-corrected linear demosaicing, border ``reflect``.

    Args:
        raw: mosaic ``(*, H, W)``, H and W even.
        pattern: Bayer layout.
        weight: ``(3, 4, k, k)`` filters per output colour and CFA site (R, G1, G2, B) (e.g.
            learnable; differentiable in it), or ``None`` for :func:`malvar_demosaic_weight`
            computed on sub-lattices.

    Returns:
        ``(*, 3, H, W)``.
    """
    _check_mosaic(raw, "demosaic_malvar2004")
    if weight is not None:
        return _demosaic_site_filters(raw, pattern, weight)
    flat, lead = _flatten_batch(raw)
    s = _Sites.of(pattern)
    lat = _Lattice.of_plane(flat, "reflect")
    g_at_rb, horizontal, vertical, across = _MALVAR_TAPS
    known = {site: lat.at(site, 0, 0) for site in (s.r, s.b, s.g_r_row, s.g_b_row)}
    # Greens in the red row have red left and right; greens in the blue row have red above and below.
    red = {s.r: known[s.r], s.g_r_row: lat.correlate(s.g_r_row, horizontal), s.g_b_row: lat.correlate(s.g_b_row, vertical), s.b: lat.correlate(s.b, across)}
    green = {s.r: lat.correlate(s.r, g_at_rb), s.b: lat.correlate(s.b, g_at_rb), s.g_r_row: known[s.g_r_row], s.g_b_row: known[s.g_b_row]}
    blue = {s.b: known[s.b], s.g_b_row: lat.correlate(s.g_b_row, horizontal), s.g_r_row: lat.correlate(s.g_r_row, vertical), s.r: lat.correlate(s.r, across)}
    return _assemble_channels((red, green, blue), flat).reshape(*lead, 3, *raw.shape[-2:])


def _assemble_channels(channels, like: torch.Tensor) -> torch.Tensor:
    """Per-site planes of R, G, B → ``(B, 3, H, W)`` (one strided copy per plane)."""
    b, h, w = like.shape
    out = like.new_empty(b, 3, h, w)
    for c, planes in enumerate(channels):
        for (py, px), plane in planes.items():
            # out[:, c, py::2, px::2] as one as_strided op (indexing costs one op per axis)
            out.as_strided((b, h // 2, w // 2), (3 * h * w, 2 * w, 2), (c * h + py) * w + px).copy_(plane)
    return out


def demosaic_menon2007(
    raw: torch.Tensor, pattern: BayerPattern | str = BayerPattern.RGGB, *, refining_step: bool = True
) -> torch.Tensor:
    """Menon, Andriani & Calvagno (2007) DDFAPD demosaicing, with its refining step by default.

    Directional green interpolation (horizontal and vertical), an a-posteriori decision from the
    colour-difference gradients, R/B interpolation along the chosen direction, then refinement
    (as colour-demosaicing's ``demosaicing_CFA_Bayer_Menon2007``; where the two directions score
    exactly equal, float32 rounding may pick the other one).

    Args:
        raw: mosaic ``(*, H, W)``, H and W even.
        pattern: Bayer layout.
        refining_step: run the refining step (colour-demosaicing's default).

    Returns:
        ``(*, 3, H, W)``.
    """
    _check_mosaic(raw, "demosaic_menon2007")
    flat, lead = _flatten_batch(raw)
    s = _Sites.of(pattern)
    rb_sites = (s.r, s.b)
    green_taps = MENON_GREEN_TAPS.tolist()
    pair = NEIGHBOUR_MEAN_TAPS.tolist()
    raw_lat = _Lattice.of_plane(flat, "mirror")
    known = {site: raw_lat.at(site, 0, 0) for site in (s.r, s.b, s.g_r_row, s.g_b_row)}
    like = known[s.r]

    # 1. Green at R and B sites along each direction; colour differences and their gradients.
    green_h = {site: raw_lat.rows(site, green_taps) for site in rb_sites}
    green_v = {site: raw_lat.cols(site, green_taps) for site in rb_sites}
    diff_h = _Lattice.of_sites({site: known[site] - green_h[site] for site in rb_sites}, like, "mirror")
    diff_v = _Lattice.of_sites({site: known[site] - green_v[site] for site in rb_sites}, like, "mirror")
    grad_h = {site: (diff_h.at(site, 0, 0) - diff_h.at(site, 0, 2)).abs_() for site in rb_sites}
    grad_v = {site: (diff_v.at(site, 0, 0) - diff_v.at(site, 2, 0)).abs_() for site in rb_sites}
    # 2. Decide the direction per R/B site (classifier windows, zero outside the image).
    grad_h_lat = _Lattice.of_sites(grad_h, like, "constant")
    grad_v_lat = _Lattice.of_sites(grad_v, like, "constant")
    taps_v = tuple((dx, dy, w) for dy, dx, w in MENON_CLASSIFIER_TAPS)
    horizontal = {
        site: _Choice(grad_v_lat.correlate(site, taps_v) >= grad_h_lat.correlate(site, MENON_CLASSIFIER_TAPS))
        for site in rb_sites
    }
    del diff_h, diff_v, grad_h, grad_v, grad_h_lat, grad_v_lat
    green = {site: horizontal[site].pick(green_h[site], green_v[site]) for site in rb_sites}
    green[s.g_r_row], green[s.g_b_row] = known[s.g_r_row], known[s.g_b_row]
    del green_h, green_v
    green_lat = _Lattice.of_sites(green, like, "mirror")

    # 3. R and B at green sites: green + mean difference to the two same-colour neighbours
    #    (mirror padding keeps the sub-lattices, so the neighbours are raw samples of that colour).
    red = {s.r: known[s.r]}
    blue = {s.b: known[s.b]}
    for site, same_row, same_col in ((s.g_r_row, red, blue), (s.g_b_row, blue, red)):
        same_row[site] = known[site] + raw_lat.rows(site, pair) - green_lat.rows(site, pair)
        same_col[site] = known[site] + raw_lat.cols(site, pair) - green_lat.cols(site, pair)
    # 4. R at B sites and B at R sites, along the decided direction.
    red_lat = _Lattice.of_sites(red, like, "mirror")
    blue_lat = _Lattice.of_sites(blue, like, "mirror")
    red[s.b] = known[s.b] + red_lat.along(s.b, pair, horizontal[s.b]) - blue_lat.along(s.b, pair, horizontal[s.b])
    blue[s.r] = known[s.r] + blue_lat.along(s.r, pair, horizontal[s.r]) - red_lat.along(s.r, pair, horizontal[s.r])
    del red_lat, blue_lat, green_lat
    if refining_step:
        _menon_refine(red, green, blue, s, horizontal, like)
    return _assemble_channels((red, green, blue), flat).reshape(*lead, 3, *raw.shape[-2:])


def _menon_refine(red: dict, green: dict, blue: dict, s: _Sites, horizontal: dict, like) -> None:
    """Menon 2007 §III-C refining step on per-site planes, in place (as colour-demosaicing's
    ``refining_step_Menon2007``)."""
    third = REFINE_MEAN_TAPS.tolist()
    pair = NEIGHBOUR_MEAN_TAPS.tolist()
    sites = (s.r, s.b, s.g_r_row, s.g_b_row)

    def difference(a: dict, b: dict) -> _Lattice:
        return _Lattice.of_sites({site: a[site] - b[site] for site in sites}, like, "mirror")

    # 1. Green at R/B sites from the directionally smoothed colour differences.
    rg, bg = difference(red, green), difference(blue, green)
    green[s.r] = red[s.r] - rg.along(s.r, third, horizontal[s.r])
    green[s.b] = blue[s.b] - bg.along(s.b, third, horizontal[s.b])
    # 2. R and B at green sites from the colour differences of the two same-colour neighbours.
    rg, bg = difference(red, green), difference(blue, green)
    red[s.g_b_row] = green[s.g_b_row] + rg.cols(s.g_b_row, pair)
    red[s.g_r_row] = green[s.g_r_row] + rg.rows(s.g_r_row, pair)
    blue[s.g_r_row] = green[s.g_r_row] + bg.cols(s.g_r_row, pair)
    blue[s.g_b_row] = green[s.g_b_row] + bg.rows(s.g_b_row, pair)
    del rg, bg
    # 3. R at B sites and B at R sites from the smoothed R − B difference.
    rb = difference(red, blue)
    red[s.b] = blue[s.b] + rb.along(s.b, third, horizontal[s.b])
    blue[s.r] = red[s.r] - rb.along(s.r, third, horizontal[s.r])


DEMOSAICERS = dict(zip(DEMOSAIC_METHODS, (demosaic_bilinear, demosaic_malvar2004, demosaic_menon2007), strict=True))
"""Demosaicing function by method name (the names of :data:`DEMOSAIC_METHODS`)."""
# The linear demosaicers, with the fixed filters their ``weight=`` form starts from.
DEMOSAIC_WEIGHTS = dict(zip(LINEAR_DEMOSAIC_METHODS, (bilinear_demosaic_weight, malvar_demosaic_weight), strict=True))


def demosaic(raw: torch.Tensor, method: str, pattern: BayerPattern | str = BayerPattern.RGGB) -> torch.Tensor:
    """Dispatch to one of :data:`DEMOSAIC_METHODS`: ``(*, H, W) → (*, 3, H, W)``."""
    try:
        fn = DEMOSAICERS[method]
    except KeyError:
        raise ValueError(f"unknown demosaicing method {method!r}; expected one of {DEMOSAIC_METHODS}") from None
    return fn(raw, pattern)
