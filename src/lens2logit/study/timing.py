"""Where the workflow's time goes: Snakemake's per-job benchmark files summed per rule.

Every rule writes ``benchmark: results/benchmarks/<rule>/....tsv`` (the first folder is the
rule's name) (one row: wall seconds
``s``, ``cpu_time``, ``max_rss`` in MB, ...). :func:`timing_table` reads them all and
:func:`write_timing` writes ``timing.csv`` and a Markdown table sorted by total time.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lens2logit.errors import InputError
from lens2logit.io import write_csv, write_text

COLUMNS = ["rule", "jobs", "total_s", "mean_s", "max_s", "cpu_s", "max_rss_mb"]


def read_benchmarks(bench_dir: str | Path) -> pd.DataFrame:
    """One row per benchmark file under ``bench_dir``: rule (first folder), path and its columns."""
    bench_dir = Path(bench_dir)
    rows = []
    for path in sorted(bench_dir.rglob("*.tsv")):
        rel = path.relative_to(bench_dir)
        if len(rel.parts) < 2:
            continue  # not <rule>/...
        try:
            frame = pd.read_csv(path, sep="\t")
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
            raise InputError(f"benchmark file {path}: not a Snakemake benchmark table ({exc})") from exc
        if "s" not in frame.columns or frame.empty:
            raise InputError(f"benchmark file {path}: no 's' (wall seconds) column")
        row = frame.iloc[-1].to_dict()  # with `repeat(...)` the last repetition
        rows.append({"rule": rel.parts[0], "job": str(rel.with_suffix("")), **row})
    return pd.DataFrame(rows)


def timing_table(bench_dir: str | Path) -> pd.DataFrame:
    """Per rule: jobs, total/mean/max wall seconds, CPU seconds, peak RSS; longest total first."""
    runs = read_benchmarks(bench_dir)
    if runs.empty:
        return pd.DataFrame(columns=COLUMNS)
    for col in ("cpu_time", "max_rss"):
        if col not in runs:
            runs[col] = float("nan")
        runs[col] = pd.to_numeric(runs[col], errors="coerce")  # "-" where unmeasured
    table = runs.groupby("rule").agg(
        jobs=("s", "size"), total_s=("s", "sum"), mean_s=("s", "mean"), max_s=("s", "max"),
        cpu_s=("cpu_time", "sum"), max_rss_mb=("max_rss", "max"),
    ).reset_index()
    return table.sort_values(["total_s", "rule"], ascending=[False, True]).reset_index(drop=True)[COLUMNS]


def timing_markdown(table: pd.DataFrame) -> str:
    """The table as Markdown, with a total row (sum of job wall times, not the run's wall time)."""
    lines = [
        "# Time per rule",
        "",
        "Sum of the jobs' wall times from Snakemake's benchmark files (results/benchmarks/);",
        "jobs that ran in parallel overlap, so the total exceeds the run's wall time.",
        "",
        "| rule | jobs | total s | mean s | max s | CPU s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table.itertuples():
        lines.append(f"| {r.rule} | {r.jobs} | {r.total_s:.1f} | {r.mean_s:.2f} | {r.max_s:.2f} | "
                     f"{r.cpu_s:.1f} | {r.max_rss_mb:.0f} |")
    lines.append(f"| **total** | {int(table['jobs'].sum())} | {table['total_s'].sum():.1f} | | | "
                 f"{table['cpu_s'].sum():.1f} | |")
    return "\n".join(lines) + "\n"


def write_timing(bench_dir: str | Path, csv_path: str | Path, md_path: str | Path) -> pd.DataFrame:
    """Write :func:`timing_table` as CSV and Markdown (atomically); returns the table."""
    table = timing_table(bench_dir)
    write_csv(csv_path, table)
    write_text(md_path, timing_markdown(table))
    return table
