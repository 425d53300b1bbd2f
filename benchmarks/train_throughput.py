"""Training throughput of the paper's models: our pipeline vs a bare PyTorch loop, per device.

For each device present (CPU, every visible CUDA GPU, MPS), each paper model — ResNet-18
classification and U-Net++ (ResNet-34 encoder) segmentation, both at 256 × 256 — and each batch
size, one training epoch is timed twice on identical models:

* **ours**: :func:`lens2logit.training.fit` over :class:`lens2logit.training.ArrayBatches` reading a
  memory-mapped ``.npy`` (shuffled, pinned host memory on CUDA, non-blocking copies, metrics
  accumulated on the device) — what a ``train_model`` job does, without validation;
* **bare**: a plain loop over the same batches already in host memory as tensors
  (``x.to(device)``, forward, the same loss, backward, ``torch.optim.Adam`` step).

It prints images/s of both and ``ours / bare`` (target ≥ 0.9: the input pipeline must cost
< 10 %), per wall-clock second (what matters on a GPU) and per CPU second of this process
(steadier than wall time on a CPU shared with other work). Each measurement is preceded by a warm-up epoch (kernel selection, allocator, the first
``torch.optim`` construction); the best of ``--rounds`` is kept, rounds alternating ours and bare.

Usage:
    python benchmarks/train_throughput.py                    # CPU-sized: 16 images, batches 4 and 8
    python benchmarks/train_throughput.py --preset gpu       # a GPU machine: 512 images, batches 4 and 32, 3 rounds
    python benchmarks/train_throughput.py --samples 64 --batch-sizes 4 16 --devices cpu
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lens2logit.io import save_npy
from lens2logit.models import build_model, standardized
from lens2logit.training import ArrayBatches, fit, resolve_device, task_loss
from lens2logit.training.device import pin_memory

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SIZE = 256
MODELS = {  # paper models (reference-spec §4): name -> (arch, kind, n_classes)
    "resnet18-cls": ("resnet18", "classification", 9),
    "unet++r34-seg": ("unetplusplus:resnet34", "segmentation", 1),
}
PRESETS = {
    "cpu": {"samples": 16, "batch_sizes": [4, 8], "rounds": 1},
    "gpu": {"samples": 512, "batch_sizes": [4, 32], "rounds": 3},
}


def present_devices() -> list[str]:
    devices = ["cpu"]
    devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    backend = getattr(torch.backends, "mps", None)
    devices += ["mps"] if backend is not None and backend.is_available() else []
    return devices


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _data(folder: Path, kind: str, n: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    save_npy(folder / "view.npy", rng.random((n, 3, SIZE, SIZE), dtype=np.float32))
    targets = rng.integers(0, n_classes, n) if kind == "classification" else (rng.random((n, SIZE, SIZE)) > 0.8)
    save_npy(folder / "targets.npy", targets.astype(np.int64 if kind == "classification" else np.uint8))
    return np.load(folder / "view.npy", mmap_mode="r"), np.load(folder / "targets.npy", mmap_mode="r")


def ours(template, views, targets, batch_size: int, kind: str, device: torch.device) -> float:
    model = copy.deepcopy(template)
    batches = ArrayBatches(views, targets, np.arange(len(views)), batch_size,
                           generator=torch.Generator().manual_seed(0), pin_memory=pin_memory(device))  # fmt: skip
    start, cpu = time.perf_counter(), time.process_time()
    fit(model, batches, None, kind=kind, epochs=1, lr=1e-3, seed=0, progress=False, device=device)
    _sync(device)  # fit already waited for the metrics; be explicit
    return len(views) / (time.perf_counter() - start), len(views) / (time.process_time() - cpu)


def bare(template, batches, kind: str, device: torch.device) -> float:
    model = copy.deepcopy(template).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = task_loss(model(x), y, kind)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    _sync(device)
    n = sum(len(y) for _, y in batches)
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu)


def measure(name: str, device_name: str, samples: int, batch_sizes: list[int], rounds: int, folder: Path) -> list[str]:
    arch, kind, n_classes = MODELS[name]
    device = resolve_device(device_name)
    views, targets = _data(folder, kind, samples, n_classes)
    torch.manual_seed(0)
    template = standardized(build_model(arch, kind, n_classes), [0.5] * 3, [0.29] * 3)
    lines = []
    for batch_size in batch_sizes:
        in_memory = list(ArrayBatches(np.asarray(views), np.asarray(targets), np.arange(samples), batch_size,
                                      pin_memory=pin_memory(device)))  # fmt: skip
        ours(template, views[: 2 * batch_size], targets[: 2 * batch_size], batch_size, kind, device)  # warm-up
        bare(template, in_memory[:2], kind, device)
        best = {"ours": (0.0, 0.0), "bare": (0.0, 0.0)}
        for _ in range(rounds):
            for loop, rates in (("ours", ours(template, views, targets, batch_size, kind, device)),
                                ("bare", bare(template, in_memory, kind, device))):  # fmt: skip
                best[loop] = tuple(max(a, b) for a, b in zip(best[loop], rates))
        (ours_wall, ours_cpu), (bare_wall, bare_cpu) = best["ours"], best["bare"]
        ratio = ours_wall / bare_wall
        lines.append(f"{device_name:8s} {name:14s} {batch_size:5d} {ours_wall:10.2f} {bare_wall:10.2f} {ratio:7.3f}"
                     f" {ours_cpu:10.2f} {bare_cpu:10.2f} {ours_cpu / bare_cpu:7.3f}"
                     f"  {'ok' if ratio >= 0.9 else 'SLOW'}")  # fmt: skip
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--samples", type=int, help="images per epoch (preset: cpu 16, gpu 512)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="(preset: cpu 4 8, gpu 4 32)")
    parser.add_argument("--rounds", type=int, help="timed epochs per measurement, best kept (preset: cpu 1, gpu 3)")
    parser.add_argument("--devices", nargs="+", help="default: every device present")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads")
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    samples = args.samples or preset["samples"]
    batch_sizes = args.batch_sizes or preset["batch_sizes"]
    rounds = args.rounds or preset["rounds"]
    devices = args.devices or present_devices()
    if args.preset == "gpu" and not args.devices:
        devices = [d for d in devices if d != "cpu"] or sys.exit("--preset gpu: no GPU present")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} CPU thread(s), {samples} images of 3×{SIZE}×{SIZE} per epoch,"
          f" best of {rounds}; devices: {', '.join(devices)}")  # fmt: skip
    for d in devices:
        if d.startswith("cuda"):
            print(f"  {d}: {torch.cuda.get_device_name(torch.device(d))}")
    print(f"{'device':8s} {'model':14s} {'batch':>5s} {'ours im/s':>10s} {'bare im/s':>10s} {'ratio':>7s}"
          f" {'ours /CPUs':>10s} {'bare /CPUs':>10s} {'ratio':>7s}   (images per wall s, then per CPU s)")  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="l2l_throughput_"))
    try:
        for device in devices:
            for name in args.models:
                measure(name, device, samples, batch_sizes, rounds, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
