"""Seed stability: the findings of two or more runs (e.g. ``seed: 1`` and ``seed: 2``) side by side.

Each run's ``results/findings/{dataset}.json`` (:func:`lens2logit.drift.bootstrap.write_findings`)
gives every finding with its 90 % bootstrap interval and names the record tables it came from, so the
bootstrap replicates can be rebuilt (:func:`lens2logit.drift.bootstrap.rebuild_replicates`).
:func:`seed_table` writes one Markdown row per (dataset, finding): every run's value and interval, its
verdict against the paper's band (:mod:`lens2logit.drift.paper`), whether the verdicts are the same,
whether each run's value lies in every other run's interval, the difference between runs with its
interval, and whether the finding is **within seed noise**.

Two criteria, because they answer different questions:

* *each value in the others' intervals* (the literal test): fails often even when both runs sample the
  same distribution. Two calibrated, normal 90 % intervals of half-width ``z·σ`` (z = 1.645) give
  ``|x₁ − x₂| ≤ z·σ``, with ``x₁ − x₂ ~ N(0, 2σ²)``, with probability ``2Φ(z/√2) − 1`` = 0.755
  (:func:`expected_inside_share`): about one finding in four fails by chance.
* *within seed noise* (the test of a difference): the 90 % interval of ``run a − run b`` — the percentile
  interval of the differences of the two runs' independent replicates — contains 0, for every pair of
  runs. For runs that sample the same distribution this holds with probability ≈ 0.90 per pair. The
  most-dropped test view is categorical: every run's view lies in every other run's 90 % set of views
  (:func:`lens2logit.drift.paper.view_set`) — a test like the literal one, not of a difference: the view
  is an argmax, and a margin between two runs' views measured on the data that chose them is biased by
  that choice (the view sets, built from every replicate's own argmax, are not). Runs whose findings files name no
  record tables (older versions), or whose record tables are not there, fall back to the literal test, and
  the legend says why.

With three or more runs, :func:`calibration_table` checks the intervals themselves: the spread of the
runs' values against the intervals' width (ratio ≈ 1 when the intervals are calibrated), and the shares
of pairs that pass each test against their expected values.
"""

from __future__ import annotations

import json
import math
import re
from itertools import combinations, permutations
from pathlib import Path
from statistics import NormalDist
from typing import Any, Mapping, Sequence

import numpy as np

from lens2logit.drift import paper
from lens2logit.drift.bootstrap import Replicates, rebuild_replicates
from lens2logit.errors import InputError
from lens2logit.statistics import INTERVAL_LEVEL, percentile_interval

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
# {run name: {dataset: findings}} and {run name: {dataset: replicates}}
Runs = Mapping[str, Mapping[str, Mapping[str, Any]]]
RunReplicates = Mapping[str, Mapping[str, Replicates]]


class Count(str):
    """A table cell ``"k of n"`` that keeps ``k`` and ``n`` for the legend's totals."""

    def __new__(cls, k: int, n: int) -> "Count":
        cell = super().__new__(cls, f"{k} of {n}")
        cell.k, cell.n = k, n
        return cell


class PairChecks(str):
    """A table cell ``"a in b: yes, …"`` that keeps whether every pair passed (``passed``)."""

    def __new__(cls, checks: Mapping[tuple[str, str], bool]) -> "PairChecks":
        cell = super().__new__(cls, ", ".join(f"{a} in {b}: {'yes' if ok else 'no'}" for (a, b), ok in checks.items()))
        cell.passed = all(checks.values())
        return cell


def pooled_error(errors: Sequence[float]) -> float:
    """The runs' standard errors pooled as a root mean square."""
    return float(np.sqrt(np.mean(np.asarray(errors, float) ** 2)))


def expected_inside_share(level: float = INTERVAL_LEVEL) -> float:
    """Probability that one run's value lies in another's calibrated, normal ``level`` interval when both
    runs sample the same distribution: ``2Φ(z/√2) − 1`` with ``z`` the interval's normal quantile.

    Example:
        >>> round(expected_inside_share(0.90), 3)
        0.755
    """
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return 2 * NormalDist().cdf(z / math.sqrt(2)) - 1


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


