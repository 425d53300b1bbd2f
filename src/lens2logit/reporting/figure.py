"""What the figure modules share: pyplot on the non-interactive Agg backend, and one atomic save.

``from lens2logit.reporting.figure import plt, save_figure`` sets the backend before pyplot is
imported, whatever order the caller's imports are in.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lens2logit.io import atomic_path  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig, path: str | os.PathLike, *, dpi: int, tight: bool = True, format: str | None = "png") -> Path:
    """Write ``fig`` to ``path`` atomically, close it and return ``path``.

    Args:
        dpi: resolution.
        tight: crop to what is drawn (``bbox_inches="tight"``).
        format: file format; ``None`` picks it from the extension of ``path`` (``.png``, ``.pdf``, ...).
    """
    path = Path(path)
    with atomic_path(path, suffix=None if format is None else f".{format}") as tmp:
        fig.savefig(tmp, dpi=dpi, format=format, **({"bbox_inches": "tight"} if tight else {}))
    plt.close(fig)
    return path
