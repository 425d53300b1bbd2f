"""Scene model of Raw-Microscopy: one stained leukocyte among red cells, bright field, true scale.

Everything is drawn at the camera's real sampling, 0.1625 µm per pixel (6.5 µm pixels behind a 40×
objective): sizes are written in µm and converted once (:func:`um`). A field of ``side`` pixels is
a ``side · 0.1625`` µm window centred on the white cell (256 px = the real crops); a smaller side is
a smaller window of the same scene, never a rescaled one.

Transmission follows Beer–Lambert in each of the three narrow bands that the instrument captured
separately (620 / 525 / 450 nm → the R, G, B channels): ``T_band = shading · exp(-Σ_s c_s · od_s)``
with stain concentration maps ``c_s`` and optical densities ``od_s`` per band. Class evidence lives
at physical sizes: cell diameter, nucleus shape and lobes (lobe filaments 0.4–0.7 µm), chromatin
texture, cytoplasm colour, and granules of their real size (eosinophil 0.5–1 µm, basophil 0.2–1 µm,
neutrophil 0.2–0.3 µm: below the PSF, so they show only as texture). Stain strength varies per image.
"""

from __future__ import annotations

import numpy as np

from lens2logit.data.layout import MICROSCOPY_CLASSES
from lens2logit.data.synth.sensor import MICROSCOPY_PIXEL_UM, SUPERSAMPLE
from lens2logit.data.synth.shapes import ellipse, grid, points_in, segment_distance, smooth_noise, soft, splat


def um(length_um: float) -> float:
    """Micrometres in the sample → output pixels."""
    return float(length_um) / MICROSCOPY_PIXEL_UM


# Optical density per unit concentration in the (620, 525, 450) nm bands. Modelling choices read from
# the absorption of Romanowsky (May–Grünwald–Giemsa) stains: azure B–DNA purple absorbs most at
# 525–620 nm, azure–RNA blue at 620 nm, eosin at 520 nm (less at 450), haemoglobin at 525 and 450 nm.
STAINS = {
    "nucleus": np.array([0.70, 0.95, 0.32]),     # azure B–eosin on chromatin: purple
    "cyto_blue": np.array([0.50, 0.26, 0.08]),   # basophilic (RNA-rich) cytoplasm: blue
    "cyto_pink": np.array([0.08, 0.20, 0.12]),   # neutrophilic cytoplasm: pale lilac-pink
    "gran_neut": np.array([0.30, 0.50, 0.24]),   # fine neutrophil granules: lilac
    "gran_eos": np.array([0.05, 1.00, 0.60]),    # eosinophil granules: eosin, orange-red
    "gran_baso": np.array([0.95, 1.15, 0.60]),   # basophil granules: metachromatic, blue-black
    "rbc": np.array([0.08, 0.75, 0.62]),         # haemoglobin (+ eosin): salmon pink
}

# Diameter of each class's cell as seen flattened on a smear, µm (uniform draw). Haematology ranges,
# sources in docs/data.md ("Scenes at true scale"); KSC and UNC have no reference size (modelling choices).
# At 0.1625 µm/px: 43 px (7 µm) … 111 px (18 µm); the largest fits the default 20.8 µm (128 px) field.
CELL_DIAMETER_UM = {
    "BAS": (10.0, 14.0), "EOS": (12.0, 15.0), "KSC": (10.5, 13.5), "LYA": (12.0, 18.0), "LYT": (7.0, 10.0),
    "MON": (14.0, 18.0), "NGB": (10.0, 14.0), "NGS": (10.0, 14.0), "UNC": (10.5, 13.0),
}  # fmt: skip
RBC_DIAMETER_UM = (7.2, 8.0)
RBC_CLEAR_MARGIN_UM = (0.0, 1.0)  # plasma gap kept free of red-cell centres' reach around the drawn white cell
RBC_COVERAGE = (0.30, 0.50)  # fraction of the field (outside the white cell) covered by red cells
# Granule diameters (µm) and counts per cell.
EOS_GRANULE_UM, EOS_GRANULES = (0.5, 1.0), (140, 220)
BASO_GRANULE_UM, BASO_GRANULES = (0.3, 1.0), (70, 130)
NEUT_GRANULE_UM, NEUT_GRANULES = (0.2, 0.3), (350, 600)
AZUROPHIL_GRANULE_UM, AZUROPHIL_GRANULES = (0.1, 0.2), (150, 300)  # monocyte "ground glass"
CHROMATIN_CLUMP_UM = 0.45  # correlation length of chromatin texture
FILAMENT_WIDTH_UM = (0.4, 0.7)  # chromatin strands joining neutrophil / eosinophil lobes


