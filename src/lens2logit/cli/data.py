"""``lens2logit data download|synth|verify|info``: get, make, check and describe the raw datasets.

``--root`` is always the dataset's own root, the folder ``load_dataset`` reads
(e.g. ``data/synthetic/microscopy``).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from lens2logit.data.registry import dataset_names
from lens2logit.errors import InputError


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="raw datasets: download, synthesize, verify, describe")
    commands = data.add_subparsers(dest="data_command", required=True)

    p = commands.add_parser("download", help="download a real dataset (Zenodo or the original B2 bucket), verified")
    p.add_argument("dataset", choices=("microscopy", "drone"))
    p.add_argument("--source", choices=("zenodo", "b2"), default="zenodo")
    p.add_argument("--root", type=Path, required=True, help="the dataset's own root (created)")
    p.add_argument("--zenodo-url", default=None, help="Zenodo base URL (default $LENS2LOGIT_ZENODO_URL or https://zenodo.org)")
    p.add_argument("--zenodo-record", type=int, default=None, help="Zenodo record id (default 5235536)")
    p.add_argument("--b2-bucket", default=None, help="B2 bucket (default perturbed-minds); key from B2_APPLICATION_KEY_ID/B2_APPLICATION_KEY")
    p.set_defaults(func=_download)

    from lens2logit.data.synth import DEFAULT_N, DEFAULT_SIZE

    p = commands.add_parser("synth", help="write the embedded synthetic dataset in the real layout")
    p.add_argument("dataset", choices=("microscopy", "drone"))
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--n", type=int, default=None,
                   help=f"microscopy: images per class (default {DEFAULT_N['microscopy']}); "
                        f"drone: full images of 6×8 tiles (default {DEFAULT_N['drone']})")
    p.add_argument("--size", type=int, default=None,
                   help=f"microscopy: image side (default {DEFAULT_SIZE['microscopy']}; 256 = real); "
                        f"drone: tile size the full images are built around (default {DEFAULT_SIZE['drone']})")
    p.add_argument("--preset", choices=("paper",), default=None,
                   help="paper = the paper's counts and sizes: 940 microscopy images of 256×256 in the published class "
                        "counts; 12 drone frames of 3648×5472 (--n / --size are then refused)")
    p.set_defaults(func=_synth)

    p = commands.add_parser("verify", help="re-check the folder against MANIFEST.sha256: missing, changed and extra files")
    p.add_argument("dataset", choices=("microscopy", "drone", "custom"))
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--update", action="store_true",
                   help="accept the folder as it is now: rewrite MANIFEST.sha256 (after a deliberate change)")
    p.add_argument("--fast", action="store_true",
                   help="reuse hashes cached by (size, mtime, ctime, inode) instead of reading every file "
                        "(default: every file is hashed afresh)")
    p.set_defaults(func=_verify)

    p = commands.add_parser("info", help="counts per class and intensity")
    p.add_argument("dataset", choices=("drone", *dataset_names()))  # "drone": both drone datasets
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--tile-size", type=int, default=None, help="drone tile size (default 256)")
    p.set_defaults(func=_info)


def _progress_wanted() -> bool:
    return sys.stderr.isatty()


def _download(args) -> int:
    from lens2logit.data.download import B2_BUCKET, ZENODO_RECORD, download

    root = download(
        args.dataset, args.root, source=args.source, zenodo_base_url=args.zenodo_url,
        zenodo_record=args.zenodo_record or ZENODO_RECORD, b2_bucket=args.b2_bucket or B2_BUCKET,
        progress=_progress_wanted(),
    )
    print(f"{args.dataset}: complete in {root} (verified against the {args.source} checksums and {root / 'MANIFEST.sha256'})")
    return 0


def _synth(args) -> int:
    from lens2logit.data.synth import PRESETS, synthesize
    from lens2logit.data.synth.limits import check_loadable
    from lens2logit.errors import InputError

    if args.preset is not None:
        if args.n is not None or args.size is not None:
            raise InputError(f"--preset {args.preset}: sets the counts and sizes itself; drop --n / --size")
        sizes = PRESETS[args.preset][args.dataset]
    else:
        check_loadable(args.dataset, args.n)
        sizes = {"n": args.n, "size": args.size}
    root = synthesize(args.dataset, args.root, seed=args.seed, progress=_progress_wanted(), **sizes)
    print(f"{args.dataset}: synthesized in {root}")
    return 0


def _verify(args) -> int:
    from lens2logit.data.manifest import HASH_CACHE_DIR, HashCache, dataset_files, update_manifest, verify_files

    _check_root(args.root)
    if args.update:
        update_manifest(args.root, cache_dir=HASH_CACHE_DIR if args.fast else None)
        print(f"{args.root}: {len(dataset_files(args.root))} files; {args.root / 'MANIFEST.sha256'} rewritten")
        return 0
    check = verify_files(args.root, cache=HashCache(args.root) if args.fast else None)
    for problem in check.problems():
        print(f"{args.root}: {problem}", file=sys.stderr)
    if not check.ok:
        print(f"lens2logit: error: {args.root}: {check.summary()}", file=sys.stderr)
        return 1
    print(f"{args.root}: {check.checked} files OK")
    return 0


def _check_root(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: is a file; --root must be the dataset's folder")
    if not root.exists():
        raise InputError(f"{root}: dataset root not found")


def _info(args) -> int:
    for line in dataset_info(args.dataset, args.root, tile_size=args.tile_size):
        print(line)
    return 0


def dataset_info(dataset: str, root: Path, *, tile_size: int | None = None) -> list[str]:
    """Lines: one per dataset, with the intensities present (asked of the dataset's registry layout)
    and the count per class (from names and masks)."""
    from lens2logit.data.layout import DRONE_CLASSES, DRONE_TILE_SIZE, drone_is_pre_tiled
    from lens2logit.data.registry import dataset_layout

    root = Path(root)
    _check_root(root)
    if dataset == "microscopy":
        from lens2logit.data.microscopy import microscopy_selection

        ids, classes, labels, dropped = microscopy_selection(root)
        counts = Counter(labels[s] for s in ids)
        intensities = dataset_layout("microscopy").intensities(root)
        summary = _line("microscopy", len(ids), intensities, {c: counts[c] for c in classes})
        return [summary] + [f"warning: {line}" for line in dropped]
    if dataset.startswith("drone"):
        from lens2logit.data.drone import drone_sources, tile_selection

        size = tile_size or DRONE_TILE_SIZE
        if drone_is_pre_tiled(root):
            return _tiled_drone_info(dataset, root, size)
        sources = drone_sources(root)
        selection = tile_selection(sources, root, size, root / f"tiles_{size}")
        intensities = dataset_layout("drone_segmentation").intensities(root, size)
        labels = Counter(int(v) for v in selection["labels"])
        lines = [f"drone: {len(sources.stems)} full images, tile size {size}"]
        if dataset in ("drone", "drone_segmentation"):
            lines.append(_line("drone_segmentation", len(selection["segmentation"]), intensities, {"tiles with cars": len(selection["segmentation"])}))
        if dataset in ("drone", "drone_classification"):
            lines.append(_line("drone_classification", len(selection["classification"]), intensities,
                               {name: labels[k] for k, name in enumerate(DRONE_CLASSES)}))
        return lines
    from lens2logit.data import load_dataset

    intensities = dataset_layout("custom").intensities(root)
    loaded = load_dataset("custom", root, intensities[-1])
    if loaded.kind == "classification":
        counts = Counter(int(t) for t in loaded.targets)
        per_class = {c: counts[k] for k, c in enumerate(loaded.classes)}
    else:
        per_class = {"with foreground": int((loaded.targets.reshape(len(loaded.ids), -1).max(axis=1) > 0).sum())}
    return [_line(f"custom ({loaded.kind}, {loaded.camera.pattern.value})", len(loaded.ids), intensities, per_class)]


def _tiled_drone_info(dataset: str, root: Path, size: int) -> list[str]:
    """Counts of the pre-tiled drone layout, from the reference-intensity tiles."""
    from lens2logit.data import load_dataset
    from lens2logit.data.registry import dataset_layout

    lines = [f"drone: pre-tiled layout, tile size {size}"]
    for name in ("drone_segmentation", "drone_classification"):
        if dataset in ("drone", name):
            layout = dataset_layout(name)
            intensities = layout.intensities(root, size)
            if not intensities:
                raise InputError(f"{layout.image_folder(root, 1.0, size).parent}: no {name} tiles of the pre-tiled layout")
            loaded = load_dataset(name, root, intensities[-1], tile_size=size)
            if name == "drone_segmentation":
                per_class = {"tiles with cars": len(loaded.ids)}
            else:
                per_class = {c: int((loaded.targets == k).sum()) for k, c in enumerate(loaded.classes)}
            lines.append(_line(name, len(loaded.ids), intensities, per_class))
    return lines


def _line(name: str, total: int, intensities, per_class: dict) -> str:
    levels = ", ".join(f"{i:g}" for i in intensities)
    classes = ", ".join(f"{k}: {v}" for k, v in per_class.items())
    return f"{name}: {total} samples at each of {len(intensities)} intensities [{levels}]; {classes}"
