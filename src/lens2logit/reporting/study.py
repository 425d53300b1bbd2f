"""Figures of the study: drift and difference matrices, corruption baseline, intensity drift.

All functions take plain arrays/tables, write one PNG atomically and return nothing.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from lens2logit.reporting.figure import plt, save_figure

DPI = 130


def _annotated_matrix(ax, mean, std, *, cmap, vmin, vmax, fmt="{:.2f}"):
    im = ax.imshow(mean, cmap=cmap, vmin=vmin, vmax=vmax)
    for (i, j), m in np.ndenumerate(mean):
        if np.isnan(m):
            continue
        s = std[i, j]
        text = fmt.format(m) + ("" if np.isnan(s) else "\n±" + fmt.format(s))
        r, g, b, _ = im.cmap(im.norm(m))
        colour = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"  # readable on the cell
        ax.text(j, i, text, ha="center", va="center", fontsize=6, color=colour)
    return im


def _square_axes(ax, labels, *, xlabel, ylabel):
    ax.set_xticks(range(len(labels)), labels, rotation=90)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _plot_metric_matrix(mean, std, labels, path, *, title, metric, xlabel, ylabel, cell_size) -> None:
    """A matrix of mean ± std of one metric, coloured over the range of its finite values."""
    fig, ax = plt.subplots(figsize=(cell_size[0] * len(labels) + 2.5, cell_size[1] * len(labels) + 1.8))
    finite = mean[np.isfinite(mean)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmax - vmin < 1e-6:
        vmin, vmax = vmin - 0.01, vmax + 0.01
    im = _annotated_matrix(ax, mean, std, cmap="viridis", vmin=vmin, vmax=vmax)
    _square_axes(ax, labels, xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(im, ax=ax, label=metric, shrink=0.8)
    ax.set_title(title, fontsize=9)
    save_figure(fig, path, dpi=DPI)


def plot_drift_matrix(mean: np.ndarray, std: np.ndarray, views: Sequence[str], path, *, title: str, metric: str) -> None:
    """Rows = training view, columns = test view; colour = mean metric, text = mean ± std."""
    _plot_metric_matrix(mean, std, views, path, title=title, metric=metric, xlabel="test view", ylabel="train view", cell_size=(0.62, 0.55))


def plot_difference_matrix(mean: np.ndarray, std: np.ndarray, views: Sequence[str], path, *, title: str, metric: str) -> None:
    """D[i, j] = M[i, i] − M[i, j] with std √(σ[i,i]² + σ[i,j]²): the drift penalty."""
    diag = np.diag(mean)[:, None]
    diff = diag - mean
    diff_std = np.sqrt(np.diag(std)[:, None] ** 2 + std**2)
    np.fill_diagonal(diff_std, np.nan)
    fig, ax = plt.subplots(figsize=(0.62 * len(views) + 2.5, 0.55 * len(views) + 1.8))
    bound = float(np.nanmax(np.abs(diff))) or 0.01
    im = _annotated_matrix(ax, diff, diff_std, cmap="RdBu_r", vmin=-bound, vmax=bound)
    _square_axes(ax, views, xlabel="test view", ylabel="train view")
    fig.colorbar(im, ax=ax, label=f"drop in {metric} (diagonal − entry)", shrink=0.8)
    ax.set_title(title + " · difference", fontsize=9)
    save_figure(fig, path, dpi=DPI)


def plot_corruptions(table, comparison, path, *, metric: str, title: str) -> None:
    """Mean metric per corruption over views (error bar = std over views) next to ISP drift."""
    sub = table[table["metric"] == metric]
    per = sub.groupby("corruption")["mean"].agg(["mean", "std"])
    order = ["identity"] + sorted(c for c in per.index if c != "identity")
    per = per.reindex(order)
    overall = comparison[comparison["view"] == "all"].iloc[0]
    drift_score = overall["clean"] - overall["drift_drop"]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    colours = ["tab:green"] + ["tab:red"] * (len(order) - 1)
    ax.bar(range(len(order)), per["mean"], yerr=per["std"].fillna(0), color=colours, alpha=0.8, capsize=2)
    ax.axhline(drift_score, color="tab:blue", ls="--", label=f"mean under ISP drift ({drift_score:.2f})")
    chance = float(overall.get("chance", np.nan))
    if np.isfinite(chance):
        ax.axhline(chance, color="grey", ls=":", label=f"chance: best constant prediction ({chance:.2f})")
    ax.set_xticks(range(len(order)), order, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(metric)
    ax.set_title(f"{title}: drop drift {overall['drift_drop']:.3f} vs corruptions {overall['corruption_drop']:.3f}", fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=DPI)


def plot_intensity_matrix(mean: np.ndarray, std: np.ndarray, levels: Sequence[float], path, *, title: str, metric: str) -> None:
    """Rows = training intensity, columns = test intensity."""
    labels = [f"{lv:g}" for lv in levels]
    _plot_metric_matrix(mean, std, labels, path, title=title, metric=metric, xlabel="test intensity", ylabel="train intensity", cell_size=(0.75, 0.65))
