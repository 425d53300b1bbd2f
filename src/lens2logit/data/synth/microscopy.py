"""Scene model of Raw-Microscopy: one stained leukocyte on a red-cell background (bright field).

Transmitted light follows Beer–Lambert: ``scene = illumination · exp(-Σ_s c_s · od_s)`` with stain
concentration maps ``c_s`` and optical-density vectors ``od_s`` (linear R, G, B). Class evidence is
carried by morphology (cell size, nucleus shape and lobes) and by fine texture (granules, chromatin,
1-px filaments between lobes), not by colour alone: stain strengths vary per image.
Lengths are written for a 64-px image (``px64``) and scale with the image side.
"""

from __future__ import annotations

import numpy as np

from lens2logit.data.layout import MICROSCOPY_CLASSES
from lens2logit.data.synth.sensor import SUPERSAMPLE
from lens2logit.data.synth.shapes import ellipse, grid, points_in, segment_distance, smooth_noise, soft, splat

REFERENCE_SIDE = 64
BACKGROUND_DISPLAY = np.array([0.91, 0.84, 0.94])  # MICROSCOPY profile's mean output (reference-spec §1.4)
GAMMA = 2.2

# Optical density per unit concentration, linear (R, G, B).
STAINS = {
    "nucleus": np.array([0.62, 0.98, 0.30]),     # azure/haematoxylin-like: purple
    "cyto_blue": np.array([0.62, 0.30, 0.06]),   # basophilic cytoplasm: pale blue
    "cyto_pink": np.array([0.10, 0.30, 0.16]),   # neutrophilic cytoplasm: pale lilac-pink
    "gran_neut": np.array([0.35, 0.60, 0.22]),   # fine neutrophil granules: lilac
    "gran_eos": np.array([0.04, 0.95, 1.55]),    # eosinophil granules: orange-red
    "gran_baso": np.array([0.95, 1.15, 0.55]),   # basophil granules: blue-black
    "rbc": np.array([0.10, 0.85, 0.70]),         # haemoglobin: pink-red
}


def _polar(y, x, cy, cx):
    return np.hypot(y - cy, x - cx), np.arctan2(y - cy, x - cx)


def irregular_disc(rng, y, x, cy, cx, radius, roughness, harmonics=(2, 3, 5, 7)):
    """Signed distance of a disc whose radius wobbles with random angular harmonics."""
    d, theta = _polar(y, x, cy, cx)
    r = np.full_like(theta, radius)
    for k in harmonics:
        r = r + radius * roughness * rng.normal() / k**0.5 * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return r - d


def chromatin(rng, shape, fine, coarseness, contrast, lacy=False):
    """Texture multiplier around 1 for a nucleus: clumps (coarse) or a lace of thin strands."""
    noise = smooth_noise(rng, shape, fine * coarseness)
    if lacy:
        return 1.0 + contrast * (1.0 - 2.0 * np.abs(np.tanh(noise)))
    return 1.0 + contrast * np.tanh(noise)


def granules(rng, shape, region, density, size, strength):
    """Concentration of granules scattered over the supersampled boolean ``region``.

    ``density`` is granules per px64² (the cell's area in 64-px-image units), so a cell holds the
    same number of granules at any image size.
    """
    area = region.sum() / SUPERSAMPLE**2 * (REFERENCE_SIDE / region.shape[0] * SUPERSAMPLE) ** 2
    count = rng.poisson(density * area)
    ys, xs = points_in(rng, region, count)
    return strength * np.clip(splat(shape, ys, xs, size), 0.0, 1.5)


def lobes_nucleus(rng, y, x, cy, cx, radius, count, lobe_radius, filament, px):
    """Lobes on an arc around the centre, joined by thin filaments (segmented neutrophil, eosinophil)."""
    start, spread = rng.uniform(0, 2 * np.pi), rng.uniform(0.9, 1.5) * np.pi
    angles = start + spread * np.linspace(0, 1, count) + rng.normal(0, 0.12, count)
    arc = radius * rng.uniform(0.42, 0.55)
    centres = [(cy + arc * np.sin(a), cx + arc * np.cos(a)) for a in angles]
    shape = np.zeros_like(y)
    for (ly, lx) in centres:
        r = lobe_radius * rng.uniform(0.85, 1.15)
        shape = np.maximum(shape, soft(ellipse(y, x, ly, lx, r * rng.uniform(0.75, 1.0), r, rng.uniform(0, np.pi))))
    for (y0, x0), (y1, x1) in zip(centres[:-1], centres[1:]):
        shape = np.maximum(shape, soft(filament * px - segment_distance(y, x, y0, x0, y1, x1)))
    return shape


