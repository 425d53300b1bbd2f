"""Figures of the ISPs: forensics curves and strips, customization curves, stage grids, the static views grid.

All functions take plain tensors/tables, write one PNG atomically and return nothing.
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.ticker
import numpy as np
import pandas as pd
import torch

from lens2logit.io import atomic_path
from lens2logit.reporting.figure import plt, save_figure

DPI = 110


def _to_display(image: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` → ``(H, W, 3)`` in [0, 1] for imshow (single channels become grey)."""
    image = image.detach().float()
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return image.clamp(0, 1).permute(1, 2, 0).numpy()


def _normalise(image: torch.Tensor) -> torch.Tensor:
    """Min–max scale one image to [0, 1] (for stages outside [0, 1] and gradients)."""
    lo, hi = image.min(), image.max()
    return (image - lo) / (hi - lo) if hi > lo else torch.zeros_like(image)


def _group_style(group: str, extensions) -> dict:
    """Line keywords of a parameter group: ``all`` thick, our extensions dotted and labelled "(our ext.)"."""
    extension = group in extensions
    return {"label": f"{group} (our ext.)" if extension else group, "lw": 2 if group == "all" else 1, "ls": ":" if extension else "-"}


def _clean_band(ax, clean: pd.DataFrame) -> None:
    if len(clean):
        m, s = float(clean["mean"].iloc[0]), float(np.nan_to_num(clean["std"].iloc[0]))
        ax.axhline(m, color="k", ls="--", lw=1, label="clean")
        ax.axhspan(m - s, m + s, color="k", alpha=0.08)


def _lambda_tick(lam: float, lam_paper: float) -> str:
    """Tick label: λ in the paper's units over ours."""
    return f"{lam_paper:.2g}\n({lam:g})" if np.isfinite(lam_paper) else f"{lam:g}"


def plot_forensics(table: pd.DataFrame, path, *, metric: str, title: str, extensions=()) -> None:
    """Metric vs λ per parameter group, one panel per regularizer (paper fig. 2).

    Args:
        table: forensics table (``parameter_group, lambda, lambda_paper, regularizer, metric, mean,
            std, n``); group ``none`` is the clean reference and is drawn as a horizontal band. λ is
            labelled in the paper's units (ours in brackets).
        extensions: groups that are not the paper's, labelled "(our ext.)".
    """
    sub = table[table["metric"] == metric]
    clean = sub[sub["parameter_group"] == "none"]
    attacks = sub[sub["parameter_group"] != "none"]
    regularizers = list(dict.fromkeys(attacks["regularizer"])) or [""]
    fig, axes = plt.subplots(1, len(regularizers), figsize=(5.2 * len(regularizers), 3.8), squeeze=False, sharey=True)
    for ax, reg in zip(axes[0], regularizers):
        part = attacks[attacks["regularizer"] == reg]
        ticks = part.drop_duplicates("lambda").sort_values("lambda")
        lambdas = list(ticks["lambda"])
        positions = {lam: i for i, lam in enumerate(lambdas)}  # categorical: λ = 0 has no log position
        for group, rows in part.groupby("parameter_group", sort=False):
            rows = rows.sort_values("lambda")
            x = [positions[v] for v in rows["lambda"]]
            ax.errorbar(x, rows["mean"], yerr=rows["std"].fillna(0), marker="o", ms=3, capsize=2, **_group_style(group, extensions))
        _clean_band(ax, clean)
        paper = ticks["lambda_paper"] if "lambda_paper" in ticks else pd.Series([np.nan] * len(ticks))
        ax.set_xticks(range(len(lambdas)), [_lambda_tick(v, p) for v, p in zip(lambdas, paper)], fontsize=7)
        ax.set_xlabel(f"λ ({reg}), paper's units (ours)")
        ax.set_ylabel(f"validation {metric}")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path, dpi=DPI)


# Distances to the reference output in the forensics table, and how they are drawn (x = f(mean)).
DISTANCE_AXES = (("mse_to_reference", "MSE to the reference output", lambda v: v),
                 ("ssim_to_reference", "1 − SSIM to the reference output", lambda v: 1.0 - v))  # fmt: skip
DISTANCE_FLOOR = 1e-7  # smallest distance drawn on the log axis (λ = ∞ would be 0)


def plot_forensics_distance(table: pd.DataFrame, path, *, metric: str, title: str, extensions=()) -> None:
    """Metric vs the achieved distance of the output to the reference, per group (one point per λ).

    One column per distance (MSE, 1 − SSIM; log axes), one row per regularizer: groups compared at
    equal visible change instead of equal λ. Means over folds; the clean model is the dashed band.
    """
    clean = table[(table["metric"] == metric) & (table["parameter_group"] == "none")]
    attacks = table[table["parameter_group"] != "none"]
    regularizers = list(dict.fromkeys(attacks["regularizer"])) or [""]
    fig, axes = plt.subplots(len(regularizers), len(DISTANCE_AXES), figsize=(4.6 * len(DISTANCE_AXES) + 1.4, 3.4 * len(regularizers)),
                             squeeze=False, sharey=True)  # fmt: skip
    keys = ["parameter_group", "lambda"]
    for r, reg in enumerate(regularizers):
        part = attacks[attacks["regularizer"] == reg]
        y = part[part["metric"] == metric].set_index(keys)["mean"]
        for c, (name, label, transform) in enumerate(DISTANCE_AXES):
            ax = axes[r][c]
            x = part[part["metric"] == name].set_index(keys)["mean"].map(transform).clip(lower=DISTANCE_FLOOR)
            both = pd.concat({"x": x, "y": y}, axis=1).dropna().reset_index()
            for group, rows in both.groupby("parameter_group", sort=False):
                rows = rows.sort_values("x")
                ax.plot(rows["x"], rows["y"], marker="o", ms=3, **_group_style(group, extensions))
            _clean_band(ax, clean)
            ax.set_xscale("log")
            ax.set_xlabel(f"{label} ({reg})", fontsize=8)
            ax.set_ylabel(f"validation {metric}")
            ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title + ": metric at equal visible change", fontsize=9)
    save_figure(fig, path, dpi=DPI)


