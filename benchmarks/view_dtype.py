"""float16 view storage (option ``render.dtype``): what it changes in a finished run's results.

Every drift model at the reference intensity of the run folder RUN (``results/models/…/100/…``) is scored on
its own view's validation images twice: the view file as rendered (float32) and the same file rounded to
float16, which is what ``render.dtype: float16`` stores (batches read it back as float32). Prints, per
dataset, the rounding error, each metric's largest and mean |float16 − float32| over the models, and how
many validation predictions changed (classification). docs/paper-scale.md quotes it.

Usage:
    python benchmarks/view_dtype.py RUN                 # RUN: a folder holding results/, e.g. after `make run`
    python benchmarks/view_dtype.py RUN --datasets microscopy
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from lens2logit import paths
from lens2logit.training.evaluate import evaluate_model

REFERENCE = "100"  # the reference intensity's folder (light 1.0)


def half_copy(view_file: Path, folder: Path) -> tuple[Path, float, float]:
    """``view_file`` rounded to float16 in ``folder``; returns it and the max / mean absolute rounding error."""
    views = np.load(view_file, mmap_mode="r")
    half = np.asarray(views, dtype=np.float16)
    error = np.abs(half.astype(np.float32) - views)
    target = folder / view_file.name
    np.save(target, half)
    return target, float(error.max()), float(error.mean())


def compare(run: Path, datasets: list[str] | None) -> None:
    models = sorted(run.glob(paths.model_path("*", "*", REFERENCE, "*", "*")))
    by_dataset = defaultdict(list)
    for model in models:
        keys = paths.model_keys(model.relative_to(run))
        if keys and (datasets is None or keys["dataset"] in datasets):
            by_dataset[keys["dataset"]].append((model, keys))
    if not by_dataset:
        raise SystemExit(f"no drift models under {run / 'results/models'}")
    for dataset, entries in by_dataset.items():
        deltas, changed, seen, errors = defaultdict(list), 0, 0, []
        with tempfile.TemporaryDirectory() as tmp:
            halves = {}
            for model, keys in entries:
                view_file = run / paths.view_path(dataset, REFERENCE, keys["view"])
                if view_file not in halves:
                    half, max_error, mean_error = half_copy(view_file, Path(tmp))
                    halves[view_file] = half
                    errors.append((max_error, mean_error))
                targets = run / paths.data_file(dataset, REFERENCE, "targets.npy")
                scored = {
                    name: evaluate_model(model, [{"views": path, "targets": targets}], with_samples=True)
                    for name, path in (("float32", view_file), ("float16", halves[view_file]))
                }
                full, half = (scored[n][0].set_index("metric")["value"] for n in ("float32", "float16"))
                for metric in full.index:
                    deltas[metric].append(abs(half[metric] - full[metric]))
                samples = {n: scored[n][1] for n in scored}
                if "prediction" in samples["float32"]:
                    changed += int((samples["float32"]["prediction"] != samples["float16"]["prediction"]).sum())
                    seen += len(samples["float32"])
        print(f"{dataset}: {len(entries)} models on their own views ({len(halves)} views); rounding error "
              f"max {max(e[0] for e in errors):.1e}, mean {np.mean([e[1] for e in errors]):.1e}")
        for metric, values in deltas.items():
            print(f"  {metric:<12} |float16 - float32| max {max(values):.2e}, mean {np.mean(values):.2e}")
        if seen:
            print(f"  predictions changed: {changed} of {seen} validation images")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a folder holding results/ (e.g. the repository after `make run`)")
    parser.add_argument("--datasets", nargs="+", default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    compare(args.run.resolve(), args.datasets)


if __name__ == "__main__":
    main()
