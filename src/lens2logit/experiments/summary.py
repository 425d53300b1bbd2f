"""A one-page Markdown summary of every experiment of a run (``results/summary.md``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pandas as pd

from lens2logit.experiments.aggregate import HEADLINE_METRIC
from lens2logit.io import write_text


def _task_of(path) -> str:
    return Path(path).parent.name


def _table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def write_summary(out_path, *, tasks: Sequence[str], drift: Sequence[str], corruptions: Sequence[str] = (), intensity: Sequence[str] = (), forensics: Sequence[str] = (), customization: Sequence[str] = ()) -> str:
    parts = ["# lens2logit results", ""]
    parts += ["## Drift synthesis (12×12 views)", ""]
    rows = []
    for p in drift:
        s = json.loads(Path(p).read_text())
        rows.append({
            "task": s["task"], "metric": s["metric"], "diagonal": s["diagonal_mean"],
            "off-diagonal": s["off_diagonal_mean"], "mean drop": s["mean_drop"], "max drop": s["max_drop"],
            "worst pair (train→test)": " → ".join(s["max_drop_pair"]),
            "rows with best diagonal": f"{s['rows_with_diagonal_best']}/{s['n_views']}",
            "cells below diagonal": f"{s['cells_below_diagonal']}/{s['n_off_diagonal']}",
        })
    parts += [_table(pd.DataFrame(rows)), ""]
    if corruptions:
        parts += ["## ISP drift vs common corruptions", ""]
        rows = []
        for p in corruptions:
            c = pd.read_csv(p)
            a = c[c["view"] == "all"].iloc[0]
            rows.append({"task": _task_of(p), "metric": a["metric"], "clean": a["clean"], "drop under ISP drift": a["drift_drop"],
                         "drop under corruptions": a["corruption_drop"], "ratio": a["corruption_to_drift_ratio"]})
        parts += [_table(pd.DataFrame(rows)), ""]
    if intensity:
        parts += ["## Intensity drift", ""]
        rows = []
        for p in intensity:
            m = pd.read_csv(p)
            metric = "accuracy" if "accuracy" in set(m["metric"]) else "iou_dataset"
            m = m[m["metric"] == metric]
            lo, hi = m["train_intensity"].min(), m["train_intensity"].max()
            get = lambda tr, te: float(m[(m.train_intensity == tr) & (m.test_intensity == te)]["mean"].iloc[0])  # noqa: E731
            rows.append({"task": _task_of(p), "metric": metric, f"train {hi:g}→test {hi:g}": get(hi, hi),
                         f"train {hi:g}→test {lo:g}": get(hi, lo), f"train {lo:g}→test {lo:g}": get(lo, lo)})
        parts += [_table(pd.DataFrame(rows)), ""]
    for title, paths in (("Drift forensics", forensics), ("ISP customization", customization)):
        if paths:
            parts += [f"## {title}", ""]
            for p in paths:
                frame = pd.read_csv(p)
                frame = frame[frame["metric"].isin(HEADLINE_METRIC.values())]  # one metric keeps it readable
                parts += [f"### {_task_of(p)}", "", _table(frame), ""]
    text = "\n".join(parts) + "\n"
    write_text(out_path, text)
    return text
