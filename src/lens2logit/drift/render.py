"""Render the workflow's ISP views: several views of one (dataset, intensity) in one pass.

:func:`render_views_files` reads a ``raw.npy`` once and writes one ``(N, 3, H, W)`` float32 (or,
with ``render.dtype: float16``, float16) array per view, rendering chunks of ``batch_size`` mosaics through
:func:`lens2logit.isp.render_views` (the views share their demosaicing). Each output is
written into a memory-mapped temporary file and renamed into place only when every view is
complete, so memory stays bounded at paper scale and a failed job leaves no output.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from lens2logit.data.export import camera_from_meta
from lens2logit.io import atomic_path
from lens2logit.training.batches import VIEW_DTYPES

log = logging.getLogger(__name__)


def render_views_files(raw_path, meta_path, views: Sequence[str], out_paths: Sequence, *, unsharp: str = "paper",
                       batch_size: int = 64, threads: int = 1, dtype: str = "float32") -> None:
    """Render every mosaic of ``raw_path`` through each of ``views`` into the matching ``out_paths``.

    Args:
        raw_path: ``(N, H, W)`` float32 mosaics (``prepare_dataset``'s ``raw.npy``).
        meta_path: its ``meta.json`` (camera profile).
        views: view labels or slugs, one per output path.
        out_paths: ``.npy`` files, each written as ``(N, 3, H, W)`` of ``dtype``.
        unsharp: unsharp-masking mode of the ``u`` views (see :func:`lens2logit.isp.render_views`).
        batch_size: mosaics rendered at once (bounds memory).
        threads: worker threads of the renderer (the result does not depend on it).
        dtype: option ``render.dtype``, a key of :data:`VIEW_DTYPES`: the views are rendered in float32
            and stored as ``dtype`` (float16 rounds to nearest, relative error ≤ 2⁻¹¹).

    Raises:
        ValueError: as many views as output paths are needed; bad view, mode or batch size.
    """
    import torch

    from lens2logit.isp.pipeline import render_views
    from lens2logit.isp.views import get_view

    views, out_paths = list(views), list(out_paths)
    if len(views) != len(out_paths) or not views:
        raise ValueError(f"render_views_files: {len(views)} views for {len(out_paths)} output files")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"render.batch_size: expected a positive integer, got {batch_size!r}")
    if dtype not in VIEW_DTYPES:
        raise ValueError(f"render.dtype: expected one of {', '.join(VIEW_DTYPES)}, got {dtype!r}")
    camera = camera_from_meta(json.loads(Path(meta_path).read_text()))
    raw = np.load(raw_path, mmap_mode="r")
    n, h, w = raw.shape
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_path(p, suffix=".npy")) for p in out_paths]
        outs = [np.lib.format.open_memmap(t, mode="w+", dtype=VIEW_DTYPES[dtype], shape=(n, 3, h, w)) for t in tmps]
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                chunk = torch.from_numpy(np.array(raw[start : start + batch_size], dtype=np.float32))  # a writable copy
                rendered = render_views(chunk, camera, views, unsharp=unsharp, threads=threads)
                for out, view in zip(outs, views):
                    out[start : start + len(chunk)] = rendered[get_view(view).label].numpy()
        for out in outs:
            out.flush()
        del outs
    log.info("rendered %d tiles through %d views: %s", n, len(views), ", ".join(views))


def render_view_sets(raw_paths: Sequence, meta_paths: Sequence, view_sets: Sequence[Sequence[str]],
                     out_paths: Sequence, *, unsharp: str = "paper", batch_size: int = 64, threads: int = 1,
                     dtype: str = "float32") -> None:
    """:func:`render_views_files` for several raw arrays in one call (one workflow job).

    ``out_paths`` lists the outputs of ``view_sets[0]`` first, then those of ``view_sets[1]``, …
    """
    raw_paths, meta_paths, view_sets, out_paths = list(raw_paths), list(meta_paths), list(view_sets), list(out_paths)
    if not (len(raw_paths) == len(meta_paths) == len(view_sets)):
        raise ValueError(f"render_view_sets: {len(raw_paths)} raw arrays, {len(meta_paths)} meta files and "
                         f"{len(view_sets)} view sets: one of each per raw array")
    if sum(len(v) for v in view_sets) != len(out_paths):
        raise ValueError(f"render_view_sets: {sum(len(v) for v in view_sets)} views for {len(out_paths)} output files")
    start = 0
    for raw_path, meta_path, views in zip(raw_paths, meta_paths, view_sets):
        render_views_files(raw_path, meta_path, views, out_paths[start : start + len(views)], unsharp=unsharp,
                           batch_size=batch_size, threads=threads, dtype=dtype)
        start += len(views)


def render_view_file(raw_path, meta_path, view: str, out_path, *, unsharp: str = "paper", batch_size: int = 64,
                     threads: int = 1, dtype: str = "float32") -> None:
    """One view of :func:`render_views_files`."""
    render_views_files(raw_path, meta_path, [view], [out_path], unsharp=unsharp, batch_size=batch_size, threads=threads,
                       dtype=dtype)
