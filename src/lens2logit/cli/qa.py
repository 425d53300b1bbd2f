"""``lens2logit qa``: predict a trained model's accuracy / IoU on a new camera's unlabelled raw images.

The raw files of a folder are rendered through a static ISP view (``--view``; default the model's
own training view, i.e. a new sensor behind the same ISP), the model's confidences on them are
compared with those of its labelled validation fold stored in the checkpoint at training time
(``calibration``), and ATC and DoC (:mod:`lens2logit.qa.predict`) predict the metric with a 90 %
interval. No label of the new images is needed. Every input is checked before the model runs.
"""

from __future__ import annotations

from pathlib import Path

from lens2logit.errors import InputError

RAW_SUFFIXES = (".dng", ".tif", ".tiff")
QA_METHODS = ("atc", "doc")


def register(subparsers) -> None:
    from lens2logit.cli.isp import _add_isp_options

    p = subparsers.add_parser(
        "qa",
        help="predict a model's accuracy/IoU on a new camera's unlabelled raw images (ATC, DoC)",
        description="Render the raw files of a folder through an ISP view and predict the model's metric on "
        "them without labels (ATC and DoC, calibrated on the model's validation fold), with a 90 %% interval.",
    )
    p.add_argument("--model", type=Path, required=True, help="trained model checkpoint (.pt, results/models/...)")
    p.add_argument("--images", type=Path, required=True, help="folder of raw files (.dng, or 16-bit TIFF mosaics)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--view", default=None,
                        help="static ISP view slug/label to render with (default: the model's own training view)")
    source.add_argument("--dng", action="store_true",
                        help="DNG inputs, rendered through the model's own view with each file's camera metadata "
                        "(same as --camera dng)")  # fmt: skip
    _add_isp_options(p)  # --camera, --unsharp: as in `lens2logit render`
    p.add_argument("--level", type=float, default=0.9, help="interval coverage (default 0.9)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default 32)")
    p.add_argument("--output", type=Path, default=None, help="also write the predictions to this CSV")
    p.set_defaults(func=_qa_command)


def raw_files(folder: Path) -> list[Path]:
    """The raw files of ``folder`` (sorted); an InputError for a missing or empty folder."""
    if not folder.is_dir():
        raise InputError(f"--images {folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in RAW_SUFFIXES)
    if not files:
        raise InputError(f"--images {folder}: no raw images ({', '.join(RAW_SUFFIXES)}) in this folder")
    return files


def training_view(ckpt: dict) -> str:
    """The slug of the view a checkpoint was trained on (its views file's name, e.g. ``bi-s-me``)."""
    views_path = (ckpt.get("config") or {}).get("views_path")
    if not views_path:
        raise InputError("the model file does not name its training view; pass --view")
    return Path(views_path).stem


def check_calibration(ckpt: dict, model_path: Path) -> dict:
    """The checkpoint's validation-fold calibration (confidences and scores), or one clear error."""
    calibration = ckpt.get("calibration")
    if not calibration or not calibration.get("confidence"):
        raise InputError(f"--model {model_path}: stores no validation-fold calibration (trained before QA "
                         "records were kept, or without a validation fold); retrain it with this version")
    return calibration


def check_image_shape(shape: tuple, ckpt: dict, path: Path, model_path: Path) -> None:
    """One clear error when a rendered image ``(3, H, W)`` is not what the model was trained on."""
    expected = (ckpt.get("config") or {}).get("image_shape")
    if expected is not None and tuple(shape) != tuple(expected):
        raise InputError(f"{path}: renders to {tuple(shape)} (channels, height, width) but --model {model_path} was "
                         f"trained on {tuple(expected)}; crop or tile the images to the model's input size")


def render_folder(files: list[Path], view, camera: str | None, unsharp: str, ckpt: dict, model_path: Path):
    """Render every raw file through ``view`` → ``(N, 3, H, W)`` float32 tensor (each checked first)."""
    import torch

    from lens2logit.cli.isp import load_input
    from lens2logit.isp.pipeline import render_views

    loaded = [(path, *load_input(path, camera)) for path in files]  # read and check all before rendering
    images = []
    for path, mosaic, profile in loaded:
        image = render_views(torch.from_numpy(mosaic)[None], profile, [view], unsharp=unsharp)[view.label][0]
        check_image_shape(tuple(image.shape), ckpt, path, model_path)
        images.append(image.float())
    return torch.stack(images)


def _qa_command(args) -> int:
    import pandas as pd
    import torch

    from lens2logit.cli.isp import parse_views
    from lens2logit.io import write_csv
    from lens2logit.qa.predict import predict
    from lens2logit.training.records import model_confidences
    from lens2logit.training.checkpoint import load_model

    if args.batch_size < 1:
        raise InputError(f"--batch-size must be positive, got {args.batch_size}")
    model, ckpt = load_model(args.model)  # missing or unreadable model: InputError naming it
    calibration = check_calibration(ckpt, args.model)
    files = raw_files(args.images)
    view = parse_views(args.view or training_view(ckpt))[0]
    if args.dng and args.camera not in (None, "dng"):
        raise InputError(f"--dng takes the camera profile from the DNG metadata; drop --camera {args.camera}")
    camera = "dng" if args.dng else args.camera
    images = render_folder(files, view, camera, args.unsharp, ckpt, args.model)
    target = model_confidences(model, torch.split(images, args.batch_size), ckpt["kind"])
    source_conf, source_score = calibration["confidence"], calibration["score"]
    metric = calibration.get("metric", "accuracy")
    source_metric = sum(source_score) / len(source_score)
    rows = []
    for method in QA_METHODS:
        p = predict(method, source_conf, source_score, target, level=args.level, n_resamples=args.resamples, seed=args.seed)
        rows.append({"method": method, "metric": metric, "predicted": p["predicted"], "predicted_low": p["low"],
                     "predicted_high": p["high"], "validation": source_metric, "predicted_drop": source_metric - p["predicted"],
                     "n_images": len(files), "view": view.label})  # fmt: skip
    trained_on = (ckpt.get("config") or {}).get("views_path")
    print(f"model {args.model}: {metric} {source_metric:.3f} on its validation fold ({len(source_score)} images, "
          f"view {Path(trained_on).stem if trained_on else 'not recorded'})")
    print(f"{len(files)} images of {args.images} rendered through view {view.label}; predicted {metric} "
          f"({args.level:.0%} interval):")
    for r in rows:
        print(f"  {r['method'].upper():4s} {r['predicted']:.3f} [{r['predicted_low']:.3f}, {r['predicted_high']:.3f}]  "
              f"drop {r['predicted_drop']:+.3f}")
    if args.output is not None:
        write_csv(args.output, pd.DataFrame(rows))
    return 0