def _polar(y, x, cy, cx):
    return np.hypot(y - cy, x - cx), np.arctan2(y - cy, x - cx)


def irregular_disc(rng, y, x, cy, cx, radius, roughness, harmonics=(2, 3, 5, 7)):
    """Signed distance (px) of a disc whose radius wobbles with random angular harmonics."""
    d, theta = _polar(y, x, cy, cx)
    r = np.full_like(theta, radius)
    for k in harmonics:
        r = r + radius * roughness * rng.normal() / k**0.5 * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return r - d


def chromatin(rng, shape, contrast, lacy=False, clump_um=CHROMATIN_CLUMP_UM):
    """Texture multiplier around 1 for a nucleus: clumps, or a lace of thin strands (``lacy``)."""
    noise = smooth_noise(rng, shape, um(clump_um))
    if lacy:
        return 1.0 + contrast * (1.0 - 2.0 * np.abs(np.tanh(noise)))
    return 1.0 + contrast * np.tanh(noise)


def granules(rng, shape, region, count, diameter_um, strength):
    """Concentration of ``count`` granules of the given diameter range (µm) scattered over ``region``.

    Each granule is a Gaussian dot with σ = diameter / 4 (its ±2σ core spans the diameter) and peak
    concentration ``strength``; granules below the PSF blur into texture on their own.
    """
    count = int(rng.integers(*count)) if isinstance(count, tuple) else int(count)
    ys, xs = points_in(rng, region, count)
    if len(ys) == 0:
        return np.zeros(shape)
    # Two size classes keep the splat cheap (one Gaussian filter each) while spanning the range.
    small = rng.random(len(ys)) < 0.5
    total = np.zeros(shape)
    for pick, d in ((small, diameter_um[0] + 0.25 * (diameter_um[1] - diameter_um[0])),
                    (~small, diameter_um[0] + 0.75 * (diameter_um[1] - diameter_um[0]))):
        if pick.any():
            total += splat(shape, ys[pick], xs[pick], um(d) / 4)
    return strength * np.clip(total, 0.0, 1.5)


def lobes_nucleus(rng, y, x, cy, cx, arc_um, count, lobe_um, filament_um):
    """Lobes on an arc around (cy, cx) joined by thin chromatin filaments (neutrophil, eosinophil)."""
    start, spread = rng.uniform(0, 2 * np.pi), rng.uniform(0.8, 1.4) * np.pi
    angles = start + spread * np.linspace(0, 1, count) + rng.normal(0, 0.12, count)
    arc = um(arc_um)
    centres = [(cy + arc * np.sin(a), cx + arc * np.cos(a)) for a in angles]
    shape = np.zeros_like(y)
    for ly, lx in centres:
        r = um(lobe_um) / 2 * rng.uniform(0.85, 1.15)
        shape = np.maximum(shape, soft(ellipse(y, x, ly, lx, r * rng.uniform(0.7, 0.95), r, rng.uniform(0, np.pi))))
    for (y0, x0), (y1, x1) in zip(centres[:-1], centres[1:]):
        width = um(rng.uniform(*filament_um))
        shape = np.maximum(shape, soft(width / 2 - segment_distance(y, x, y0, x0, y1, x1)))
    return shape


def band_nucleus(rng, y, x, cy, cx, radius_um, width_um):
    """A C-shaped band of roughly uniform width (band neutrophil)."""
    d, theta = _polar(y, x, cy, cx)
    start, extent = rng.uniform(-np.pi, np.pi), rng.uniform(1.1, 1.5) * np.pi
    rel = np.mod(theta - start, 2 * np.pi)
    radius = um(radius_um)
    along = np.where(rel <= extent, 0.0, np.minimum(rel - extent, 2 * np.pi - rel) * radius)
    across = np.abs(d - radius)
    return soft(um(width_um) / 2 - np.hypot(across, along))


