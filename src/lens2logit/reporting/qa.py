"""Scatter of label-free predictions against the measured metric (``results/qa/{dataset}/scatter.png``)."""

from __future__ import annotations

import os

import pandas as pd

from lens2logit.reporting.figure import plt, save_figure

METHOD_TITLES = {"atc": "ATC", "doc": "DoC", "no_drop": 'baseline "no drop"'}


def plot_qa_scatter(table: pd.DataFrame, path: str | os.PathLike, *, metric: str, title: str = "", dpi: int = 150):
    """One panel per method: predicted (with its interval) against measured, and the line y = x.

    Args:
        table: rows of :func:`lens2logit.qa.table.qa_table` (``method, predicted, predicted_low,
            predicted_high, measured``).
        metric: axis label (``accuracy`` | ``iou_image``).
    """
    methods = list(dict.fromkeys(table["method"]))
    fig, axes = plt.subplots(1, max(len(methods), 1), figsize=(4 * max(len(methods), 1), 4), squeeze=False)
    values = pd.concat([table["measured"], table["predicted_low"], table["predicted_high"]]) if len(table) else pd.Series([0.0, 1.0])
    lo, hi = float(values.min()) - 0.02, float(values.max()) + 0.02
    for ax, method in zip(axes[0], methods):
        rows = table[table["method"] == method]
        error = [rows["predicted"] - rows["predicted_low"], rows["predicted_high"] - rows["predicted"]]
        ax.errorbar(rows["measured"], rows["predicted"], yerr=error, fmt="o", ms=3, alpha=0.6, elinewidth=0.6)
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="y = x")
        mae = (rows["predicted"] - rows["measured"]).abs().mean()
        ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel=f"measured {metric}", ylabel=f"predicted {metric}",
               title=f"{METHOD_TITLES.get(method, method)} (MAE over models {mae:.3f})")  # fmt: skip
        ax.set_aspect("equal")
        ax.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, dpi=dpi)
