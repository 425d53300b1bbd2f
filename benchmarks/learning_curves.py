"""Learning curves of candidate training recipes on the rendered views of a default run.

For each recipe, view and fold it trains one task model with the library's
:func:`lens2logit.training.train.train_on_view` (what a ``train_models`` job does) and prints the
validation metric after every epoch (accuracy for classification, mean per-image IoU ``iou_image``
for segmentation), then a summary per recipe: the last-epoch metric per view (mean ± std over the
folds: the drift matrix's diagonal cell), the spread between views, the mean fold std, and the
CPU seconds per model (``time.process_time`` of this single-threaded process).

A recipe is ``name=key:value,...`` with keys ``folds`` (k of the k-fold split), ``use`` (first folds
trained), ``epochs``, ``batch``, ``lr``, ``schedule`` (constant | cosine) and ``aug`` (none | weak |
strong); the named presets below are the ones compared in docs/training.md. The splits are made
with :func:`lens2logit.training.splits.make_folds` and the run's seed, as ``make_splits`` does.

Usage (after ``snakemake --cores 2 --until render_views render_views_unsharp`` wrote results/views):
    python benchmarks/learning_curves.py --dataset microscopy --views ma,u,me bi,u,me me,u,ga bi,s,ga \\
        --recipes baseline weak_cosine folds5_e12 folds5_e20_b8 --csv results/learning_curves/microscopy.csv
    python benchmarks/learning_curves.py --dataset drone_segmentation --views bi,u,me bi,s,ga \\
        --recipes seg_baseline seg_weak_cosine
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from lens2logit.data.layout import intensity_slug
from lens2logit.training.splits import make_folds, save_folds
from lens2logit.training.train import train_on_view
from lens2logit.isp.views import get_view

REPO = Path(__file__).resolve().parents[1]
KEYS = {"folds": int, "use": int, "epochs": int, "batch": int, "lr": float, "schedule": str, "aug": str}
PRESETS = {
    # the default study before docs/training.md: 48 Adam steps per microscopy model
    "baseline": "folds:2,use:2,epochs:8,batch:16,lr:2e-3,schedule:constant,aug:none",
    "weak_cosine": "folds:2,use:2,epochs:8,batch:16,lr:2e-3,schedule:cosine,aug:weak",
    "folds5_e12": "folds:5,use:2,epochs:12,batch:16,lr:2e-3,schedule:cosine,aug:weak",
    "folds5_e20_b8": "folds:5,use:2,epochs:20,batch:8,lr:1e-3,schedule:cosine,aug:weak",
    "seg_baseline": "folds:2,use:2,epochs:8,batch:8,lr:2e-3,schedule:constant,aug:none",
    "seg_weak_cosine": "folds:2,use:2,epochs:8,batch:8,lr:2e-3,schedule:cosine,aug:weak",
    "seg_folds5_e12": "folds:5,use:2,epochs:12,batch:8,lr:2e-3,schedule:cosine,aug:weak",
}


def parse_recipe(text: str) -> tuple[str, dict]:
    """``name`` (a preset) or ``name=key:value,...`` → ``(name, {key: value})``."""
    name, _, spec = text.partition("=")
    spec = spec or PRESETS[name]
    recipe = {}
    for item in spec.split(","):
        key, _, value = item.partition(":")
        recipe[key] = KEYS[key](value)
    missing = set(KEYS) - set(recipe)
    if missing:
        raise SystemExit(f"recipe {name!r} misses {sorted(missing)}")
    return name, recipe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results", help="results folder of a run (views, data)")
    parser.add_argument("--config", default=str(REPO / "config.yaml"), help="seed, arch and training.<kind> options")
    parser.add_argument("--dataset", default="microscopy")
    parser.add_argument("--views", nargs="+", default=["ma,u,me", "bi,u,me", "me,u,ga", "bi,s,ga"])
    parser.add_argument("--recipes", nargs="+", default=["baseline", "weak_cosine"])
    parser.add_argument("--csv", default=None, help="write every epoch's rows here")
    args = parser.parse_args(argv)

    config = yaml.safe_load(Path(args.config).read_text())
    seed = int(config["seed"])
    root = Path(args.results)
    ref = intensity_slug(1.0)
    targets_path = root / "data" / args.dataset / ref / "targets.npy"
    meta = json.loads((root / "data" / args.dataset / ref / "meta.json").read_text())
    kind = "segmentation" if args.dataset.endswith("segmentation") else "classification"
    arch = config["training"][kind]["arch"]
    metric = "accuracy" if kind == "classification" else "iou_image"
    targets = np.load(targets_path, mmap_mode="r")

    summary = []
    writer = None
    if args.csv:  # rows are written after every model, so an interrupted run keeps what it measured
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        out = open(args.csv, "w", newline="")
        writer = csv.DictWriter(out, fieldnames=["recipe", "view", "fold", "epoch", metric, "cpu_s"])
        writer.writeheader()
    with tempfile.TemporaryDirectory() as tmp:
        for name, recipe in map(parse_recipe, args.recipes):
            folds_path = Path(tmp) / f"{name}.json"
            save_folds(folds_path, make_folds(targets, recipe["folds"], seed, kind), k=recipe["folds"], seed=seed, kind=kind)
            finals, cpu = {}, []
            for label in args.views:
                views_path = root / "views" / args.dataset / ref / f"{get_view(label).slug}.npy"
                for fold in range(recipe["use"]):
                    start = time.process_time()
                    ckpt = train_on_view(
                        views_path, targets_path, folds_path, fold, kind=kind, arch=arch,
                        epochs=recipe["epochs"], batch_size=recipe["batch"], lr=recipe["lr"],
                        schedule=recipe["schedule"], augmentation=recipe["aug"], seed=seed,
                        classes=meta.get("classes"), device="cpu", threads=1, progress=False,
                    )  # fmt: skip
                    cpu.append(time.process_time() - start)
                    curve = [r[metric] for r in ckpt["history"] if r["split"] == "val"]
                    finals.setdefault(label, []).append(curve[-1])
                    if writer is not None:
                        for epoch, value in enumerate(curve, 1):
                            writer.writerow({"recipe": name, "view": label, "fold": fold, "epoch": epoch, metric: value,
                                             "cpu_s": round(cpu[-1], 2)})  # fmt: skip
                        out.flush()
                    print(f"{name:16s} {label:8s} fold {fold}: {metric} per epoch "
                          + " ".join(f"{v:.2f}" for v in curve) + f"  ({cpu[-1]:.1f} CPU-s)", flush=True)  # fmt: skip
            means = {v: float(np.mean(x)) for v, x in finals.items()}
            stds = {v: float(np.std(x, ddof=1)) if len(x) > 1 else float("nan") for v, x in finals.items()}
            summary.append((name, recipe, means, stds, float(np.mean(cpu))))

    print(f"\nlast-epoch validation {metric} (mean ± fold std), {args.dataset}, seed {seed}")
    for name, recipe, means, stds, cpu in summary:
        cells = "  ".join(f"{v} {means[v]:.3f}±{stds[v]:.3f}" for v in means)
        spread = max(means.values()) - min(means.values())
        print(f"{name:16s} {cells}  | min {min(means.values()):.3f} spread {spread:.3f} "
              f"mean fold std {np.nanmean(list(stds.values())):.3f} | {cpu:.1f} CPU-s/model  [{recipe}]")  # fmt: skip
    if writer is not None:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