def kidney_nucleus(rng, y, x, cy, cx, radius):
    """An ellipse with a notch cut from one side (monocyte); ``radius`` in px."""
    angle = rng.uniform(0, 2 * np.pi)
    body = ellipse(y, x, cy, cx, radius * 0.8, radius, angle)
    ny, nx = cy + 0.95 * radius * np.sin(angle + np.pi / 2), cx + 0.95 * radius * np.cos(angle + np.pi / 2)
    notch = ellipse(y, x, ny, nx, radius * 0.5, radius * 0.55, angle)
    return soft(np.minimum(body, -notch))


def cell_radius_px(rng, cls: str) -> float:
    """Radius (output px) of one white cell of class ``cls``, drawn from its diameter range."""
    if cls not in CELL_DIAMETER_UM:
        raise ValueError(f"unknown microscopy class {cls!r}")
    return um(rng.uniform(*CELL_DIAMETER_UM[cls])) / 2


def clear_zone_px(rng, cell_radius: float) -> float:
    """Radius (px) kept free around the drawn white cell: its own radius plus a random plasma gap.

    Depends on the drawn cell only, never on its class's range (that would leak the class).
    """
    return cell_radius + um(rng.uniform(*RBC_CLEAR_MARGIN_UM))


def leukocyte(rng, cls: str, y, x, cy, cx, radius: float) -> dict[str, np.ndarray]:
    """Stain concentration maps of one white cell of class ``cls`` and ``radius`` (px) centred near (cy, cx).

    Lobes and bands sit at a fraction of the cell radius (a smaller cell has a more compact nucleus);
    lobe, filament and granule sizes stay absolute (µm).
    """
    if cls not in CELL_DIAMETER_UM:
        raise ValueError(f"unknown microscopy class {cls!r}")
    shape = y.shape
    c = {k: np.zeros(shape) for k in STAINS}
    u = rng.uniform
    radius_um = radius * MICROSCOPY_PIXEL_UM
    if cls == "KSC":  # smudge cell: a smeared, ragged nucleus, streaky, no intact cytoplasm
        body = soft(irregular_disc(rng, y, x, cy, cx, radius, 0.18, harmonics=(2, 3, 4, 6, 9, 13)))
        angle = u(0, np.pi)
        streaks = smooth_noise(rng, shape, um(0.4), anisotropy=3.0, angle=angle) + 0.7 * smooth_noise(rng, shape, um(1.2))
        c["nucleus"] = body * u(0.35, 0.5) * np.clip(1.0 + 0.6 * np.tanh(streaks), 0.1, None)
        return c
    roughness = {"LYA": 0.06, "MON": 0.04, "UNC": 0.07}.get(cls, 0.025)
    harmonics = (5, 6, 7, 9) if cls == "LYA" else (2, 3, 5)
    cell = soft(irregular_disc(rng, y, x, cy, cx, radius, roughness, harmonics))
    ncy, ncx = cy + u(-0.08, 0.08) * radius, cx + u(-0.08, 0.08) * radius
    inside = cell > 0.5
    if cls == "LYT":  # small lymphocyte: round dense nucleus filling most of the cell, thin blue rim
        nucleus = soft(irregular_disc(rng, y, x, ncy, ncx, u(0.80, 0.88) * radius, 0.04))
        nuc = 1.35 * chromatin(rng, shape, 0.4, clump_um=0.6)
        c["cyto_blue"] = 0.75 * cell
    elif cls == "LYA":  # reactive lymphocyte: larger, paler nucleus, abundant cytoplasm, dark blue rim
        nucleus = soft(irregular_disc(rng, y, x, cy + u(-0.2, 0.2) * radius, cx + u(-0.2, 0.2) * radius,
                                      u(0.50, 0.60) * radius, 0.06))
        nuc = 0.95 * chromatin(rng, shape, 0.25)
        d, _ = _polar(y, x, cy, cx)
        c["cyto_blue"] = cell * (0.35 + 0.6 * np.clip(d / radius, 0, 1) ** 3)
    elif cls == "MON":  # monocyte: folded/kidney nucleus, lacy chromatin, grey-blue cytoplasm
        nucleus = kidney_nucleus(rng, y, x, ncy, ncx, u(0.6, 0.7) * radius)
        nuc = 0.85 * chromatin(rng, shape, 0.5, lacy=True, clump_um=0.35)
        c["cyto_blue"] = 0.38 * cell
        c["gran_neut"] = granules(rng, shape, inside, AZUROPHIL_GRANULES, AZUROPHIL_GRANULE_UM, 0.5)
    elif cls == "NGB":  # band neutrophil: C-shaped nucleus of uniform width, pink granular cytoplasm
        nucleus = band_nucleus(rng, y, x, ncy, ncx, u(0.56, 0.69) * radius_um, u(2.2, 2.8))
        nuc = 1.1 * chromatin(rng, shape, 0.3)
        c["cyto_pink"] = 0.9 * cell
        c["gran_neut"] = granules(rng, shape, inside, NEUT_GRANULES, NEUT_GRANULE_UM, 1.0)
    elif cls == "NGS":  # segmented neutrophil: 3–5 lobes joined by thin filaments
        nucleus = lobes_nucleus(rng, y, x, ncy, ncx, u(0.46, 0.59) * radius_um, int(rng.integers(3, 6)), u(3.0, 3.6),
                                FILAMENT_WIDTH_UM)
        nuc = 1.15 * chromatin(rng, shape, 0.3)
        c["cyto_pink"] = 0.9 * cell
        c["gran_neut"] = granules(rng, shape, inside, NEUT_GRANULES, NEUT_GRANULE_UM, 1.0)
    elif cls == "EOS":  # eosinophil: two lobes, cytoplasm packed with large orange granules
        nucleus = lobes_nucleus(rng, y, x, ncy, ncx, u(0.37, 0.46) * radius_um, 2, u(3.6, 4.4), FILAMENT_WIDTH_UM)
        nuc = 1.0 * chromatin(rng, shape, 0.3)
        c["cyto_pink"] = 0.3 * cell
        c["gran_eos"] = granules(rng, shape, inside, EOS_GRANULES, EOS_GRANULE_UM, 0.8)
    elif cls == "BAS":  # basophil: pale lobed nucleus hidden under coarse blue-black granules
        nucleus = lobes_nucleus(rng, y, x, ncy, ncx, u(0.31, 0.42) * radius_um, 2, u(3.8, 4.6), (0.8, 1.2))
        nuc = 0.7 * chromatin(rng, shape, 0.2)
        c["cyto_pink"] = 0.5 * cell
        c["gran_baso"] = granules(rng, shape, inside, BASO_GRANULES, BASO_GRANULE_UM, 1.1)
    elif cls == "UNC":  # degenerating cell: dense pyknotic fragments, vacuolated pale cytoplasm
        nucleus = np.zeros(shape)
        for _ in range(int(rng.integers(2, 5))):
            a, r = u(0, 2 * np.pi), u(0, 0.45) * radius
            nucleus = np.maximum(nucleus, soft(ellipse(y, x, cy + r * np.sin(a), cx + r * np.cos(a),
                                                       um(u(1.0, 2.0)), um(u(1.0, 2.0)))))
        nuc = np.full(shape, 1.6)
        c["cyto_pink"], c["cyto_blue"] = 0.25 * cell, 0.15 * cell
    else:  # pragma: no cover - CELL_DIAMETER_UM and this chain list the same classes
        raise ValueError(f"unknown microscopy class {cls!r}")
    if cls in ("MON", "UNC"):  # vacuoles (0.5–1.5 µm): clear holes in the cytoplasm
        holes = granules(rng, shape, inside, (3, 8) if cls == "MON" else (6, 14), (0.6, 1.5), 1.0)
        for k in ("cyto_blue", "cyto_pink"):
            c[k] = c[k] * (1.0 - 0.8 * np.clip(holes, 0, 1))
    nucleus = nucleus * cell
    c["nucleus"] = nucleus * np.clip(nuc, 0.0, None)
    for k in ("cyto_blue", "cyto_pink"):
        c[k] = c[k] * (1.0 - nucleus)  # nucleus displaces cytoplasm
    return c


