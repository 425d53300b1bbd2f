"""Embedded, physically modelled raw datasets in the real on-disk layout.

``synthesize("microscopy" | "drone", root, seed=S, n=N, size=PX)`` draws scenes at the instruments'
true pixel scale (``microscopy.py``: 0.1625 µm per pixel; ``drone.py``: 6 cm per pixel), images them
with the camera models built from the instruments' numbers (``sensor.py``; derivations in
``docs/data.md``) at all seven light intensities and writes the exact layout of the real data
(reference-spec §3):

* microscopy: ``images/raw_scaleXXX/Ma190c_lame{slide}_zone{zone}_composite_Mcropped_{k}.tiff`` (16-bit
  RGGB, ``size × size``: a field of ``size · 0.1625`` µm centred on the leukocyte; 256 = the real
  crops) + ``labels/Ma190c_annotations.dat``; ``n`` = images per class (default 20, size 128), or
  ``class_counts`` per class.
* drone: ``images_full/raw_scaleXXX/{id:02d}.tif`` (12-bit left-justified RGGB) + ``masks_full/{id:02d}.png``;
  ``n`` = full images (default 4), each 6 × 8 tiles of ``size`` (default 128 → 768 × 1024 px,
  46 × 61 m), or ``frame = (height, width)`` pixels (the real camera's 3648 × 5472, which is no
  multiple of the tile: the tiler drops the remainder, as for the real frames). Objects keep their
  physical size at every ``size``.

``PRESETS["paper"]`` holds the paper's counts and sizes (940 microscopy images of 256 × 256 in the
published class counts; 12 drone frames of 3648 × 5472). One image (one frame) is drawn, exposed at
the seven intensities and written at a time, so memory is bounded by one image, never the dataset
(measured in ``docs/paper-scale.md``).

A smaller ``size`` is a smaller field of the same true-scale scene, never a rescaled one.
Everything is written into ``.partial-<root name>/`` next to ``root`` and renamed into place when complete,
with ``MANIFEST.sha256`` written last; a rerun with the same parameters on a complete root is a no-op,
an interrupted run leaves no ``root`` at all. Same seed → same bytes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from lens2logit.data.layout import (
    INTENSITIES,
    MANIFEST,
    MICROSCOPY_LAYOUT,
    PUBLISHED_DRONE_FRAME_SHAPE,
    PUBLISHED_DRONE_FRAMES,
    PUBLISHED_MICROSCOPY_COUNTS,
    PUBLISHED_TILE_SIZE,
    SYNTH_PARAMS,
    drone_image_path,
    drone_mask_path,
    microscopy_image_path,
)
from lens2logit.data.synth.plan import _DATASET_STREAM, microscopy_plan
from lens2logit.errors import InputError
from lens2logit.io import atomic_path, write_json, write_text
from lens2logit.schema import schema_default

SYNTH_DATASETS = ("microscopy", "drone")
# Option data.synthetic.{dataset}.{n,size} (the embedded default's sizes).
DEFAULT_N = {name: schema_default(f"data.synthetic.{name}.n") for name in SYNTH_DATASETS}
DEFAULT_SIZE = {name: schema_default(f"data.synthetic.{name}.size") for name in SYNTH_DATASETS}
# The paper's data sizes (reference-spec §3.4–3.5, layout.PUBLISHED_*): keyword arguments of synthesize.
PRESETS = {
    "paper": {
        "microscopy": {"class_counts": dict(PUBLISHED_MICROSCOPY_COUNTS), "size": PUBLISHED_TILE_SIZE},
        "drone": {"n": PUBLISHED_DRONE_FRAMES, "size": PUBLISHED_TILE_SIZE, "frame": PUBLISHED_DRONE_FRAME_SHAPE},
    },
}
FORMAT_VERSION = 3  # 2: cameras from the instruments, scenes at true pixel scale; 3: issue 17 physics details
_NOISE_STREAM = 1000


def _scene_rng(seed: int, dataset: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, _DATASET_STREAM[dataset], index])


def _noise_rng(seed: int, dataset: str, index: int, intensity_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, _DATASET_STREAM[dataset], index, _NOISE_STREAM + intensity_index])


def _write_tiff(path: Path, image: np.ndarray) -> None:
    import tifffile

    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, image, photometric="minisblack", metadata=None)


def _write_png(path: Path, mask: np.ndarray) -> None:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray((mask * 255).astype(np.uint8), mode="L").save(tmp, format="PNG")


def _progress(total: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="img", leave=False)


def _synthesize_microscopy(out: Path, seed: int, n: int, size: int, class_counts, progress: bool) -> None:
    from lens2logit.data.synth.microscopy import microscopy_scene
    from lens2logit.data.synth.sensor import MICROSCOPY_SENSOR, scene_to_signal

    plan = microscopy_plan(n, class_counts, seed)
    with _progress(len(plan), progress, "synth microscopy") as bar:
        for index, (stem, cls) in enumerate(plan):
            signal = scene_to_signal(microscopy_scene(_scene_rng(seed, "microscopy", index + 1), cls, size), MICROSCOPY_SENSOR)
            for k, intensity in enumerate(INTENSITIES):
                dn = expose_at(signal, intensity, MICROSCOPY_SENSOR, _noise_rng(seed, "microscopy", index + 1, k))
                _write_tiff(out / microscopy_image_path(stem, intensity), dn)
            bar.update()
    write_text(MICROSCOPY_LAYOUT.label_path(out), "".join(f"{stem} {cls}\n" for stem, cls in sorted(plan)))


def _synthesize_drone(out: Path, seed: int, n: int, size: int, frame, progress: bool) -> None:
    from lens2logit.data.synth.drone import drone_scene
    from lens2logit.data.synth.sensor import DRONE_SENSOR, scene_to_signal

    with _progress(n, progress, "synth drone") as bar:
        for index in range(n):
            scene = drone_scene(_scene_rng(seed, "drone", index), size, frame)
            signal = scene_to_signal(scene.rgb, DRONE_SENSOR)
            mask = scene.mask
            del scene  # the supersampled scene is the largest array: free it before exposing
            for k, intensity in enumerate(INTENSITIES):
                dn = expose_at(signal, intensity, DRONE_SENSOR, _noise_rng(seed, "drone", index, k))
                _write_tiff(out / drone_image_path(index, intensity), dn)
            _write_png(out / drone_mask_path(index), mask)
            bar.update()


def expose_at(signal, intensity, sensor, rng):
    from lens2logit.data.synth.sensor import expose

    return expose(signal, intensity, sensor, rng)


def check_synth_args(dataset: str, seed, n, size) -> tuple[int, int, int]:
    if dataset not in SYNTH_DATASETS:
        raise InputError(f"dataset: cannot synthesize {dataset!r}; expected one of {list(SYNTH_DATASETS)}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: must be a non-negative integer, got {seed!r}")
    n = DEFAULT_N[dataset] if n is None else n
    size = DEFAULT_SIZE[dataset] if size is None else size
    if not isinstance(n, (int, np.integer)) or n < 1 or (dataset == "drone" and n > 100):
        raise InputError(f"n: must be an integer in 1…{100 if dataset == 'drone' else '∞'}, got {n!r}")
    if not isinstance(size, (int, np.integer)) or size < 16 or size % 2:
        raise InputError(f"size: must be an even integer ≥ 16, got {size!r}")
    return int(seed), int(n), int(size)


def check_frame(dataset: str, frame) -> tuple[int, int] | None:
    """``frame`` → (height, width) of the drone frames, or None (``TILES_HIGH × TILES_WIDE`` tiles)."""
    if frame is None:
        return None
    if dataset != "drone":
        raise InputError("frame: only for drone")
    if (not isinstance(frame, (list, tuple)) or len(frame) != 2
            or not all(isinstance(k, (int, np.integer)) and k >= 16 and k % 2 == 0 for k in frame)):
        raise InputError(f"frame: must be [height, width], even integers ≥ 16, got {frame!r}")
    return int(frame[0]), int(frame[1])


def synthesize(
    dataset: str, root, *, seed: int, n: int | None = None, size: int | None = None,
    class_counts: dict[str, int] | None = None, frame: tuple[int, int] | None = None, progress: bool = False,
) -> Path:
    """Write the embedded ``dataset`` (``microscopy`` or ``drone``) to ``root``; return ``root``.

    Args:
        dataset: ``microscopy`` or ``drone``.
        root: the dataset's own root (e.g. ``data/synthetic/microscopy``).
        seed: same seed → same bytes.
        n: images per class (microscopy, default 20) or full images (drone, default 4, ≤ 100).
        size: image side (microscopy, default 128) or the tile size of the drone full images
            (default 128); objects are drawn at their true size in pixels whatever ``size`` is.
        class_counts: microscopy only: images per class (overrides ``n``; unbalanced sets on request).
        frame: drone only: (height, width) of the full frames in pixels, instead of 6 × 8 tiles of ``size``.
        progress: show a tqdm bar on stderr.

    Raises:
        InputError: bad arguments, or ``root`` holds data that this function did not write.
    """
    seed, n, size = check_synth_args(dataset, seed, n, size)
    if class_counts is not None and dataset != "microscopy":
        raise InputError("class_counts: only for microscopy")
    frame = check_frame(dataset, frame)
    root = Path(root)
    from lens2logit.data.synth.limits import (
        WRITTEN_KEY, check_foreign_files, check_replaceable, check_synth_limits, written_fingerprint,
    )

    check_synth_limits(dataset, n, size, class_counts, root, frame)
    params = {"dataset": dataset, "seed": seed, "n": n, "size": size, "version": FORMAT_VERSION,
              "class_counts": dict(sorted(class_counts.items())) if class_counts else None}
    if frame is not None:  # only when set: folders written without it stay complete
        params["frame"] = list(frame)
    params_path = root / SYNTH_PARAMS
    existing = None
    if root.exists():
        try:
            existing = json.loads(params_path.read_text()) if params_path.is_file() else None
        except (OSError, ValueError):
            raise InputError(f"{params_path}: unreadable; refusing to replace {root}") from None
        same = isinstance(existing, dict) and {k: v for k, v in existing.items() if k != WRITTEN_KEY} == params
        if same and (root / MANIFEST).is_file():
            return root  # complete and identical
        if existing is None and any(root.iterdir()):
            raise InputError(f"{root}: exists and is not a synthetic dataset ({SYNTH_PARAMS} missing); refusing to replace it")
    check_foreign_files(root)  # never delete a file synthesis did not write
    check_replaceable(root, dataset, existing)  # nor a dataset of another kind, or one changed since
    partial = root.parent / f".partial-{root.name}"
    shutil.rmtree(partial, ignore_errors=True)  # leftovers of a killed run: regenerate (deterministic)
    partial.mkdir(parents=True)
    if dataset == "microscopy":
        _synthesize_microscopy(partial, seed, n, size, class_counts, progress)
    else:
        _synthesize_drone(partial, seed, n, size, frame, progress)
    from lens2logit.data.manifest import HashCache, write_manifest

    hashes = HashCache(partial, cache_dir=None)  # in memory: every written file is hashed once
    write_json(partial / SYNTH_PARAMS, {**params, WRITTEN_KEY: written_fingerprint(partial, hashes)})
    write_manifest(partial, cache=hashes)  # last: the "complete" marker
    _swap_into_place(partial, root)
    return root


def _swap_into_place(partial: Path, root: Path) -> None:
    """Replace ``root`` by ``partial``; the old tree (if any) is moved aside first, then deleted."""
    old = root.parent / f".{root.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if root.exists():
        root.rename(old)
    partial.rename(root)
    shutil.rmtree(old, ignore_errors=True)
