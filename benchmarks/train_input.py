"""Training throughput: memory-mapped views on disk vs the same batches already in memory.

Runs :func:`lens2logit.training.fit` (one epoch, no validation) twice per round on
identical models — once reading ``ArrayBatches`` from a memory-mapped ``.npy`` written to a
temporary folder (its page cache dropped before each such run, so the data come from disk), once iterating a list of tensors prepared beforehand — and prints samples/s of
both and their ratio (target ≥ 0.9: the input pipeline must not be the bottleneck). Rounds
alternate the two to share the machine's load fairly; the best round of each is reported.

Usage:
    python benchmarks/train_input.py                 # 256 × 3×64×64, small_cnn, 1 thread
    python benchmarks/train_input.py --large         # also 3×256×256 with resnet18, a few steps
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lens2logit.training import ArrayBatches, fit
from lens2logit.io import save_npy
from lens2logit.models import build_model, standardized

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _drop_page_cache(path: Path) -> None:
    """Ask the kernel to forget the file's cached pages, so the mmap run reads from disk (cold)."""
    if hasattr(os, "posix_fadvise"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _measure(arch: str, n: int, size: int, batch_size: int, rounds: int, folder: Path) -> None:
    rng = np.random.default_rng(0)
    views = rng.random((n, 3, size, size), dtype=np.float32)
    labels = rng.integers(0, 4, n).astype(np.int64)
    save_npy(folder / "view.npy", views)
    save_npy(folder / "targets.npy", labels)
    del views
    mapped = np.load(folder / "view.npy", mmap_mode="r")
    targets = np.load(folder / "targets.npy", mmap_mode="r")
    indices = np.arange(n)
    # in-memory baseline: the very batches ArrayBatches yields, materialised once
    in_memory = list(ArrayBatches(np.asarray(mapped), np.asarray(targets), indices, batch_size))
    torch.manual_seed(0)
    template = standardized(build_model(arch, "classification", 4), [0.5] * 3, [0.29] * 3)

    def run(batches) -> tuple[float, float]:
        model = copy.deepcopy(template)
        wall, cpu = time.perf_counter(), time.process_time()
        fit(model, batches, None, kind="classification", epochs=1, lr=1e-3, seed=0, progress=False)
        return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)

    run(in_memory[:2])  # warm-up (allocator, oneDNN kernels)
    best = {"mmap": (0.0, 0.0), "memory": (0.0, 0.0)}
    for _ in range(rounds):
        for name in ("mmap", "memory"):
            if name == "mmap":
                _drop_page_cache(folder / "view.npy")
            batches = (
                ArrayBatches(mapped, targets, indices, batch_size, generator=torch.Generator().manual_seed(0))
                if name == "mmap"
                else in_memory
            )
            wall_rate, cpu_rate = run(batches)
            best[name] = (max(best[name][0], wall_rate), max(best[name][1], cpu_rate))
    (mw, mc), (rw, rc) = best["mmap"], best["memory"]
    print(f"{arch} {n}×3×{size}×{size} batch {batch_size}, {torch.get_num_threads()} thread(s), best of {rounds}:")
    print(f"  memory-mapped .npy : {mw:8.1f} samples/s wall  ({mc:8.1f} per CPU-s)")
    print(f"  tensors in memory  : {rw:8.1f} samples/s wall  ({rc:8.1f} per CPU-s)")
    print(f"  ratio mmap/memory  : {mw / rw:8.3f} wall  ({mc / rc:.3f} CPU)   target >= 0.9")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="also 3×256×256 with resnet18 (slow)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="l2l_bench_"))
    try:
        _measure("small_cnn", 256, 64, 16, args.rounds, folder)
        if args.large:
            _measure("resnet18", 32, 256, 8, 2, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
