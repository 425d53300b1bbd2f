"""A one-page Markdown summary of every experiment of a run (``results/summary.md``).

It opens with the run's findings, each with its 90 % bootstrap interval
(:mod:`lens2logit.drift.bootstrap`), beside the paper's published claims and their verdicts
(:mod:`lens2logit.drift.paper`), then one table per experiment; every table shows the dataset's
headline metric (:func:`lens2logit.statistics.headline_metric`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from lens2logit.qa.table import summary_markdown
from lens2logit.drift import paper
from lens2logit.statistics import DEFAULT_SEGMENTATION_HEADLINE, HEADLINE_METRIC, headline_metric
from lens2logit.io import write_text

SYNTHETIC_NOTE = (
    "The paper measured real microscope and drone data. This run's numbers come from whatever data the "
    "configuration names — in the default run, **synthetic data** generated from the instruments' "
    "description (`docs/data.md`) — so agreement means the same story, not the same numbers."
)


FOLD_TABLE_NOTE = "`mean`, sample `std` and `n` are over folds (`n` = 1: one model, a single measurement with no spread)."
VERDICT_NOTE = (
    "A learned-vs-static verdict comes with its 90 % t-interval over the `n` paired folds and says *cannot tell* "
    "when the interval contains 0."
)


def _dataset_of(path) -> str:
    return Path(path).parent.name


def _table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def _chance(results: Mapping[str, Mapping[str, Any]], dataset: str, metric: str) -> str:
    """The chance level of an accuracy (majority-class rate of the scored images, from the findings), else ``—``."""
    chance = results.get(dataset, {}).get("chance")
    return f"{chance:.3f}" if metric == "accuracy" and chance is not None else "—"


def _findings_of(results: Mapping[str, Mapping[str, Any]], dataset: str, metric: str) -> Mapping[str, Any] | None:
    """A dataset's bootstrap findings in ``metric`` (its paper metric or one of ``other_metrics``), else None."""
    result = results.get(dataset)
    if not result:
        return None
    return result if result.get("metric") == metric else (result.get("other_metrics") or {}).get(metric)


def _count(sizes: Mapping[str, int]) -> str:
    """``90`` when every fold has the same count, else ``90/88`` (folds in order)."""
    values = list(sizes.values())
    return str(values[0]) if len(set(values)) == 1 else "/".join(map(str, values))


def sample_size(result: Mapping[str, Any] | None, key: str = "images_per_fold") -> str:
    """How many folds and test images per fold are behind a finding, e.g. ``2 folds × 90 images``.

    Args:
        result: findings (:func:`lens2logit.drift.bootstrap.bootstrap_findings`); None: ``—``.
        key: ``images_per_fold`` (drift) or ``corruption_images_per_fold``.
    """
    if not result or not result.get(key):
        return "—"
    folds = result["folds"]
    return f"{folds} fold{'s' if folds != 1 else ''} × {_count(result[key])} images"


def _ci(finding: Mapping[str, Any] | None, digits: int = 3, *, difference: bool = True) -> str:
    """``[low, high]`` of a finding; a ``difference`` (a drop) whose interval contains 0 is flagged as inside the noise."""
    if not finding:
        return "no interval (bootstrap not run)"
    low, high = finding["low"], finding["high"]
    text = f"[{paper.number_text(low, digits)}, {paper.number_text(high, digits)}]"
    return text + " contains 0: inside the noise" if difference and low <= 0 <= high else text


def _intensity_cell(m: pd.DataFrame, train: float, test: float) -> str:
    """``mean ± std`` of one (train, test) intensity cell; the mean alone for a single fold."""
    row = m[(m.train_intensity == train) & (m.test_intensity == test)].iloc[0]
    return f"{row['mean']:.3f}" if row["n"] < 2 or pd.isna(row["std"]) else f"{row['mean']:.3f} ± {row['std']:.3f}"


def _folds_text(n: pd.Series) -> str:
    """Folds per cell of a table's ``n`` column: ``2 folds``; one fold says it is one model with no interval."""
    low, high = int(n.min()), int(n.max())
    if high == 1:
        return "1 fold (one model, no interval)"
    return f"{low} folds" if low == high else f"{low}–{high} folds"