def read_replicates(results: str | Path, run: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Replicates] | None, str]:
    """``({dataset: replicates}, "")`` of one run (:func:`~lens2logit.drift.bootstrap.rebuild_replicates`),
    or ``(None, why not)`` when a findings file names no record tables (written by an older version) or
    its record tables are not there (e.g. only the findings were kept or pulled).

    Raises:
        InputError: record tables that are there but changed since the findings were written.
    """
    folder = Path(results)
    if any("records" not in f for f in run.values()):
        return None, f"{folder}: findings files name no record tables (older version)"
    missing = [str(folder / p) for f in run.values() for p in (*f["records"]["drift"], *f["records"]["corruptions"])
               if not (folder / p).is_file()]  # fmt: skip
    if missing:
        return None, f"{folder}: {len(missing)} record tables missing, e.g. {missing[0]}"
    return {d: rebuild_replicates(f, folder, str(folder / "findings" / f"{d}.json")) for d, f in run.items()}, ""


def _claim(dataset: str, key: str) -> paper.Claim | None:
    return next((c for c in paper.PAPER_CLAIMS if c.dataset == dataset and c.quantity == key), None)


def in_interval(value: Any, other: Mapping[str, Any]) -> bool:
    """Whether a finding's value lies in another run's interval (categorical: in its 90 % view set)."""
    if "shares" in other:
        return value in paper.view_set(other["shares"])
    return other["low"] <= value <= other["high"]


def difference(a: Replicates, b: Replicates, key: str, level: float = INTERVAL_LEVEL) -> dict[str, float]:
    """``a − b`` of a scalar finding with its percentile interval over the replicates' differences.

    The two runs' replicates are independent resamplings when their seeds differ (each findings file is
    resampled with its run's seed), so ``a*ᵢ − b*ᵢ`` samples the difference's sampling distribution; two
    runs with one seed share their resampling draws, a paired comparison. Undefined replicates
    (``∞ − ∞``, NaN ratios) are skipped.
    """
    with np.errstate(invalid="ignore"):
        diffs = a.values[key] - b.values[key]
        point = a.points[key] - b.points[key]
    low, high = percentile_interval(diffs, level)
    return {"value": float(point), "low": low, "high": high}


def difference_text(d: Mapping[str, float], scale: float, digits: int, unit: str) -> str:
    """``a − b [low, high]`` of a finding: percentages differ by points, ratios by a plain number; no ``-0``.

    Example:
        >>> difference_text({"value": -0.0001, "low": -0.02, "high": 0.1}, 100.0, 0, " %")
        '0 points [-2, 10]'
    """
    unit = {" %": " points", "×": ""}.get(unit, unit)
    return re.sub(r"-(0(?:\.0+)?)(?![\d.])", r"\1", paper.interval_text(d, scale, digits, unit))


def covers_zero(f: Mapping[str, float]) -> bool:
    """Whether an interval contains 0 (an undefined interval does not)."""
    return bool(f["low"] <= 0 <= f["high"])