def _window(shape, cy, cx, reach):
    """Slices of the supersampled grid within ``reach`` output pixels of (cy, cx)."""
    s = SUPERSAMPLE
    y0, y1 = max(int((cy - reach) * s), 0), min(int((cy + reach) * s) + 1, shape[0])
    x0, x1 = max(int((cx - reach) * s), 0), min(int((cx + reach) * s) + 1, shape[1])
    return slice(y0, y1), slice(x0, x1)


def red_cells(rng, y, x, avoid_cy, avoid_cx, avoid_radius, side):
    """Concentration of erythrocytes (biconcave discs: thick rim, pale centre) around the white cell."""
    conc = np.zeros(y.shape)
    field_area = side * side - np.pi * avoid_radius**2
    mean_area = np.pi * (um(np.mean(RBC_DIAMETER_UM)) / 2) ** 2
    target = rng.poisson(rng.uniform(*RBC_COVERAGE) * max(field_area, 0.0) / mean_area)
    placed, attempts, centres = 0, 0, []
    while placed < target and attempts < 40 * (target + 1):
        attempts += 1
        r = um(rng.uniform(*RBC_DIAMETER_UM)) / 2
        cy, cx = rng.uniform(-0.6 * r, side + 0.6 * r, 2)
        if np.hypot(cy - avoid_cy, cx - avoid_cx) < avoid_radius + 0.85 * r:
            continue
        if any(np.hypot(cy - py, cx - px) < 1.5 * r for py, px in centres):  # mild overlap only
            continue
        window = _window(y.shape, cy, cx, 1.2 * r + 2.0)  # the disc and its soft edge; zero beyond
        yw, xw = y[window], x[window]
        d, _ = _polar(yw, xw, cy, cx)
        disc = soft(irregular_disc(rng, yw, xw, cy, cx, r, 0.02))
        pallor = 1.0 - 0.55 * np.exp(-((d / (0.42 * r)) ** 2))  # central pallor ≈ 1/3 of the diameter
        conc[window] += rng.uniform(0.6, 0.85) * disc * pallor
        centres.append((cy, cx))
        placed += 1
    return conc