def plot_strips(images: Mapping[str, torch.Tensor], path, *, title: str) -> None:
    """One row per ISP (``reference`` first, then each attacked group), one column per sample.

    Args:
        images: ``{row name: (N, 3, H, W)}`` with the same N for every row.
    """
    names = list(images)
    n = max(int(images[k].shape[0]) for k in names)
    fig, axes = plt.subplots(len(names), n, figsize=(1.3 * n + 1.2, 1.3 * len(names) + 0.4), squeeze=False, layout="constrained")
    for r, name in enumerate(names):
        for c in range(n):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < images[name].shape[0]:
                ax.imshow(_to_display(images[name][c]), interpolation="nearest")
            if c == 0:
                ax.set_ylabel(name, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path, dpi=DPI)


def plot_stage_grid(taps: Mapping[str, Mapping[str, torch.Tensor]], path, *, title: str, scale: int = 2) -> None:
    """ISP stages (rows) × samples (columns); with gradients, a |gradient| row under each stage.

    Tiles outside [0, 1] (e.g. before the clip) and gradient magnitudes are min–max scaled per
    tile. Drawn with PIL rather than matplotlib: it is saved after every epoch and must be cheap.

    Args:
        taps: output of :func:`lens2logit.isp.parametrized.tap_stages`:
            ``{stage: {"image": (N, C, H, W), "gradient"?: (N, C, H, W)}}``.
        scale: integer upscaling of each pixel (nearest neighbour).
    """
    from PIL import Image, ImageDraw

    rows: list[tuple[str, torch.Tensor]] = []
    for stage, tap in taps.items():
        rows.append((stage, tap["image"]))
        if "gradient" in tap:
            rows.append((f"|grad| {stage}", tap["gradient"].abs()))
    n = max(int(t.shape[0]) for _, t in rows)
    h, w = (int(v) * scale for v in rows[0][1].shape[-2:])
    gap, label_width, title_height = 4, 7 * max(len(name) for name, _ in rows) + 12, 16
    canvas = Image.new("RGB", (label_width + n * (w + gap), title_height + len(rows) * (h + gap)), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), title, fill="black")
    for r, (name, batch) in enumerate(rows):
        top = title_height + r * (h + gap)
        draw.text((4, top + h // 2 - 5), name, fill="black")
        for c in range(min(n, batch.shape[0])):
            image = batch[c].detach().float()
            in_range = bool(image.min() >= 0 and image.max() <= 1) and not name.startswith("|grad|")
            tile = (_to_display(image if in_range else _normalise(image)) * 255).round().astype(np.uint8)
            tile = tile.repeat(scale, axis=0).repeat(scale, axis=1)
            canvas.paste(Image.fromarray(tile), (label_width + c * (w + gap), top))
    with atomic_path(path, suffix=".png") as tmp:
        canvas.save(tmp, format="PNG", compress_level=1)  # fast: written every epoch


def plot_customization(curves: pd.DataFrame, path, *, metric: str, title: str) -> None:
    """Validation metric per epoch, mean ± std over folds, one panel per intensity (paper fig. 3)."""
    val = curves[(curves["split"] == "val") & (curves["metric"] == metric)]
    intensities = sorted(val["intensity"].unique())
    fig, axes = plt.subplots(1, max(len(intensities), 1), figsize=(4.2 * max(len(intensities), 1), 3.4), squeeze=False, sharey=True)
    for ax, intensity in zip(axes[0], intensities):
        part = val[val["intensity"] == intensity]
        for processing, rows in part.groupby("processing", sort=False):
            stats = rows.groupby("epoch")["value"].agg(["mean", "std"]).reset_index()
            std = stats["std"].fillna(0)
            (line,) = ax.plot(stats["epoch"], stats["mean"], marker="o", ms=3, label=processing)
            ax.fill_between(stats["epoch"], stats["mean"] - std, stats["mean"] + std, color=line.get_color(), alpha=0.2)
        anchor = "full light, the original's" if intensity == 1.0 else "our extension"
        ax.set_title(f"intensity {intensity:g} ({anchor})", fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_ylabel(f"validation {metric}")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path, dpi=DPI)


VIEWS_GRID_DPI = 100
VIEWS_GRID_CELL = 3.0  # inches per view


def plot_views_grid(images: Mapping[str, torch.Tensor], path, *, title: str) -> None:
    """The twelve static ISP views of one mosaic, one row per demosaicer (paper order), in one picture.

    Args:
        images: view label → ``(3, H, W)`` image in [0, 1], one per :data:`lens2logit.isp.VIEW_SPECS`.
        path: the picture to write (its extension picks the format: .png, .pdf, .svg, .jpg).
        title: the figure's title.
    """
    from lens2logit.isp.views import VIEW_SPECS

    h, w = next(iter(images.values())).shape[-2:]
    fig, axes = plt.subplots(3, 4, figsize=(4 * VIEWS_GRID_CELL, 3 * VIEWS_GRID_CELL * h / w + 0.6), squeeze=False)
    for ax, spec in zip(axes.flat, VIEW_SPECS):
        ax.imshow(images[spec.label].permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(spec.label, fontsize=10)
        ax.set_axis_off()
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path, dpi=VIEWS_GRID_DPI, tight=False, format=None)
