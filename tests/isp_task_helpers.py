"""Tiny real datasets on disk for the forensics and customization tests.

Writes the workflow's arrays (``raw.npy``, ``targets.npy``, ``meta.json``, a rendered
``bi-s-ga.npy`` view, a folds JSON) for a small two-class classification or a segmentation dataset
built from textured scenes mosaicked through a real camera profile, and trains real task models
on the rendered view with the training library.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from lens2logit.training.splits import make_folds, save_folds
from lens2logit.training.train import train_on_view
from lens2logit.training import save_checkpoint
from lens2logit.io import save_npy, write_json
from lens2logit.isp.camera import DRONE
from lens2logit.isp.cfa import mosaic
from lens2logit.isp import render


def make_scenes(kind: str, n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mosaics ``(n, size, size)`` on the DRONE raw scale and their targets.

    Classification: class 0 = horizontal stripes, class 1 = vertical stripes (fine texture
    that demosaicing, sharpening and blur act on), random tint. Segmentation: a bright
    random rectangle on a textured background; the mask is the rectangle.
    """
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    rgb = torch.empty(n, 3, size, size)
    if kind == "classification":
        targets = (torch.arange(n) % 2).numpy().astype(np.int64)
        for i in range(n):
            period = 3 + int(torch.randint(0, 3, (1,), generator=g))
            coord = yy if targets[i] == 0 else xx
            stripes = 0.5 + 0.4 * torch.sin(2 * np.pi * coord / period + float(torch.rand(1, generator=g)) * 6.28)
            tint = 0.5 + 0.5 * torch.rand(3, 1, 1, generator=g)
            rgb[i] = tint * stripes
    else:
        targets = np.zeros((n, size, size), dtype=np.uint8)
        for i in range(n):
            background = 0.2 + 0.1 * torch.rand(3, size, size, generator=g)
            y0, x0 = (int(v) for v in torch.randint(0, size // 2, (2,), generator=g))
            h, w = (int(v) for v in torch.randint(size // 4, size // 2, (2,), generator=g))
            background[:, y0 : y0 + h, x0 : x0 + w] = 0.8
            targets[i, y0 : y0 + h, x0 : x0 + w] = 1
            rgb[i] = background
    # Undo a rough camera gain so the rendered view stays mostly inside [0, 1].
    raw = mosaic(rgb * 0.25, DRONE.pattern) + DRONE.black_level[0]
    noise = 0.002 * torch.randn(raw.shape, generator=g)
    return (raw + noise).clamp(0, 1).numpy().astype(np.float32), targets


def write_dataset(root: Path, kind: str, *, n: int = 48, size: int = 32, seed: int = 0, intensity_slug: str = "100", scale: float = 1.0) -> dict[str, Path]:
    """Write one dataset's arrays under ``root`` in the workflow layout; return their paths."""
    raw, targets = make_scenes(kind, n, size, seed)
    raw = (raw - DRONE.black_level[0]) * scale + DRONE.black_level[0]
    data = root / "data" / intensity_slug
    paths = {
        "raw": data / "raw.npy",
        "targets": data / "targets.npy",
        "meta": data / "meta.json",
        "view": root / "views" / intensity_slug / "bi-s-ga.npy",
        "folds": root / "splits.json",
    }
    save_npy(paths["raw"], raw)
    save_npy(paths["targets"], targets)
    classes = ["horizontal", "vertical"] if kind == "classification" else ["car"]
    write_json(paths["meta"], {"name": f"toy_{kind}", "kind": kind, "camera": "drone", "classes": classes, "ids": [str(i) for i in range(n)]})
    save_npy(paths["view"], render(torch.from_numpy(raw), "bi,s,ga", DRONE).numpy())
    if not paths["folds"].exists():
        save_folds(paths["folds"], make_folds(targets, 2, seed=seed, kind=kind), k=2, seed=seed, kind=kind)
    return paths


def train_models(paths: dict[str, Path], kind: str, out: Path, *, epochs: int = 4, folds: int = 2) -> list[Path]:
    """Train one real task model per fold on the rendered view; return the checkpoint paths."""
    arch = "small_cnn" if kind == "classification" else "small_unet"
    classes = json.loads(paths["meta"].read_text())["classes"]
    models = []
    for fold in range(folds):
        ckpt = train_on_view(
            paths["view"], paths["targets"], paths["folds"], fold, kind=kind, device="cpu", arch=arch, epochs=epochs,
            batch_size=8, lr=3e-3, augmentation="none", seed=fold, classes=classes, progress=False, bce_weight=1.0,
        )  # fmt: skip
        path = out / "bi-s-ga" / f"fold{fold}.pt"
        save_checkpoint(path, ckpt)
        models.append(path)
    return models
