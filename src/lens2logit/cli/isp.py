"""``lens2logit render`` and ``lens2logit views``: the static ISP on raw files.

Inputs are DNG files (rawpy; camera metadata used by default) or single-channel 16-bit TIFF
mosaics (divided by 65535; a camera profile must be named). Every input is read and checked
before anything is written, and every output file is written atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lens2logit.errors import InputError

CAMERA_CHOICES = ("microscopy", "drone", "dng")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "render",
        help="render static ISP views of raw files to float32 TIFFs",
        description="Render raw mosaics (DNG, or 16-bit single-channel TIFF) through the static ISP. "
        "Writes DIR/<input stem>/<view slug>.tiff, float32 (H, W, 3) in [0, 1].",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help=".dng, .tif or .tiff mosaic")
    _add_isp_options(p)
    p.add_argument(
        "--views",
        default="all",
        help="'all' or a comma-separated list of view slugs/labels (e.g. bi-s-me,me-u-ga); default all 12",
    )
    p.add_argument("--out-dir", type=Path, required=True, help="output folder (created)")
    p.set_defaults(func=_render_command)

    v = subparsers.add_parser(
        "views",
        help="picture of the 12 static views of one raw file",
        description="Render the 12 static views of one raw file into a labelled 3×4 grid (PNG).",
    )
    v.add_argument("input", type=Path, metavar="INPUT", help=".dng, .tif or .tiff mosaic")
    _add_isp_options(v)
    v.add_argument("-o", "--output", type=Path, required=True, help="output image (.png)")
    v.set_defaults(func=_views_command)


def _add_isp_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--camera",
        choices=CAMERA_CHOICES,
        default=None,
        help="camera profile; 'dng' takes black level, white balance, colour matrix and Bayer pattern "
        "from the DNG metadata (default for .dng; required for TIFF)",
    )
    p.add_argument(
        "--unsharp",
        choices=("paper", "2d"),
        default="paper",
        help="unsharp-mask blur: 'paper' = vertical-only as in the published data (default), '2d' = isotropic",
    )


def parse_views(spec: str) -> list:
    """``'all'`` or comma-separated slugs/labels → list of :class:`~lens2logit.isp.views.View`."""
    from lens2logit.isp.views import VIEW_SLUGS, VIEW_SPECS, get_view

    if spec.strip() == "all":
        return list(VIEW_SPECS)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise InputError("--views: empty list; use 'all' or slugs such as bi-s-me")
    views = []
    for name in names:
        try:
            views.append(get_view(name))
        except ValueError:
            raise InputError(f"--views: unknown view {name!r}; expected 'all' or slugs from {', '.join(VIEW_SLUGS)}") from None
    return list(dict.fromkeys(views))


def load_input(path: Path, camera: str | None):
    """Read one raw file and pick its camera profile. Returns ``(mosaic (H, W), CameraProfile)``."""
    from lens2logit.isp.camera import get_camera
    from lens2logit.isp.io import read_raw

    mosaic, dng_profile = read_raw(path)
    choice = camera or ("dng" if dng_profile is not None else None)
    if choice is None:
        raise InputError(f"{path}: a TIFF mosaic carries no camera metadata; choose --camera microscopy or --camera drone")
    if choice == "dng":
        if dng_profile is None:
            raise InputError(f"{path}: --camera dng needs a DNG input (this file has no camera metadata)")
        return mosaic, dng_profile
    return mosaic, get_camera(choice)


def _render_command(args) -> int:
    import tifffile
    import torch

    from lens2logit.io import atomic_path
    from lens2logit.isp.pipeline import render_views

    views = parse_views(args.views)
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise InputError(f"--out-dir {args.out_dir}: exists and is not a folder")
    stems: dict[str, Path] = {}
    for path in args.inputs:
        if path.stem in stems:
            raise InputError(f"{path}: same name as {stems[path.stem]}; outputs would collide in {args.out_dir / path.stem}")
        stems[path.stem] = path
    # Read and check every input before writing anything.
    loaded = [(path, *load_input(path, args.camera)) for path in args.inputs]
    for path, mosaic, camera in loaded:
        rendered = render_views(torch.from_numpy(mosaic)[None], camera, views, unsharp=args.unsharp)
        for view in views:
            image = rendered[view.label][0].permute(1, 2, 0).contiguous().numpy()
            target = args.out_dir / path.stem / f"{view.slug}.tiff"
            with atomic_path(target) as tmp:
                tifffile.imwrite(tmp, image.astype(np.float32, copy=False), photometric="rgb")
        print(f"{path}: {len(views)} views → {args.out_dir / path.stem}")
    return 0


def _views_command(args) -> int:
    import torch

    from lens2logit.isp.pipeline import render_views
    from lens2logit.reporting.isp import plot_views_grid

    if args.output.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise InputError(f"-o {args.output}: unsupported picture type {args.output.suffix!r}; use .png")
    mosaic, camera = load_input(args.input, args.camera)
    rendered = render_views(torch.from_numpy(mosaic)[None], camera, unsharp=args.unsharp)
    plot_views_grid({label: image[0] for label, image in rendered.items()}, args.output,
                    title=f"{args.input.name} — camera {camera.name}, unsharp {args.unsharp}")
    print(f"{args.input}: 12 views → {args.output}")
    return 0
