"""Speed of the static ISP: all 12 views of a batch of 256×256 tiles, library vs reference.

The reference is the original code's structure (colour-demosaicing + SciPy + scikit-image,
float64, one tile at a time, each view from scratch), imported from ``tests/isp_reference.py``.
Both run in this process on the same tiles (real photographs, linearised and mosaicked), so the
ratio is meaningful on a busy machine. Prints tiles/s, the ratio and peak memory.

    .venv/bin/python benchmarks/isp.py [--tiles 64] [--ref-tiles 4] [--threads N] [--camera drone]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import isp_reference as ref  # noqa: E402

from lens2logit import isp  # noqa: E402
from lens2logit.isp import pipeline as render_module  # noqa: E402


def make_tiles(n: int, size: int, camera) -> np.ndarray:
    """``n`` mosaics ``(size, size)`` cut from the photographs, shifted to the camera's black level."""
    offset = float(np.mean(camera.black_level))
    tiles = []
    for i in range(n):
        name = ref.PHOTOS[i % len(ref.PHOTOS)]
        m = ref.photo_mosaic(name, size + 16, camera.pattern.value, offset=offset, gain=0.6)
        dy, dx = 2 * (i // len(ref.PHOTOS) % 8), 2 * (i // len(ref.PHOTOS) // 8 % 8)
        tiles.append(m[dy : dy + size, dx : dx + size])
    return np.stack(tiles).astype(np.float32)


def best_of(fn, repeats: int) -> tuple[float, float]:
    """Best wall-clock time and the CPU time (all threads) of that run."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=64, help="batch size for the library")
    parser.add_argument("--ref-tiles", type=int, default=4, help="tiles for the (slow) reference")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="library worker threads (default: torch's)")
    parser.add_argument("--camera", default="drone", choices=sorted(isp.CAMERAS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk-pixels", type=int, default=None, help="override isp.pipeline.CHUNK_PIXELS")
    parser.add_argument(
        "--literal",
        action="store_true",
        help="also time the literal torch path (isp.render_steps: each view from scratch, full YUV round trips)",
    )
    args = parser.parse_args(argv)

    camera = isp.get_camera(args.camera)
    tiles = make_tiles(args.tiles, args.size, camera)
    if args.chunk_pixels:
        render_module.CHUNK_PIXELS = args.chunk_pixels
    batch = torch.from_numpy(tiles)

    ref_tiles = tiles[: args.ref_tiles].astype(np.float64)
    ref_time, ref_cpu = best_of(lambda: [ref.reference_views(t, isp.VIEW_SPECS, camera) for t in ref_tiles], 1)
    ref_rate = len(ref_tiles) / ref_time

    isp.render_views(batch[: min(8, len(batch))], camera, threads=args.threads)  # warm-up
    lib_time, lib_cpu = best_of(lambda: isp.render_views(batch, camera, threads=args.threads), args.repeats)
    lib_rate = len(batch) / lib_time

    if args.literal:
        small = batch[: min(8, len(batch))]

        def literal():
            for view in isp.VIEW_SPECS:
                isp.render_steps(small, view, camera)

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # same footing as render_views' single-threaded workers
        literal()  # warm-up
        lit_time, _ = best_of(literal, 1)
        torch.set_num_threads(threads)
        shared_time, _ = best_of(lambda: isp.render_views(small, camera, threads=1), 1)
        print(f"literal torch path (per view, YUV round trips, 1 batch): {len(small) / lit_time:8.2f} tiles/s; "
              f"render_views threads=1 on the same tiles: {len(small) / shared_time:8.2f} tiles/s")

    # Peak Python-heap allocations of one reference tile, and the process's peak RSS (library batch included).
    tracemalloc.start()
    ref.reference_views(ref_tiles[0], isp.VIEW_SPECS, camera)
    ref_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out_bytes = 12 * len(batch) * 3 * args.size * args.size * 4
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    print(f"static ISP, 12 views, {args.size}×{args.size} tiles, camera {camera.name}, torch threads {torch.get_num_threads()}")
    print(f"reference (colour-demosaicing + scipy, float64, 1 tile at a time): {ref_rate:8.2f} tiles/s ({len(ref_tiles)} tiles)")
    print(f"library   (lens2logit.isp.render_views, batch {len(batch)}):          {lib_rate:8.2f} tiles/s")
    print(f"ratio library / reference: {lib_rate / ref_rate:.1f}x (wall clock)")
    # On a shared machine the wall clock includes waiting for the CPU; CPU time does not.
    ref_per_cpu, lib_per_cpu = len(ref_tiles) / ref_cpu, len(batch) / lib_cpu
    print(f"per CPU-second: reference {ref_per_cpu:.2f} tiles, library {lib_per_cpu:.2f} tiles "
          f"(ratio {lib_per_cpu / ref_per_cpu:.1f}x); library got {lib_cpu / lib_time:.2f} CPUs on average; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"memory: reference peak heap per tile {ref_peak / 2**20:.1f} MiB; library outputs {out_bytes / 2**20:.1f} MiB; "
          f"process peak RSS {peak_rss / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