def seed_rows(runs: Runs, replicates: RunReplicates | None = None) -> list[dict[str, Any]]:
    """One dict per (dataset, finding) measured in every run.

    Args:
        runs: ``{run name: {dataset: findings}}`` (:func:`read_run`), at least two runs.
        replicates: ``{run name: {dataset: replicates}}`` (:func:`read_replicates`) for the difference
            test; None: the literal test decides *within seed noise*.

    Returns:
        dicts with ``dataset, finding``, per run ``<name>`` (value [interval]) and ``<name> verdict``, then
        ``same verdict``, ``each value in the others' intervals``, with replicates the difference
        (two runs: ``a − b [90 %]``; more: how many pairs' intervals contain 0), and ``within seed noise``.
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
            inside = {(a, b): in_interval(found[a]["value"], found[b]) for a, b in permutations(names, 2)}
            row["same verdict"] = "yes" if len(verdicts) == 1 else "no"
            row["each value in the others' intervals"] = PairChecks(inside)
            noise = all(inside.values())
            if replicates is not None:
                column = f"{names[0]} − {names[1]} [90 %]" if len(names) == 2 else "difference intervals containing 0"
                if scale is None:
                    row[column] = "(categorical)"
                else:
                    diffs = [difference(replicates[a][dataset], replicates[b][dataset], key) for a, b in combinations(names, 2)]
                    noise = all(covers_zero(d) for d in diffs)
                    row[column] = (difference_text(diffs[0], scale, digits, unit) if len(names) == 2
                                   else f"{sum(map(covers_zero, diffs))} of {len(diffs)} pairs")  # fmt: skip
            row["within seed noise"] = "yes" if noise else "no"
            rows.append(row)
    return rows


def _markdown(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]


def seed_table(runs: Runs, replicates: RunReplicates | None = None, without: str = "") -> str:
    """The Markdown table of :func:`seed_rows`, with a legend that states the criteria and the counts
    (``without``: why there are no replicates, said in the legend)."""
    rows = seed_rows(runs, replicates)
    if not rows:
        raise InputError("the runs share no dataset with findings")
    literal = sum(r["each value in the others' intervals"].passed for r in rows)
    noise = sum(r["within seed noise"] == "yes" for r in rows)
    legend = (f"Runs: {', '.join(runs)}. Value [90 % bootstrap interval over test images and folds]; verdict against "
              "the paper's band (agrees / disagrees / cannot tell). *Each value in the others' intervals*: "
              f"{literal} of {len(rows)} findings (expected ≈ {100 * expected_inside_share():.0f} % per pair of runs "
              "even when both sample the same distribution).")  # fmt: skip
    if replicates is not None:
        legend += (" *Within seed noise* = the 90 % interval of every difference between runs contains 0 "
                   "(the most-dropped view: each run's view in every other run's 90 % set of views): "
                   f"{noise} of {len(rows)} findings (expected ≈ 90 % per pair).")  # fmt: skip
    else:
        legend += (" *Within seed noise* = every run's value lies in every other run's interval (no difference "
                   f"test: {without or 'no replicates'}): {noise} of {len(rows)} findings.")  # fmt: skip
    return legend + "\n\n" + "\n".join(_markdown(rows)) + "\n"


def spread_ratio(values: Sequence[float], errors: Sequence[float], level: float = INTERVAL_LEVEL) -> tuple[float, float, float]:
    """The runs' standard deviation ÷ their intervals' standard error, with a ``level`` interval.

    ``values``: the runs' point values ``(n,)``, ``n ≥ 2``; ``errors``: each run's standard error
    ``(n,)`` (pooled as a root mean square, treated as known). The sample sd of ``n`` normal values
    satisfies ``(n−1)·sd²/σ² ~ χ²(n−1)``, so ``σ`` lies in ``[sd/√(χ²_high/(n−1)), sd/√(χ²_low/(n−1))]``
    with probability ``level``; the ratio's interval is that, divided by the error.

    Returns:
        ``(ratio, low, high)``; 1 inside ``[low, high]`` says the intervals are as wide as the spread.
    """
    from scipy.stats import chi2

    values, errors = np.asarray(values, float), np.asarray(errors, float)
    k = len(values) - 1
    if k < 1:
        raise InputError(f"spread_ratio: needs at least two values, got {len(values)}")
    tail = (1 - level) / 2
    ratio = float(values.std(ddof=1)) / pooled_error(errors)
    return ratio, ratio / math.sqrt(chi2.ppf(1 - tail, k) / k), ratio / math.sqrt(chi2.ppf(tail, k) / k)


def calibration_rows(runs: Runs, replicates: RunReplicates, level: float = INTERVAL_LEVEL) -> list[dict[str, Any]]:
    """Whether the intervals are as wide as the runs' spread says, per (dataset, scalar finding).

    Per finding over ``n ≥ 3`` runs: the standard deviation of the runs' values (ddof 1), the intervals'
    width as a standard error (half-width ÷ z, root mean square over runs), their ratio with its
    ``level`` interval (:func:`spread_ratio`; ≈ 1 when the intervals are calibrated, > 1 when they are
    too narrow), the share of ordered
    pairs where one run's value lies in the other's interval (expected :func:`expected_inside_share`)
    and the share of pairs whose difference interval contains 0 (expected ≈ ``level``).
    """
    names = list(runs)
    if len(names) < 3:
        raise InputError(f"calibration needs at least three runs, got {len(names)}")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    datasets = [t for t in runs[names[0]] if all(t in runs[n] for n in names)]
    rows = []
    for dataset in datasets:
        for key, words, scale, digits, _ in FINDINGS:
            found = [runs[n][dataset].get("findings", {}).get(key) for n in names]
            if scale is None or any(f is None for f in found):
                continue
            values = np.array([f["value"] for f in found], float)
            errors = np.array([(f["high"] - f["low"]) / (2 * z) for f in found], float)
            if not (np.isfinite(values).all() and np.isfinite(errors).all() and (errors > 0).all()):
                continue
            ratio, low, high = spread_ratio(values, errors, level)
            inside = [found[b]["low"] <= found[a]["value"] <= found[b]["high"] for a, b in permutations(range(len(names)), 2)]
            covered = [covers_zero(difference(replicates[a][dataset], replicates[b][dataset], key, level)) for a, b in combinations(names, 2)]
            rows.append({
                "dataset": dataset, "finding": words, "runs": len(names),
                "values": ", ".join(paper.number_text(scale * v, digits) for v in values),
                "sd between runs": paper.number_text(scale * float(values.std(ddof=1)), digits + 1),
                "interval's standard error": paper.number_text(scale * pooled_error(errors), digits + 1),
                "ratio [90 %]": f"{ratio:.2f} [{low:.2f}, {high:.2f}]",
                "value in other's interval": Count(sum(inside), len(inside)),
                "difference contains 0": Count(sum(covered), len(covered)),
            })  # fmt: skip
    return rows


def calibration_table(runs: Runs, replicates: RunReplicates, level: float = INTERVAL_LEVEL) -> str:
    """The Markdown table of :func:`calibration_rows`, with the expected shares in the legend."""
    rows = calibration_rows(runs, replicates, level)
    if not rows:
        raise InputError("the runs share no scalar finding with finite values and intervals")
    inside = Count(sum(r["value in other's interval"].k for r in rows), sum(r["value in other's interval"].n for r in rows))
    covered = Count(sum(r["difference contains 0"].k for r in rows), sum(r["difference contains 0"].n for r in rows))
    legend = (f"Calibration over {len(runs)} runs ({', '.join(runs)}): *ratio* = the runs' standard deviation ÷ "
              "the intervals' standard error (half-width ÷ 1.645); 1 when the intervals are as wide as the spread "
              "between runs, its 90 % interval from the chi-square distribution of a standard deviation of "
              f"{len(runs)} values. Value in other's interval: {inside} "
              f"ordered pairs (expected {100 * expected_inside_share(level):.1f} %); difference contains 0: "
              f"{covered} pairs (expected ≈ {100 * level:.0f} %). "
              "Findings share their runs, so the counts are not independent.")  # fmt: skip
    return legend + "\n\n" + "\n".join(_markdown(rows)) + "\n"


def read_runs(results: Sequence[str | Path], names: Sequence[str] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """``{name: read_run(folder)}``; names default to the folders as given."""
    names = list(names) if names else [str(r) for r in results]
    if len(names) != len(results) or len(set(names)) != len(names):
        raise InputError(f"--names: {len(results)} distinct names needed for {len(results)} results folders, got {names}")
    return {n: read_run(r) for n, r in zip(names, results)}


def write_seed_table(results: Sequence[str | Path], out_path=None, names: Sequence[str] | None = None) -> str:
    """Read two or more runs' results folders; write the seed table (and with three or more runs whose
    replicates can be rebuilt, the calibration table) to ``out_path`` (atomic; None: only return it)."""
    from lens2logit.io import write_text

    runs = read_runs(results, names)
    rebuilt = {n: read_replicates(r, runs[n]) for n, r in zip(runs, results)}
    reasons = [why for _, why in rebuilt.values() if why]
    replicates = None if reasons else {n: reps for n, (reps, _) in rebuilt.items()}
    text = seed_table(runs, replicates, "; ".join(reasons))
    if replicates is not None and len(runs) >= 3:
        text += "\n" + calibration_table(runs, replicates)
    if out_path is not None:
        write_text(out_path, text)
    return text