def band_nucleus(rng, y, x, cy, cx, radius, width):
    """A C-shaped band of roughly uniform width."""
    d, theta = _polar(y, x, cy, cx)
    start, extent = rng.uniform(-np.pi, np.pi), rng.uniform(1.1, 1.5) * np.pi
    rel = np.mod(theta - start, 2 * np.pi)
    along = np.where(rel <= extent, 0.0, np.minimum(rel - extent, 2 * np.pi - rel) * radius)
    across = np.abs(d - radius)
    return soft(width / 2 - np.hypot(across, along))


def kidney_nucleus(rng, y, x, cy, cx, radius):
    """An ellipse with a notch cut from one side (monocyte)."""
    angle = rng.uniform(0, 2 * np.pi)
    body = ellipse(y, x, cy, cx, radius * 0.8, radius, angle)
    ny, nx = cy + 0.95 * radius * np.sin(angle + np.pi / 2), cx + 0.95 * radius * np.cos(angle + np.pi / 2)
    notch = ellipse(y, x, ny, nx, radius * 0.5, radius * 0.55, angle)
    return soft(np.minimum(body, -notch))


def leukocyte(rng, cls: str, y, x, cy, cx, px: float, fine: float) -> dict[str, np.ndarray]:
    """Stain concentration maps of one white cell of class ``cls``."""
    shape = y.shape
    c = {k: np.zeros(shape) for k in STAINS}
    u = rng.uniform
    if cls == "KSC":  # smudge cell: a smeared, ragged nucleus, streaky, no intact cytoplasm
        radius = u(10, 15) * px
        body = soft(irregular_disc(rng, y, x, cy, cx, radius, 0.25, harmonics=(2, 3, 4, 6, 9, 13)))
        streaks = smooth_noise(rng, shape, fine * 1.2, anisotropy=4.0, angle=u(0, np.pi))
        c["nucleus"] = body * u(0.45, 0.6) * (1.0 + 0.55 * np.tanh(streaks))
        return c
    sizes = {"BAS": (11, 12.5), "EOS": (12, 13.5), "LYA": (13.5, 16), "LYT": (8, 9.5), "MON": (15, 17),
             "NGB": (12, 13.5), "NGS": (12, 13.5), "UNC": (11, 13.5)}
    radius = u(*sizes[cls]) * px
    roughness = {"LYA": 0.08, "MON": 0.05, "UNC": 0.09}.get(cls, 0.03)
    harmonics = (5, 6, 7, 9) if cls == "LYA" else (2, 3, 5)
    cell = soft(irregular_disc(rng, y, x, cy, cx, radius, roughness, harmonics))
    ncy, ncx = cy + u(-0.1, 0.1) * radius, cx + u(-0.1, 0.1) * radius
    if cls == "LYT":
        nucleus = soft(irregular_disc(rng, y, x, ncy, ncx, 0.84 * radius, 0.04))
        nuc = 1.3 * chromatin(rng, shape, fine, 2.0, 0.4)
        c["cyto_blue"] = 0.7 * cell
    elif cls == "LYA":
        nucleus = soft(irregular_disc(rng, y, x, cy + u(-0.25, 0.25) * radius, cx + u(-0.25, 0.25) * radius,
                                      0.55 * radius, 0.06))
        nuc = 0.95 * chromatin(rng, shape, fine, 1.1, 0.25)
        d, _ = _polar(y, x, cy, cx)
        c["cyto_blue"] = cell * (0.35 + 0.55 * np.clip(d / radius, 0, 1) ** 3)  # basophilic rim
    elif cls == "MON":
        nucleus = kidney_nucleus(rng, y, x, ncy, ncx, 0.6 * radius)
        nuc = 0.85 * chromatin(rng, shape, fine, 1.0, 0.5, lacy=True)
        c["cyto_blue"] = 0.38 * cell
        c["gran_neut"] = granules(rng, shape, cell > 0.5, 0.08, fine, 0.25)
    elif cls == "NGB":
        nucleus = band_nucleus(rng, y, x, ncy, ncx, 0.5 * radius, 0.27 * radius)
        nuc = 1.1 * chromatin(rng, shape, fine, 1.5, 0.3)
        c["cyto_pink"] = 0.4 * cell
        c["gran_neut"] = granules(rng, shape, cell > 0.5, 0.45, fine, 0.35)
    elif cls == "NGS":
        nucleus = lobes_nucleus(rng, y, x, ncy, ncx, radius, int(rng.integers(3, 6)), 0.24 * radius, 0.35, px)
        nuc = 1.15 * chromatin(rng, shape, fine, 1.5, 0.3)
        c["cyto_pink"] = 0.4 * cell
        c["gran_neut"] = granules(rng, shape, cell > 0.5, 0.45, fine, 0.35)
    elif cls == "EOS":
        nucleus = lobes_nucleus(rng, y, x, ncy, ncx, radius, 2, 0.3 * radius, 0.5, px)
        nuc = 1.0 * chromatin(rng, shape, fine, 1.5, 0.3)
        c["cyto_pink"] = 0.2 * cell
        c["gran_eos"] = granules(rng, shape, cell > 0.5, 0.9, fine, 0.7)
    elif cls == "BAS":
        nucleus = lobes_nucleus(rng, y, x, ncy, ncx, radius, 2, 0.32 * radius, 0.8, px)
        nuc = 0.6 * chromatin(rng, shape, fine, 2.0, 0.2)
        c["cyto_pink"] = 0.3 * cell
        c["gran_baso"] = granules(rng, shape, cell > 0.5, 0.22, 1.4 * fine, 1.0)
    elif cls == "UNC":  # degenerating cell: dense pyknotic fragments, vacuolated pale cytoplasm
        nucleus = np.zeros(shape)
        for _ in range(int(rng.integers(2, 5))):
            a, r = u(0, 2 * np.pi), u(0, 0.45) * radius
            nucleus = np.maximum(nucleus, soft(ellipse(y, x, cy + r * np.sin(a), cx + r * np.cos(a),
                                                       u(0.14, 0.22) * radius, u(0.14, 0.22) * radius)))
        nuc = np.full(shape, 1.6)
        c["cyto_pink"], c["cyto_blue"] = 0.25 * cell, 0.15 * cell
    else:
        raise ValueError(f"unknown microscopy class {cls!r}")
    if cls in ("MON", "UNC"):  # vacuoles: clear holes in the cytoplasm
        holes = granules(rng, shape, cell > 0.5, 0.05 if cls == "MON" else 0.12, 1.3 * fine, 1.0)
        for k in ("cyto_blue", "cyto_pink"):
            c[k] = c[k] * (1.0 - 0.8 * np.clip(holes, 0, 1))
    nucleus = nucleus * cell
    c["nucleus"] = nucleus * np.clip(nuc, 0.0, None)
    for k in ("cyto_blue", "cyto_pink"):
        c[k] = c[k] * (1.0 - nucleus)  # nucleus displaces cytoplasm
    return c


