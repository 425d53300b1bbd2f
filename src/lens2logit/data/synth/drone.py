"""Scene model of Raw-Drone: nadir aerial views of roads, parking lots, roofs, trees and cars.

Linear RGB reflectance under sunlight with cast shadows. Cars are small oriented boxes (≈9–14 px
long at the default 64-px tiles) with windows and shadows, on road lanes and in parking stalls; their
exact footprints give the masks (a pixel is "car" when at least half of it is covered).
Lengths are written for 64-px tiles (``px``) and scale with the tile size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lens2logit.data.synth.sensor import SUPERSAMPLE
from lens2logit.data.synth.shapes import fractal_noise, grid, rectangle, smooth_noise, soft

REFERENCE_TILE = 64
TILES_HIGH, TILES_WIDE = 6, 8  # full image = 6 × 8 tiles

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
])
WINDOW = np.array([0.025, 0.03, 0.04])
SHADOW = np.array([0.30, 0.34, 0.48])  # shadowed fraction of light: sky fill is bluish
CAR_GAP = 1.5  # output pixels kept free between cars, so their masks never merge


@dataclass(frozen=True)
class Car:
    cy: float
    cx: float
    length: float
    width: float
    angle: float  # direction of the car's front, radians


@dataclass
class DroneScene:
    rgb: np.ndarray       # (2H, 2W, 3) linear, supersampled
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


def _road_lines(rng, height, width, px):
    """Roads as (point, angle, half width): 1–2 roughly horizontal and 1–2 roughly vertical."""
    roads = []
    for base, extent, count in ((0.0, height, rng.integers(1, 3)), (np.pi / 2, width, rng.integers(1, 3))):
        for k in range(count):
            position = extent * (k + rng.uniform(0.3, 0.7)) / count
            angle = base + rng.normal(0, 0.12)
            point = (position, width / 2) if base == 0.0 else (height / 2, position)
            roads.append((point, angle, rng.uniform(7.0, 9.0) * px))
    return roads


def _distance_to_line(y, x, point, angle):
    return np.abs(-(x - point[1]) * np.sin(angle) + (y - point[0]) * np.cos(angle))


def drone_scene(rng: np.random.Generator, tile: int) -> DroneScene:
    """One full aerial image of ``TILES_HIGH × TILES_WIDE`` tiles of side ``tile``."""
    px = tile / REFERENCE_TILE
    texture = px**0.5  # surface texture stays fine at large tile sizes (objects scale with px)
    height, width = TILES_HIGH * tile, TILES_WIDE * tile
    y, x = grid(height, width)
    shape = y.shape
    # Ground: patches of grass, dry grass and soil with fine texture.
    landuse = fractal_noise(rng, shape, 40 * px, 3)
    dryness = np.clip(0.5 + 0.6 * landuse, 0, 1)[..., None]
    soil = np.clip(fractal_noise(rng, shape, 25 * px, 3) - 1.0, 0, 1)[..., None]
    image = (1 - dryness) * GRASS + dryness * DRY_GRASS
    image = (1 - soil) * image + soil * SOIL
    image *= (1.0 + 0.18 * fractal_noise(rng, shape, 1.5 * texture, 3))[..., None]
    shade = np.ones((*shape, 3))
    sun = rng.uniform(0, 2 * np.pi)
    sun_dy, sun_dx = np.sin(sun), np.cos(sun)
    occupied = np.zeros(shape, bool)  # where trees and buildings may not go

    # Roads with lane markings.
    roads = _road_lines(rng, height, width, px)
    for point, angle, half in roads:
        d = _distance_to_line(y, x, point, angle)
        _paint(image, soft(half - d), ASPHALT * (1.0 + 0.08 * smooth_noise(rng, shape, 0.8 * texture))[..., None])
        along = (x - point[1]) * np.cos(angle) + (y - point[0]) * np.sin(angle)
        dashes = (np.mod(along, 12 * px) < 6 * px).astype(float)
        _paint(image, soft(0.5 * px - d) * dashes, PAINT)
        _paint(image, soft(0.5 * px - np.abs(d - (half - 1.2 * px))), PAINT)
        occupied |= d < half + 2 * px

    # Parking lots beside the roads, with stall lines.
    cars: list[Car] = []
    stall_cars = []
    for _ in range(rng.integers(1, 4)):
        point, angle, half = roads[rng.integers(len(roads))]
        t = rng.uniform(-0.35, 0.35) * max(height, width)
        side = rng.choice([-1.0, 1.0])
        depth, length = rng.uniform(26, 34) * px, rng.uniform(50, 90) * px
        normal = np.array([np.cos(angle), -np.sin(angle)])  # (dy, dx) across the road
        cy = point[0] + t * np.sin(angle) + side * normal[0] * (half + 2 * px + depth / 2)
        cx = point[1] + t * np.cos(angle) + side * normal[1] * (half + 2 * px + depth / 2)
        lot = rectangle(y, x, cy, cx, length / 2, depth / 2, angle)
        _paint(image, soft(lot), LOT_ASPHALT * (1.0 + 0.06 * smooth_noise(rng, shape, 0.8 * texture))[..., None])
        pitch = 8.0 * px
        u = (x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)
        v = -(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)
        stall_lines = (np.abs(np.mod(u, pitch) - pitch / 2) > pitch / 2 - 0.5 * px) & (np.abs(v) > 1.5 * px)
        _paint(image, soft(lot) * stall_lines * (np.abs(v) < depth / 2 - 1.5 * px), PAINT)
        occupied |= lot > -2 * px
        for row in (-1, 1):
            for k in range(int(length // pitch)):
                su = -length / 2 + (k + 1.0) * pitch
                sv = row * depth / 4
                stall_cars.append((cy + su * np.sin(angle) + sv * np.cos(angle),
                                   cx + su * np.cos(angle) - sv * np.sin(angle), angle + np.pi / 2 * row))

    # Buildings with gable roofs and cast shadows.
    for _ in range(rng.integers(10, 20)):
        for _attempt in range(20):
            by, bx = rng.uniform(0, height), rng.uniform(0, width)
            hl, hw = rng.uniform(8, 20) * px, rng.uniform(6, 12) * px
            angle = roads[rng.integers(len(roads))][1] + rng.choice([0.0, np.pi / 2])
            sl = _window(shape, by, bx, hl + hw + 12 * px)
            body = rectangle(y[sl], x[sl], by, bx, hl, hw, angle)
            if not occupied[sl][body > -3 * px].any():
                break
        else:
            continue
        rise = rng.uniform(4, 9) * px
        cast = rectangle(y[sl], x[sl], by + rise * sun_dy, bx + rise * sun_dx, hl, hw, angle)
        shade[sl] = np.minimum(shade[sl], 1 - soft(cast)[..., None] * (1 - SHADOW))
        v = -(x[sl] - bx) * np.sin(angle) + (y[sl] - by) * np.cos(angle)
        roof = ROOFS[rng.integers(len(ROOFS))] * (1.0 + 0.06 * smooth_noise(rng, body.shape, 0.7 * texture))[..., None]
        facing = np.where(v > 0, 1.0, 0.68)[..., None]  # the two roof planes face the sun differently
        _paint(image[sl], soft(body), roof * facing)
        shade[sl] = np.maximum(shade[sl], soft(body)[..., None])  # a roof is never in its own shadow
        occupied[sl] |= body > -3 * px

    # Cars: along lanes and in some stalls; no two closer than 1 px.
    car_cover = np.zeros(shape)
    candidates = []
    for point, angle, half in roads:
        span = np.hypot(height, width)
        t = -span / 2
        while t < span / 2:
            t += rng.exponential(38 * px) + 16 * px
            lane = rng.choice([-1.0, 1.0])
            off = lane * half / 2
            candidates.append((point[0] + t * np.sin(angle) + off * np.cos(angle),
                               point[1] + t * np.cos(angle) - off * np.sin(angle),
                               angle + (np.pi if lane < 0 else 0.0) + rng.normal(0, 0.03)))
    fill = rng.uniform(0.3, 0.8)
    candidates += [c for c in stall_cars if rng.random() < fill]
    for cy, cx, angle in candidates:
        length = rng.uniform(9.0, 14.0) * px
        width_ = length * rng.uniform(0.42, 0.48)
        if not (length / 2 < cy < height - length / 2 and length / 2 < cx < width - length / 2):
            continue
        sl = _window(shape, cy, cx, length)
        footprint = rectangle(y[sl], x[sl], cy, cx, length / 2, width_ / 2, angle)
        if (car_cover[sl][footprint > -CAR_GAP] > 0).any():
            continue
        car = Car(float(cy), float(cx), float(length), float(width_), float(angle))
        cars.append(car)
        cast = rectangle(y[sl], x[sl], cy + 1.5 * px * sun_dy, cx + 1.5 * px * sun_dx, length / 2, width_ / 2, angle)
        shade[sl] = np.minimum(shade[sl], 1 - soft(cast)[..., None] * (1 - SHADOW))
        u = (x[sl] - cx) * np.cos(angle) + (y[sl] - cy) * np.sin(angle)  # + towards the front
        body = (footprint >= 0).astype(float)
        colour = CAR_COLOURS[rng.integers(len(CAR_COLOURS))] * rng.uniform(0.9, 1.1)
        windscreen = ((u > 0.12 * length) & (u < 0.3 * length)) | ((u < -0.3 * length) & (u > -0.42 * length))
        paint = np.where(windscreen[..., None], WINDOW, colour)
        roof_light = 1.0 + 0.15 * np.exp(-(u / (0.2 * length)) ** 2)[..., None]
        _paint(image[sl], body, paint * roof_light)
        shade[sl] = np.maximum(shade[sl], body[..., None])
        car_cover[sl] = np.maximum(car_cover[sl], body)

    # Trees (after the cars are placed, never over them) with shadows.
    for _ in range(rng.integers(25, 70)):
        ty, tx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(3, 7) * px
        sl = _window(shape, ty, tx, r + 10 * px)
        crown = r - np.hypot(y[sl] - ty, x[sl] - tx)
        if occupied[sl][crown > -1 * px].any() or car_cover[sl][crown > -1 * px].any():
            continue
        rise = rng.uniform(3, 6) * px
        cast = r - np.hypot(y[sl] - ty - rise * sun_dy, x[sl] - tx - rise * sun_dx)
        shade[sl] = np.minimum(shade[sl], 1 - soft(cast)[..., None] * (1 - SHADOW))
        leaves = TREE * (1.0 + 0.35 * smooth_noise(rng, crown.shape, 0.6 * texture))[..., None]
        _paint(image[sl], soft(crown), leaves)
        shade[sl] = np.maximum(shade[sl], soft(crown)[..., None] * 0.85)
        occupied[sl] |= crown > 0

    rgb = np.clip(image * shade, 0.0, None)
    s = SUPERSAMPLE
    mask = (car_cover.reshape(height, s, width, s).mean(axis=(1, 3)) >= 0.5).astype(np.uint8)
    return DroneScene(rgb, mask, cars)