def paper_section(results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Markdown lines: each published claim, its band, this run's 90 % interval and the verdict.

    Args:
        results: ``{dataset: results/findings/{dataset}.json}`` (:func:`lens2logit.drift.bootstrap.write_findings`).
    """
    table = paper.compare_with_paper(results)
    counts = paper.verdict_counts(table)
    informative = paper.verdict_counts(table[~table["finding"].str.startswith("worst case")])
    any_result = next(iter(results.values()), {})
    boot = (f"{any_result.get('n_replicates')} replicates, seed {any_result.get('seed')}; "
            + ", ".join(f"{t}: {sample_size(r)}" for t, r in results.items()) if any_result else "not run")
    chance = {t: r["chance"] for t, r in results.items() if r.get("chance") is not None}
    lines = [
        "## This run beside the paper",
        "",
        SYNTHETIC_NOTE,
        "",
        "Every finding carries its 90 % bootstrap interval (test images resampled within each fold — within each class "
        "for classification, as the splits are stratified — and folds; "
        f"{boot}). The verdict comes from the interval, not the point value: "
        "**agrees** = the whole interval lies inside the band of values that tell the paper's story; "
        "**disagrees** = interval and band do not meet; **cannot tell** = the interval straddles an edge of the band. "
        f"Bands (fixed in `drift/paper.py`, not tuned): mean drop within a factor of {paper.MEAN_DROP_FACTOR:g} of the "
        f"published value; corruption ÷ ISP-drift ratio in [{paper.RATIO_RANGE[0]:g}, {paper.RATIO_RANGE[1]:g}] for both "
        f"datasets (the source says \"ten to four times\" without naming a dataset); worst case ± "
        f"{100 * paper.WORST_CASE_TOLERANCE:.0f} points; test view: the same view in ≥ 90 % of the replicates.",
        "",
        f"Verdicts: {counts[paper.AGREES]} agree, {counts[paper.DISAGREES]} disagree, {counts[paper.CANNOT_TELL]} cannot tell "
        f"(without the two worst-case rows: {informative[paper.AGREES]} / {informative[paper.DISAGREES]} / "
        f"{informative[paper.CANNOT_TELL]}).",
        "",
        _table(table),
        "",
        "* The worst-case rows carry little information: a maximum over the 132 off-diagonal cells of 12 views is an "
        "extreme value, biased upwards by noise and by any badly trained row (its bootstrap interval is biased "
        "upwards too), whatever its verdict.",
        "* Accuracy is read beside its chance level: "
        + (", ".join(f"{t} {c:.3f}" for t, c in chance.items()) + " in this run" if chance else "this run has no accuracy")
        + f"; the paper's real microscopy set is imbalanced (majority class {paper.PAPER_CHANCE['microscopy']:.3f}), "
        "so this run's balanced accuracy is shown as well.",
        "* Drone findings are in mean per-image IoU, the paper's metric; the dataset IoU (Σ intersection / Σ union) "
        "is given beside it and in the tables below.",
        "* Numbers marked * are second-hand: Figure 1 as quoted in issue 9, not checked against the paper.",
        "* A ratio interval reaching ∞ means the ISP-drift drop is indistinguishable from zero in some replicates; a ratio printed *undefined* has no ISP-drift drop at all (0 ÷ 0).",
        "* The *ratio at chance* in the corruption table below (headroom ÷ ISP drop) is a hypothetical upper "
        "bound, not a measurement; it is not a finding and has no verdict.",
        "",
    ]
    return lines


def robust_section(paths: Sequence[str]) -> list[str]:
    """Markdown lines: leave-one-view-out robust models vs static views (results/robust/{dataset}/summary.json)."""
    rows = []
    for p in paths:
        s = json.loads(Path(p).read_text())

        def ci(key: str) -> str:
            return "[{:.3f}, {:.3f}]".format(*s[key])

        rows.append({"dataset": s["dataset"], "metric": s["metric"], "held-out views": s["n_held_out"],
                     "folds per model": s.get("n_folds", "—"),
                     "robust drop to unseen view": s["robust_mean_drop_unseen"], "90 % CI": ci("robust_mean_drop_unseen_ci90"),
                     "static drop": s["static_mean_drop"], "static 90 % CI": ci("static_mean_drop_ci90"),
                     "ratio": s["drop_ratio"], "ratio 90 % CI": ci("drop_ratio_ci90"),
                     "cost on seen views": s["cost_seen"], "cost 90 % CI": ci("cost_seen_ci90"),
                     "target (ratio ≤ 1/3, cost ≤ 0.01)": f"drop {s['target']['drop']}, cost {s['target']['cost']}"})  # fmt: skip
    if not rows:
        return []
    return ["## Drift-robust training (leave one view out, isp_views)", "", _table(pd.DataFrame(rows)), "",
            "Intervals: 90 % bootstrap over the held-out views (paired), each view's drop a mean over the folds per model.", ""]


DRIFT_NOTE = (
    "Each cell of a matrix is a mean over the trained folds; *n* = folds × test images per fold behind the "
    "mean drop and its 90 % bootstrap interval (the paper table's resampling). Diagonal, off-diagonal, max drop "
    "and the counts are point values of the same matrix (the max drop, a maximum over the off-diagonal cells, "
    "has its relative form with an interval in the paper table)."
)
CORRUPTION_NOTES = (
    "Drops of the headline metric averaged over training views; *normalised* = drop ÷ headroom "
    "(clean − chance; chance = majority-class rate for accuracy, best constant mask for IoU).",
    "Intervals: 90 % bootstrap over folds and the corruption-scored test images (*n*: folds × images per "
    "fold); the ISP-drift drop's interval is in the drift table. Normalised drops are point values.",
)
INTENSITY_NOTE = (
    "Cells: mean ± sample std over the *n* folds trained per intensity, no bootstrap interval; with one fold "
    "each cell is one model: a single measurement, no interval, and a difference between cells cannot be told "
    "from noise."
)


def drift_section(summaries: Mapping[str, Mapping[str, Any]], results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Markdown lines: one row per dataset's 12×12 drift matrix (``results/drift/{dataset}/summary.json``)."""
    rows = []
    for s in summaries.values():
        found = _findings_of(results, s["dataset"], s["metric"])
        rows.append({
            "dataset": s["dataset"], "metric": s["metric"], "chance": _chance(results, s["dataset"], s["metric"]),
            "diagonal": s["diagonal_mean"],
            "off-diagonal": s["off_diagonal_mean"], "mean drop": s["mean_drop"],
            "mean drop 90 % CI": _ci((found or {}).get("findings", {}).get("mean_drop")), "n": sample_size(found),
            "max drop": s["max_drop"],
            "worst pair (train→test)": " → ".join(s["max_drop_pair"]),
            "rows with best diagonal": f"{s['rows_with_diagonal_best']}/{s['n_views']}",
            "cells below diagonal": f"{s['cells_below_diagonal']}/{s['n_off_diagonal']}",
        })  # fmt: skip
    return ["## Drift synthesis (12×12 views)", "", _table(pd.DataFrame(rows)), "", DRIFT_NOTE, ""]


def corruption_section(comparisons: Mapping[str, pd.DataFrame], results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Markdown lines: ISP drift vs common corruptions per dataset (``results/corruptions/{dataset}/comparison.csv``)."""
    if not comparisons:
        return []
    rows = []
    for dataset, c in comparisons.items():
        a = c[c["view"] == "all"].iloc[0]
        found = _findings_of(results, dataset, a["metric"])
        f = (found or {}).get("findings", {})
        rows.append({"dataset": dataset, "metric": a["metric"], "clean": a["clean"], "chance": a.get("chance", float("nan")),
                     "drop under ISP drift": a["drift_drop"], "drop under corruptions": a["corruption_drop"],
                     "ISP drop / headroom": a.get("drift_drop_normalised", float("nan")),
                     "corruption drop / headroom": a.get("corruption_drop_normalised", float("nan")),
                     "ratio": a["corruption_to_drift_ratio"], "ratio 90 % CI": _ci(f.get("corruption_to_drift_ratio"), 1, difference=False),
                     "corruption drop 90 % CI": _ci(f.get("corruption_drop")), "n": sample_size(found, "corruption_images_per_fold"),
                     "ratio at chance": a.get("ratio_at_chance", float("nan"))})  # fmt: skip
    before, after = CORRUPTION_NOTES
    return ["## ISP drift vs common corruptions", "", before, "", _table(pd.DataFrame(rows)), "", after, ""]


def intensity_section(paths: Sequence[str], headline: Mapping[str, str], results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Markdown lines: train/test intensity cells per dataset (``results/intensity/{dataset}/matrix.csv``)."""
    if not paths:
        return []
    rows = []
    for p in paths:
        dataset = _dataset_of(p)
        m = pd.read_csv(p)
        metric = headline.get(dataset) or ("accuracy" if "accuracy" in set(m["metric"]) else DEFAULT_SEGMENTATION_HEADLINE)
        m = m[m["metric"] == metric]
        lo, hi = m["train_intensity"].min(), m["train_intensity"].max()
        rows.append({"dataset": dataset, "metric": metric, "chance": _chance(results, dataset, metric),
                     f"train {hi:g}→test {hi:g}": _intensity_cell(m, hi, hi), f"train {hi:g}→test {lo:g}": _intensity_cell(m, hi, lo),
                     f"train {lo:g}→test {lo:g}": _intensity_cell(m, lo, lo), "n": _folds_text(m["n"])})  # fmt: skip
    return ["## Intensity drift", "", _table(pd.DataFrame(rows)), "", INTENSITY_NOTE, ""]


def fold_tables_section(title: str, paths: Sequence[str], note: str, headline: Mapping[str, str]) -> list[str]:
    """Markdown lines: one fold table per file (forensics, customization), in the dataset's headline metric;
    a customization ``verdict.csv`` (learned vs static ISP, 90 % interval over folds) is shown whole."""
    if not paths:
        return []
    lines = [f"## {title}", "", note, ""]
    for p in paths:
        dataset = _dataset_of(p)
        frame = pd.read_csv(p)
        if Path(p).name == "verdict.csv":
            lines += [f"### {dataset}: learned ISP vs static view", "", _table(frame), ""]
            continue
        keep = {headline[dataset]} if dataset in headline else set(HEADLINE_METRIC.values())
        frame = frame[frame["metric"].isin(keep)]  # one metric keeps it readable
        lines += [f"### {dataset}", "", _table(frame), ""]
    return lines


def write_summary(
    out_path,
    *,
    datasets: Sequence[str],
    drift: Sequence[str],
    findings: Sequence[str] = (),
    corruptions: Sequence[str] = (),
    intensity: Sequence[str] = (),
    forensics: Sequence[str] = (),
    customization: Sequence[str] = (),
    qa: Sequence[str] = (),
    robust: Sequence[str] = (),
    kinds: Sequence[str] | None = None,
    segmentation_headline: str = DEFAULT_SEGMENTATION_HEADLINE,
) -> str:
    """Write ``results/summary.md``.

    Args:
        datasets: the run's datasets; ``kinds``: their kinds (classification | segmentation), same order
            (None: taken from the drift summaries' metric).
        drift, corruptions, intensity, forensics, customization: result files per dataset (the dataset is
            the file's parent folder, or the ``dataset`` field of a drift summary).
        findings: ``results/findings/{dataset}.json`` (their ``dataset`` field): the paper comparison.
        qa: the QA stage's ``summary.csv`` files (:func:`lens2logit.qa.table.summary_markdown`).
        segmentation_headline: ``iou_dataset`` | ``iou_image`` (config ``report.segmentation_headline``).
    """
    summaries = {s["dataset"]: s for s in (json.loads(Path(p).read_text()) for p in drift)}
    if kinds is not None:
        headline = {t: headline_metric(k, segmentation_headline) for t, k in zip(datasets, kinds)}
    else:
        headline = {t: s["metric"] for t, s in summaries.items()}
    results = {r["dataset"]: r for r in (json.loads(Path(p).read_text()) for p in findings)}
    parts = ["# lens2logit results", ""]
    parts += paper_section(results)
    parts += drift_section(summaries, results)
    parts += corruption_section({_dataset_of(p): pd.read_csv(p) for p in corruptions}, results)
    parts += intensity_section(intensity, headline, results)
    parts += fold_tables_section("Drift forensics", forensics, FOLD_TABLE_NOTE, headline)
    parts += fold_tables_section("ISP customization", customization, f"{FOLD_TABLE_NOTE} {VERDICT_NOTE}", headline)
    parts += summary_markdown(qa)
    parts += robust_section(robust)
    text = "\n".join(parts) + "\n"
    write_text(out_path, text)
    return text