def scene_concentrations(rng: np.random.Generator, cls: str, side: int) -> dict[str, np.ndarray]:
    """Stain concentration maps ``{stain: (SUPERSAMPLE·side,)*2}`` of one field centred on a leukocyte.

    The red cells are placed first, around the drawn cell's clear zone (:func:`clear_zone_px`), so
    that for a given drawn radius they do not depend on the class.
    """
    if cls not in MICROSCOPY_CLASSES:
        raise ValueError(f"unknown microscopy class {cls!r}; expected one of {MICROSCOPY_CLASSES}")
    y, x = grid(side, side)
    cy, cx = side / 2 + rng.uniform(-1.0, 1.0, 2) * um(0.8)  # crops are centred on the cell (±0.8 µm)
    radius = cell_radius_px(rng, cls)
    rbc = red_cells(rng, y, x, cy, cx, clear_zone_px(rng, radius), side)
    conc = leukocyte(rng, cls, y, x, cy, cx, radius)
    conc["rbc"] = rbc
    return conc


def microscopy_scene(rng: np.random.Generator, cls: str, side: int) -> np.ndarray:
    """Transmission in the (620, 525, 450) nm bands, ``(SUPERSAMPLE·side,)*2 + (3,)``, one leukocyte."""
    conc = scene_concentrations(rng, cls, side)
    y_shape = next(iter(conc.values())).shape
    # Staining varies from slide to slide: per-stain strength and a small hue jitter per image.
    od_total = np.zeros((*y_shape, 3))
    for stain, c in conc.items():
        od = STAINS[stain] * rng.uniform(0.85, 1.15) * (1.0 + rng.normal(0, 0.05, 3))
        od_total += c[..., None] * od
    # Köhler illumination: nearly flat; a slow ±2 % shading and ±3 % lamp/filter level per band.
    level = 1.0 + rng.normal(0, 0.03, 3)
    shading = 1.0 + 0.02 * smooth_noise(rng, y_shape, max(side / 3, 8.0))
    return level * shading[..., None] * np.exp(-od_total)


CELL_BODY_STAINS = ("nucleus", "cyto_blue", "cyto_pink")


def cell_diameter_px(conc: dict[str, np.ndarray]) -> float:
    """Equivalent-circle diameter (output px) of the cell body (nucleus + cytoplasm) in :func:`leukocyte` maps."""
    stained = sum(conc[k] for k in CELL_BODY_STAINS) > 0.02
    return float(2.0 * np.sqrt(stained.sum() / SUPERSAMPLE**2 / np.pi))