def red_cells(rng, y, x, avoid_cy, avoid_cx, avoid_radius, side, px):
    """Concentration of erythrocytes (discs with a pale centre) scattered around the white cell."""
    conc = np.zeros(y.shape)
    target = int(rng.integers(6, 11))  # everything scales with the side, so the count does not
    placed, attempts = 0, 0
    while placed < target and attempts < 50 * target:
        attempts += 1
        r = rng.uniform(6.0, 7.5) * px
        cy, cx = rng.uniform(-r, side + r, 2)
        if np.hypot(cy - avoid_cy, cx - avoid_cx) < avoid_radius + 0.6 * r:
            continue
        d, _ = _polar(y, x, cy, cx)
        disc = soft(irregular_disc(rng, y, x, cy, cx, r, 0.03))
        pallor = 1.0 - 0.55 * np.exp(-((d / (0.5 * r)) ** 2))
        conc += rng.uniform(0.55, 0.8) * disc * pallor
        placed += 1
    return conc


def microscopy_scene(rng: np.random.Generator, cls: str, side: int) -> np.ndarray:
    """Linear-RGB transmitted-light scene ``(2·side, 2·side, 3)`` of one leukocyte of class ``cls``."""
    if cls not in MICROSCOPY_CLASSES:
        raise ValueError(f"unknown microscopy class {cls!r}; expected one of {MICROSCOPY_CLASSES}")
    px = side / REFERENCE_SIDE
    fine = 0.5 * px**0.5  # granule / chromatin scale: ~1 px at 64, ~2 px at 256
    y, x = grid(side, side)
    cy, cx = side / 2 + rng.uniform(-0.05, 0.05, 2) * side
    conc = leukocyte(rng, cls, y, x, cy, cx, px, fine)
    conc["rbc"] = red_cells(rng, y, x, cy, cx, 14 * px if cls != "LYT" else 9 * px, side, px)
    # Staining varies from slide to slide: per-stain strength and a small hue jitter per image.
    od_total = np.zeros((*y.shape, 3))
    for stain, c in conc.items():
        od = STAINS[stain] * rng.uniform(0.85, 1.15) * (1.0 + rng.normal(0, 0.05, 3))
        od_total += c[..., None] * od
    illumination = BACKGROUND_DISPLAY**GAMMA * (1.0 + rng.normal(0, 0.03, 3))
    shading = 1.0 + 0.02 * smooth_noise(rng, y.shape, side / 3)
    return illumination * shading[..., None] * np.exp(-od_total)
