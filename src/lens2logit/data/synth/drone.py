"""Scene model of Raw-Drone: nadir aerial views of roads, parking lots, roofs, trees and cars, true scale.

Everything is drawn at the real ground sampling distance, 6 cm per pixel (250 m flight height):
lengths are written in metres and converted once (:func:`m`). A car of 4.5 m × 1.8 m is therefore
75 × 30 px at every tile size; the tile size only sets how large the full image is
(``TILES_HIGH × TILES_WIDE`` tiles), never the size of the objects in it.

Linear sRGB reflectance under sunlight with cast shadows (sun elevation 35–60°). Cars are oriented
boxes with windows and shadows, on road lanes and in parking stalls; their exact footprints give the
masks (a pixel is "car" when at least half of it is covered).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lens2logit.data.synth.sensor import SUPERSAMPLE
from lens2logit.data.synth.shapes import fractal_noise, grid, rectangle, smooth_noise, soft

GSD_M = 0.06  # metres per pixel: 2.4 µm pixels × 250 m / 10.3 mm focal length ≈ 5.8 cm, quoted as 6 cm
TILES_HIGH, TILES_WIDE = 6, 8  # full image = 6 × 8 tiles

# Physical sizes, metres.
LANE_M = 3.5
ROAD_SPACING_M = 70.0  # mean distance between parallel roads
ROAD_SHOULDER_M = (0.5, 1.5)
MARKING_WIDTH_M = 0.15
DASH_M, DASH_GAP_M = 3.0, 6.0  # urban lane dashes
STALL_WIDTH_M, STALL_DEPTH_M = 2.5, 5.0
CAR_LENGTH_M, CAR_WIDTH_RATIO = (3.8, 5.0), (0.38, 0.44)  # 3.8–5 m long, 1.5–2.1 m wide
CAR_HEIGHT_M = 1.5
BUILDING_HALF_M, BUILDING_HEIGHT_M = ((5.0, 11.0), (4.0, 7.0)), (5.0, 9.0)
TREE_CROWN_RADIUS_M, TREE_HEIGHT_M = (1.8, 4.5), (5.0, 12.0)
TREE_SPACING_M = 12.0  # one tree per (12 m)² of image on average, where there is room
CAR_GAP_M = 0.3  # kept free between cars, so their masks never merge

# Linear reflectances.
GRASS = np.array([0.045, 0.080, 0.028])
DRY_GRASS = np.array([0.13, 0.115, 0.06])
SOIL = np.array([0.14, 0.10, 0.07])
ASPHALT = np.array([0.065, 0.065, 0.072])
LOT_ASPHALT = np.array([0.10, 0.10, 0.105])
PAINT = np.array([0.55, 0.55, 0.52])
TREE = np.array([0.025, 0.05, 0.018])
ROOFS = np.array([[0.30, 0.08, 0.05], [0.18, 0.18, 0.19], [0.32, 0.31, 0.30], [0.16, 0.10, 0.07], [0.08, 0.09, 0.10]])
CAR_COLOURS = np.array([
    [0.70, 0.70, 0.70], [0.02, 0.02, 0.025], [0.30, 0.30, 0.31], [0.45, 0.46, 0.48], [0.40, 0.03, 0.03],
    [0.03, 0.08, 0.35], [0.05, 0.18, 0.08], [0.55, 0.45, 0.10], [0.12, 0.12, 0.14],
])  # fmt: skip
WINDOW = np.array([0.025, 0.03, 0.04])
SHADOW = np.array([0.30, 0.34, 0.48])  # shadowed fraction of light: sky fill is bluish


def m(length_m: float) -> float:
    """Metres on the ground → output pixels."""
    return float(length_m) / GSD_M


@dataclass(frozen=True)
class Car:
    cy: float
    cx: float
    length: float  # px
    width: float  # px
    angle: float  # direction of the car's front, radians


@dataclass
class DroneScene:
    rgb: np.ndarray       # (sH, sW, 3) linear, supersampled
    mask: np.ndarray      # (H, W) uint8 car mask at output resolution
    cars: list[Car]


def _paint(image, coverage, colour):
    image *= 1.0 - coverage[..., None]
    image += coverage[..., None] * colour


def _window(shape, cy, cx, reach):
    """Slices of the supersampled grid within ``reach`` output pixels of (cy, cx)."""
    s = SUPERSAMPLE
    y0, y1 = max(int((cy - reach) * s), 0), min(int((cy + reach) * s) + 1, shape[0])
    x0, x1 = max(int((cx - reach) * s), 0), min(int((cx + reach) * s) + 1, shape[1])
    return slice(y0, y1), slice(x0, x1)


def _road_lines(rng, height, width):
    """Two-lane roads as (point, angle, half width px): about one per ``ROAD_SPACING_M`` each way, at least one."""
    roads = []
    for base, extent in ((0.0, height), (np.pi / 2, width)):
        count = int(rng.poisson(extent * GSD_M / ROAD_SPACING_M))
        for k in range(count):
            position = extent * (k + rng.uniform(0.3, 0.7)) / count
            angle = base + rng.normal(0, 0.12)
            point = (position, width / 2) if base == 0.0 else (height / 2, position)
            roads.append((point, angle, m(LANE_M + rng.uniform(*ROAD_SHOULDER_M))))
    if not roads:
        roads.append(((height / 2, width / 2), rng.normal(0, 0.12), m(LANE_M + rng.uniform(*ROAD_SHOULDER_M))))
    return roads


def _distance_to_line(y, x, point, angle):
    return np.abs(-(x - point[1]) * np.sin(angle) + (y - point[0]) * np.cos(angle))


def drone_scene(rng: np.random.Generator, tile: int, frame: tuple[int, int] | None = None) -> DroneScene:
    """One full aerial image at 6 cm per pixel: ``TILES_HIGH × TILES_WIDE`` tiles of side ``tile``, or
    ``frame = (height, width)`` pixels when given (the real camera's 3648 × 5472, not a tile multiple)."""
    height, width = frame if frame is not None else (TILES_HIGH * tile, TILES_WIDE * tile)
    y, x = grid(height, width, np.float32)  # large images: float32 halves the memory traffic
    shape = y.shape
    # Ground: patches of grass, dry grass and soil (tens of metres) with fine texture (decimetres).
    landuse = fractal_noise(rng, shape, m(12.0), 3)
    dryness = np.clip(0.5 + 0.6 * landuse, 0, 1)[..., None]
    soil = np.clip(fractal_noise(rng, shape, m(8.0), 3) - 1.0, 0, 1)[..., None]
    image = ((1 - dryness) * GRASS + dryness * DRY_GRASS).astype(np.float32)
    image = (1 - soil) * image + soil * SOIL.astype(np.float32)
    image *= (1.0 + 0.18 * fractal_noise(rng, shape, m(0.25), 3).astype(np.float32))[..., None]
    shade = np.ones((*shape, 3), np.float32)
    asphalt_texture = (1.0 + 0.08 * smooth_noise(rng, shape, m(0.1))).astype(np.float32)[..., None]
    sun = rng.uniform(0, 2 * np.pi)
    shadow_per_height = 1.0 / np.tan(np.radians(rng.uniform(35, 60)))  # shadow length per metre of height
    sun_dy, sun_dx = np.sin(sun) * shadow_per_height, np.cos(sun) * shadow_per_height
    occupied = np.zeros(shape, bool)  # where trees and buildings may not go

    # Roads with lane markings.
    roads = _road_lines(rng, height, width)
    for point, angle, half in roads:
        d = _distance_to_line(y, x, point, angle)
        _paint(image, soft(half - d), ASPHALT.astype(np.float32) * asphalt_texture)
        along = (x - point[1]) * np.cos(angle) + (y - point[0]) * np.sin(angle)
        dashes = (np.mod(along, m(DASH_M + DASH_GAP_M)) < m(DASH_M)).astype(float)
        _paint(image, soft(m(MARKING_WIDTH_M) / 2 - d) * dashes, PAINT)
        _paint(image, soft(m(MARKING_WIDTH_M) / 2 - np.abs(d - (half - m(0.3)))), PAINT)
        occupied |= d < half + m(1.0)

    # Parking lots beside the roads: two rows of 2.5 m × 5 m stalls with painted lines.
    cars: list[Car] = []
    stall_cars = []
    for _ in range(rng.integers(1, 3)):
        point, angle, half = roads[rng.integers(len(roads))]
        t = rng.uniform(-0.3, 0.3) * max(height, width)
        side = rng.choice([-1.0, 1.0])
        depth = m(2 * STALL_DEPTH_M + rng.uniform(5.0, 6.5))  # two stall rows + an aisle
        length = m(STALL_WIDTH_M) * int(rng.integers(5, 14))
        normal = np.array([np.cos(angle), -np.sin(angle)])  # (dy, dx) across the road
        cy = point[0] + t * np.sin(angle) + side * normal[0] * (half + m(1.0) + depth / 2)
        cx = point[1] + t * np.cos(angle) + side * normal[1] * (half + m(1.0) + depth / 2)
        sl = _window(shape, cy, cx, (length + depth) / 2 + m(2.0))
        lot = rectangle(y[sl], x[sl], cy, cx, length / 2, depth / 2, angle)
        _paint(image[sl], soft(lot), LOT_ASPHALT * asphalt_texture[sl])
        pitch = m(STALL_WIDTH_M)
        u = (x[sl] - cx) * np.cos(angle) + (y[sl] - cy) * np.sin(angle)
        v = -(x[sl] - cx) * np.sin(angle) + (y[sl] - cy) * np.cos(angle)
        line = np.abs(np.mod(u, pitch) - pitch / 2) > pitch / 2 - m(MARKING_WIDTH_M) / 2
        in_rows = (np.abs(v) > depth / 2 - m(STALL_DEPTH_M)) & (np.abs(v) < depth / 2)
        _paint(image[sl], soft(lot) * line * in_rows, PAINT)
        occupied[sl] |= lot > -m(1.0)
        for row in (-1, 1):
            for k in range(int(round(length / pitch))):
                su = -length / 2 + (k + 0.5) * pitch
                sv = row * (depth / 2 - m(STALL_DEPTH_M) / 2)
                stall_cars.append((cy + su * np.sin(angle) + sv * np.cos(angle),
                                   cx + su * np.cos(angle) - sv * np.sin(angle), angle + np.pi / 2 * row))

    # Buildings with gable roofs and cast shadows.
    for _ in range(rng.integers(2, 2 + max(1, int(height * width / m(30.0) ** 2)))):
        for _attempt in range(20):
            by, bx = rng.uniform(0, height), rng.uniform(0, width)
            hl, hw = m(rng.uniform(*BUILDING_HALF_M[0])), m(rng.uniform(*BUILDING_HALF_M[1]))
            angle = roads[rng.integers(len(roads))][1] + rng.choice([0.0, np.pi / 2])
            rise = m(rng.uniform(*BUILDING_HEIGHT_M))
            sl = _window(shape, by, bx, hl + hw + rise * shadow_per_height + m(2.0))
            body = rectangle(y[sl], x[sl], by, bx, hl, hw, angle)
            if not occupied[sl][body > -m(2.0)].any():
                break
        else:
            continue
        cast = rectangle(y[sl], x[sl], by + rise * sun_dy, bx + rise * sun_dx, hl, hw, angle)
        shade[sl] = np.minimum(shade[sl], 1 - soft(cast)[..., None] * (1 - SHADOW))
        v = -(x[sl] - bx) * np.sin(angle) + (y[sl] - by) * np.cos(angle)
        roof = ROOFS[rng.integers(len(ROOFS))] * (1.0 + 0.06 * smooth_noise(rng, body.shape, m(0.15)))[..., None]
        facing = np.where(v > 0, 1.0, 0.68)[..., None]  # the two roof planes face the sun differently
        _paint(image[sl], soft(body), roof * facing)
        shade[sl] = np.maximum(shade[sl], soft(body)[..., None])  # a roof is never in its own shadow
        occupied[sl] |= body > -m(2.0)

    # Cars: along lanes and in some stalls; never closer than CAR_GAP_M.
    car_cover = np.zeros(shape)
    # Every frame holds a car (as every real frame did): one in a lane of the first road, level with
    # the image centre, is tried first.
    point, angle, _ = roads[0]
    along = (width / 2 - point[1]) * np.cos(angle) + (height / 2 - point[0]) * np.sin(angle)
    off = m(LANE_M) / 2
    candidates = [(point[0] + along * np.sin(angle) + off * np.cos(angle),
                   point[1] + along * np.cos(angle) - off * np.sin(angle), angle + rng.normal(0, 0.03))]
    span = np.hypot(height, width)
    for point, angle, half in roads:
        t = -span / 2
        while t < span / 2:
            t += m(rng.exponential(25.0) + 7.0)
            lane = rng.choice([-1.0, 1.0])
            off = lane * m(LANE_M) / 2
            candidates.append((point[0] + t * np.sin(angle) + off * np.cos(angle),
                               point[1] + t * np.cos(angle) - off * np.sin(angle),
                               angle + (np.pi if lane < 0 else 0.0) + rng.normal(0, 0.03)))
    fill = rng.uniform(0.3, 0.8)
    candidates += [(cy, cx, a + rng.normal(0, 0.04)) for cy, cx, a in stall_cars if rng.random() < fill]
    for cy, cx, angle in candidates:
        length = m(rng.uniform(*CAR_LENGTH_M))
        width_ = length * rng.uniform(*CAR_WIDTH_RATIO)
        if not (0 < cy < height and 0 < cx < width):
            continue
        sl = _window(shape, cy, cx, length + m(CAR_HEIGHT_M) * shadow_per_height)
        footprint = rectangle(y[sl], x[sl], cy, cx, length / 2, width_ / 2, angle)
        if (car_cover[sl][footprint > -m(CAR_GAP_M)] > 0).any():
            continue
        cars.append(Car(float(cy), float(cx), float(length), float(width_), float(angle)))
        rise = m(CAR_HEIGHT_M)
        cast = rectangle(y[sl], x[sl], cy + rise * sun_dy, cx + rise * sun_dx, length / 2, width_ / 2, angle)
        shade[sl] = np.minimum(shade[sl], 1 - soft(cast)[..., None] * (1 - SHADOW))
        u = (x[sl] - cx) * np.cos(angle) + (y[sl] - cy) * np.sin(angle)  # + towards the front
        v = -(x[sl] - cx) * np.sin(angle) + (y[sl] - cy) * np.cos(angle)
        body = soft(footprint)
        colour = CAR_COLOURS[rng.integers(len(CAR_COLOURS))] * rng.uniform(0.9, 1.1)
        glass = (((u > 0.10 * length) & (u < 0.28 * length)) | ((u < -0.30 * length) & (u > -0.42 * length)))
        glass &= np.abs(v) < 0.40 * width_
        paint = np.where(glass[..., None], WINDOW, colour)
        roof_light = 1.0 + 0.15 * np.exp(-(u / (0.2 * length)) ** 2 - (v / (0.3 * width_)) ** 2)[..., None]
        _paint(image[sl], body, paint * roof_light)
        shade[sl] = np.maximum(shade[sl], body[..., None])
        car_cover[sl] = np.maximum(car_cover[sl], (footprint >= 0).astype(float))

    # Trees (after the cars are placed, never over them) with shadows.
    target, placed = int(rng.integers(2, 3 + int(height * width / m(TREE_SPACING_M) ** 2))), 0
    for _ in range(6 * target):  # random positions; most land on roads or lots and are skipped
        if placed == target:
            break
        ty, tx, r = rng.uniform(0, height), rng.uniform(0, width), m(rng.uniform(*TREE_CROWN_RADIUS_M))
        rise = m(rng.uniform(*TREE_HEIGHT_M))
        sl = _window(shape, ty, tx, r + rise * shadow_per_height + m(1.0))
        crown_shape = 1.0 + 0.12 * smooth_noise(rng, y[sl].shape, r / 3)
        crown = r * crown_shape - np.hypot(y[sl] - ty, x[sl] - tx)
        if occupied[sl][crown > -m(0.5)].any() or car_cover[sl][crown > -m(0.5)].any():
            continue
        cast = r * crown_shape - np.hypot(y[sl] - ty - rise * sun_dy, x[sl] - tx - rise * sun_dx)
        shade[sl] = np.minimum(shade[sl], 1 - soft(cast)[..., None] * (1 - SHADOW))
        leaves = TREE * (1.0 + 0.35 * fractal_noise(rng, crown.shape, m(0.3), 3))[..., None]
        _paint(image[sl], soft(crown), np.clip(leaves, 0.0, None))
        shade[sl] = np.maximum(shade[sl], soft(crown)[..., None] * 0.85)  # crowns may overlap
        placed += 1

    rgb = np.clip(image * shade, 0.0, None).astype(np.float64)
    s = SUPERSAMPLE
    mask = (car_cover.reshape(height, s, width, s).mean(axis=(1, 3)) >= 0.5).astype(np.uint8)
    return DroneScene(rgb, mask, cars)
