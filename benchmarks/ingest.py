"""Cost of the lab-log ingest on a results folder the size of the embedded default run.

The default run's result tree (3 datasets × 12 views × 2 folds of drift models with their test
tables, the intensity-drift models, 9 groups × 3 λ × 2 folds of forensics attacks per dataset,
3 processings × 2 intensities × 2 folds of customization runs with their stage images and saved
ISPs) is rebuilt from the files of one small finished run (``--template``: a results folder of
any run of this workflow, e.g. the tiny test config's): every checkpoint, table and image is a
copy of a template file of the same kind, so the ingest does the same work per run as on the
real default results. Then the ingest runs twice into a fresh SQLite store: the first time logs
everything, the second finds nothing changed. Prints wall and CPU seconds of both.

    .venv/bin/python benchmarks/ingest.py --template /path/to/results [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

DATASETS = ("microscopy", "drone_segmentation", "drone_classification")
VIEWS = ("bi-s-me", "bi-s-ga", "bi-u-me", "bi-u-ga", "ma-s-me", "ma-s-ga", "ma-u-me", "ma-u-ga",
         "me-s-me", "me-s-ga", "me-u-me", "me-u-ga")  # fmt: skip
LABELS = {slug: slug.replace("-", ",") for slug in VIEWS}
INTENSITIES = ("001", "005", "010", "025", "050", "075", "100")
FOLDS = 2
INTENSITY_VIEW = "ma-s-ga"
GROUPS = ("black_level", "white_balance", "colour_correction", "gamma", "demosaic", "sharpening", "blur", "additive", "all")
LAMBDAS = (0.0, 10.0, 1000.0)
PROCESSINGS = ("static", "parametrized", "neural")
CUSTOM_INTENSITIES = ("001", "005")
EPOCHS = 8
METRICS = ("accuracy", "precision", "recall", "f1")


def first(template: Path, pattern: str) -> Path:
    found = sorted(template.glob(pattern))
    if not found:
        raise SystemExit(f"template {template} has no {pattern}")
    return found[0]


def build(template: Path, out: Path, rng: random.Random) -> None:
    ckpt = first(template, "models/*/*/*/*/fold*.pt")
    bench = first(template, "benchmarks/train_models/*/*/*/*.tsv")
    classifier = first(template, "customization/*/models/classifier_*.pt")
    isp = first(template, "customization/*/models/isp_*.pt")
    stage = first(template, "customization/*/stages/*.png")
    figure = first(template, "drift/*/matrix.png")

    def copy(src: Path, dst: Path) -> None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)

    for dataset in DATASETS:
        models = [(view, "100", k) for view in VIEWS for k in range(FOLDS)]
        models += [(INTENSITY_VIEW, i, 0) for i in INTENSITIES if i != "100"]
        for view, intensity, k in models:
            copy(ckpt, out / f"models/{dataset}/none/{intensity}/{view}/fold{k}.pt")
            copy(bench, out / f"benchmarks/train_models/{dataset}/none/{intensity}/{view}.tsv")
            tests = [(LABELS[v], "1.0") for v in VIEWS] if intensity == "100" else []
            if view == INTENSITY_VIEW and k == 0:
                tests += [(LABELS[view], str(int(i) / 100)) for i in INTENSITIES if i != "100" or intensity != "100"]
            rows = ["train_view,train_intensity,augmentation,fold,test_view,test_intensity,metric,value"]
            rows += [f'"{LABELS[view]}",{int(intensity) / 100},none,{k},"{tv}",{ti},{m},{rng.random():.6f}' for tv, ti in tests for m in METRICS]
            path = out / f"metrics/{dataset}/none/{intensity}/{view}/fold{k}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(rows) + "\n")
        for name in ("matrix.png", "difference.png"):
            copy(figure, out / f"drift/{dataset}/{name}")
        (out / f"drift/{dataset}/summary.json").write_text(json.dumps({"diagonal_mean": 0.8, "off_diagonal_mean": 0.4}))
        attacks = []
        for k in range(FOLDS):
            attacks.append({"parameter_group": "none", "lambda": None, "regularizer": "", "fold": k, "metrics": {"accuracy": rng.random()}})
            for lam in LAMBDAS:
                for group in GROUPS:
                    attacks.append({
                        "parameter_group": group, "lambda": lam, "regularizer": "mse", "fold": k, "model": "m.pt",
                        "metrics": {"accuracy": rng.random(), "f1": rng.random(), "mse_to_reference": rng.random()},
                        "history": [{"step": s + 1, "loss": rng.random(), "task_loss": rng.random(), "distance": rng.random()} for s in range(6)],
                        "values": {"gamma": 2.2}, "in_strip": k == 0 and lam == 10.0,
                    })  # fmt: skip
        (out / f"forensics/{dataset}").mkdir(parents=True, exist_ok=True)
        (out / f"forensics/{dataset}/attacks.json").write_text(json.dumps({"setup": {"steps": 6}, "attacks": attacks}))
        for name in ("figure.png", "strips.png"):
            copy(figure, out / f"forensics/{dataset}/{name}")
        rows = ["processing,intensity,epoch,fold,split,metric,value"]
        for processing in PROCESSINGS:
            for intensity in CUSTOM_INTENSITIES:
                for k in range(FOLDS):
                    copy(classifier, out / f"customization/{dataset}/models/classifier_{processing}_{intensity}_fold{k}.pt")
                    if processing != "static":
                        copy(isp, out / f"customization/{dataset}/models/isp_{processing}_{intensity}_fold{k}.pt")
                    rows += [f"{processing},{int(intensity) / 100},{e},{k},{split},{m},{rng.random():.6f}"
                             for e in range(1, EPOCHS // 2 + 1) for split in ("train", "val") for m in ("loss", *METRICS)]  # fmt: skip
                if processing != "static":
                    for e in range(1, EPOCHS // 2 + 1):
                        copy(stage, out / f"customization/{dataset}/stages/{processing}_{intensity}_epoch{e:03d}.png")
        (out / f"customization/{dataset}/curves.csv").write_text("\n".join(rows) + "\n")
        copy(figure, out / f"customization/{dataset}/figure.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, required=True, help="results folder of a finished (small) run")
    parser.add_argument("--keep", type=Path, default=None, help="build here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="lens2logit-ingest-bench-"))
    results = base / "results"
    shutil.rmtree(results, ignore_errors=True)
    build(args.template.resolve(), results, random.Random(0))
    import lens2logit.tracking.sync as ingest_module

    for label in ("first ingest (fresh store)", "second ingest (nothing changed)"):
        wall, cpu = time.perf_counter(), time.process_time()
        summary = ingest_module.ingest(results, tracking_uri=f"sqlite:///{results / 'mlflow' / 'mlflow.db'}")
        print(f"{label}: {time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU (this process); {summary}")
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
