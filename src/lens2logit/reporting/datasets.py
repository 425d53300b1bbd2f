"""Preview grids of the embedded datasets rendered through the static ISP (for docs and eyeballing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PREVIEW_VIEW = "ma,s,ga"
PREVIEW_DPI = 80
# (view, intensity, sample) per microscopy row: three ISP views of one cell, then lower light.
MICROSCOPY_ROWS = (("bi,s,me", 1.0, 0), ("ma,s,ga", 1.0, 0), ("me,u,ga", 1.0, 0), ("bi,s,me", 1.0, 1),
                   ("bi,s,me", 0.1, 1), ("bi,s,me", 0.01, 1))
DRONE_ZOOM_VIEWS = ("bi,s,me", "ma,s,ga", "me,u,ga")


def _render(raw: np.ndarray, camera, view: str = PREVIEW_VIEW) -> np.ndarray:
    import torch

    from lens2logit.isp.pipeline import render

    rgb = render(torch.from_numpy(np.ascontiguousarray(raw)), view, camera)
    return rgb.permute(0, 2, 3, 1).clamp(0, 1).numpy()


def microscopy_grid(root, out_png) -> Path:
    """Columns: classes; rows: one cell through three views, a second cell at intensities 1, 0.1, 0.01."""
    from lens2logit.reporting.figure import plt, save_figure

    from lens2logit.data import load_dataset

    sets = {i: load_dataset("microscopy", root, i) for i in sorted({row[1] for row in MICROSCOPY_ROWS})}
    ref = sets[1.0]
    fig, axes = plt.subplots(len(MICROSCOPY_ROWS), len(ref.classes), figsize=(1.6 * len(ref.classes), 1.7 * len(MICROSCOPY_ROWS)))
    for col, cls in enumerate(ref.classes):
        members = np.flatnonzero(ref.targets == col)
        for row, (view, intensity, k) in enumerate(MICROSCOPY_ROWS):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if k < len(members):
                ax.imshow(_render(sets[intensity].raw[members[k]][None], ref.camera, view)[0])
            if row == 0:
                ax.set_title(cls, fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{view}\nI={intensity:g}", fontsize=8)
    fig.suptitle("Synthetic Raw-Microscopy through the static ISP (MICROSCOPY profile)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, out_png, dpi=PREVIEW_DPI, tight=False)


def drone_grid(root, out_png, *, zoom: int = 256) -> Path:
    """Full image 00 at intensities 1 and 0.1 and its mask; a zoomed crop through three views."""
    from lens2logit.reporting.figure import plt, save_figure

    from lens2logit.data.drone import drone_sources
    from lens2logit.data.files import read_mask, read_tiff_mosaic, to_unit
    from lens2logit.isp.camera import DRONE

    sources = drone_sources(Path(root))
    mask = read_mask(sources.masks[0])
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, intensity in zip(axes[0], (1.0, 0.1)):
        raw = to_unit(read_tiff_mosaic(sources.images[intensity][0]))
        ax.imshow(_render(raw[None], DRONE)[0])
        ax.set_title(f"full image 00, {PREVIEW_VIEW}, intensity {intensity:g}", fontsize=10)
    axes[0, 2].imshow(mask, cmap="gray")
    axes[0, 2].set_title("car mask", fontsize=10)
    # Zoom on the densest car area (even offsets keep the Bayer phase).
    density = np.add.reduceat(np.add.reduceat(mask, np.arange(0, mask.shape[0], zoom // 2), 0), np.arange(0, mask.shape[1], zoom // 2), 1)
    by, bx = np.unravel_index(np.argmax(density), density.shape)
    y0 = min(by * zoom // 2, mask.shape[0] - zoom) // 2 * 2
    x0 = min(bx * zoom // 2, mask.shape[1] - zoom) // 2 * 2
    raw = to_unit(read_tiff_mosaic(sources.images[1.0][0]))[y0 : y0 + zoom, x0 : x0 + zoom]
    for ax, view in zip(axes[1], DRONE_ZOOM_VIEWS):
        ax.imshow(_render(raw[None], DRONE, view)[0], interpolation="nearest")
        ax.set_title(f"crop ({y0}, {x0}), view {view}, intensity 1", fontsize=10)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Synthetic Raw-Drone through the static ISP (DRONE profile)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, out_png, dpi=PREVIEW_DPI, tight=False)

