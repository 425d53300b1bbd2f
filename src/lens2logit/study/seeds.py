"""Seed stability: the findings of two or more runs (e.g. ``seed: 1`` and ``seed: 2``) side by side.

Each run's ``results/findings/{dataset}.json`` (:func:`lens2logit.drift.bootstrap.write_findings`)
gives every finding with its 90 % bootstrap interval. :func:`seed_table` writes one Markdown row per
(dataset, finding): every run's value and interval, its verdict against the paper's band
(:mod:`lens2logit.drift.paper`), whether the verdicts are the same, whether each run's value lies in
every other run's interval, and whether the finding is **within seed noise** — defined as: every run's
value lies inside every other run's 90 % interval (for the most-dropped test view: every run's view lies
in every other run's 90 % set of views, :func:`lens2logit.drift.paper.view_set`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from lens2logit.errors import InputError
from lens2logit.drift import paper

# Findings in table order: (key, words, scale for printing, digits, unit).
FINDINGS = (
    ("clean", "diagonal mean (trained view)", 1.0, 3, ""),
    ("drifted", "off-diagonal mean (other views)", 1.0, 3, ""),
    ("mean_drop", "mean drop under ISP drift", 1.0, 3, ""),
    ("corruption_drop", "mean drop under corruptions", 1.0, 3, ""),
    ("corruption_to_drift_ratio", "corruption ÷ ISP-drift ratio", 1.0, 1, "×"),
    ("max_relative_drop", "worst case below the training view", 100.0, 0, " %"),
    ("most_dropped_test_view", "most-dropped test view", None, 0, ""),
)
COLUMNS_FIXED = ("dataset", "finding")


def read_run(results: str | Path) -> dict[str, dict[str, Any]]:
    """``{dataset: findings}`` of one run's results folder (``<results>/findings/*.json``).

    Raises:
        InputError: the folder has no findings files.
    """
    folder = Path(results) / "findings"
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise InputError(f"{folder}: no findings (*.json); run the workflow (rule bootstrap_findings) first")
    return {f["dataset"]: f for f in (json.loads(p.read_text()) for p in paths)}


def _claim(dataset: str, key: str) -> paper.Claim | None:
    return next((c for c in paper.PAPER_CLAIMS if c.dataset == dataset and c.quantity == key), None)


def in_interval(value: Any, other: Mapping[str, Any]) -> bool:
    """Whether a finding's value lies in another run's interval (categorical: in its 90 % view set)."""
    if "shares" in other:
        return value in paper.view_set(other["shares"])
    return other["low"] <= value <= other["high"]


def seed_rows(runs: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One dict per (dataset, finding) measured in every run.

    Args:
        runs: ``{run name: {dataset: findings}}`` (:func:`read_run`), at least two runs.

    Returns:
        dicts with ``dataset, finding``, per run ``<name>`` (value [interval]) and ``<name> verdict``, then
        ``same verdict``, ``each value in the others' intervals`` and ``within seed noise`` (yes/no).
    """
    if len(runs) < 2:
        raise InputError(f"seed stability needs at least two runs, got {len(runs)}")
    names = list(runs)
    datasets = [t for t in runs[names[0]] if all(t in runs[n] for n in names)]
    rows = []
    for dataset in datasets:
        for key, words, scale, digits, unit in FINDINGS:
            found = {n: runs[n][dataset].get("findings", {}).get(key) for n in names}
            if any(f is None for f in found.values()):
                continue
            claim = _claim(dataset, key)
            row: dict[str, Any] = {"dataset": dataset, "finding": words}
            for n in names:
                f = found[n]
                if scale is None:
                    row[n] = f"{f['value']} (share {100 * f['shares'].get(f['value'], 0):.0f} %)"
                else:
                    row[n] = paper.interval_text(f, scale, digits, unit)
                row[f"{n} verdict"] = paper.claim_verdict(claim, f) if claim else "(no claim)"
            verdicts = {row[f"{n} verdict"] for n in names}
            inside = {(a, b): in_interval(found[a]["value"], found[b]) for a in names for b in names if a != b}
            row["same verdict"] = "yes" if len(verdicts) == 1 else "no"
            row["each value in the others' intervals"] = ", ".join(f"{a} in {b}: {'yes' if ok else 'no'}" for (a, b), ok in inside.items())
            row["within seed noise"] = "yes" if all(inside.values()) else "no"
            rows.append(row)
    return rows


def seed_table(runs: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """The Markdown table of :func:`seed_rows`, with a one-line legend."""
    rows = seed_rows(runs)
    if not rows:
        raise InputError("the runs share no dataset with findings")
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    noise = sum(r["within seed noise"] == "yes" for r in rows)
    legend = (f"Runs: {', '.join(runs)}. Value [90 % bootstrap interval over test images and folds]; verdict against "
              "the paper's band (agrees / disagrees / cannot tell). *Within seed noise* = every run's value lies in "
              f"every other run's interval: {noise} of {len(rows)} findings.")  # fmt: skip
    return legend + "\n\n" + "\n".join(lines) + "\n"


def read_runs(results: Sequence[str | Path], names: Sequence[str] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """``{name: read_run(folder)}``; names default to the folders as given."""
    names = list(names) if names else [str(r) for r in results]
    if len(names) != len(results) or len(set(names)) != len(names):
        raise InputError(f"--names: {len(results)} distinct names needed for {len(results)} results folders, got {names}")
    return {n: read_run(r) for n, r in zip(names, results)}


def write_seed_table(results: Sequence[str | Path], out_path=None, names: Sequence[str] | None = None) -> str:
    """Read two or more runs' results folders; write the seed table to ``out_path`` (atomic; None: only return it)."""
    from lens2logit.io import write_text

    text = seed_table(read_runs(results, names))
    if out_path is not None:
        write_text(out_path, text)
    return text
