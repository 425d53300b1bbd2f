"""The paper's published findings, written once, and the rule that compares a run with them.

Sources: the published Figure 1 of "From Lens to Logit" (NeurIPS 2021) as quoted in issue 9, the
original README / abstract ("ten to four times less severe", reference-spec §7) and the paper's text
on drift synthesis (``docs/instruments.md`` of the shared notes, "What the paper found"). The paper
measured real microscope and drone data; this project's default run uses **synthetic data**, so a
row that agrees says the synthetic study tells the same story, not that it reproduces the numbers.

Agreement rule (:func:`agrees`), fixed before looking at any run and not tuned afterwards: a
magnitude agrees when the run's value lies within a factor of :data:`TOLERANCE_FACTOR` (2) of the
published one, i.e. in ``[value / 2, value · 2]`` — the loosest band in which two numbers still tell
the same story (a drop twice the published one is "comparable", one ten times larger is not); a
categorical claim (which test view stands out) agrees when it holds exactly. Non-positive or
missing values never agree with a positive claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

TOLERANCE_FACTOR = 2.0


@dataclass(frozen=True)
class Claim:
    """One published finding.

    Attributes:
        dataset: workflow dataset it is about (``microscopy`` | ``drone_segmentation``).
        quantity: key of the run's findings (:func:`run_findings`) it is compared with.
        value: published number, or a view label for a categorical claim.
        finding: what is claimed, in words.
        published: the published value as written there.
        source: where it is published.
    """

    dataset: str
    quantity: str
    value: float | str
    finding: str
    published: str
    source: str


FIGURE_1 = "paper Figure 1 (drift synthesis)"
README = 'original README/abstract: "ten to four times less severe"'
PAPER_TEXT = "paper text on drift synthesis"

PAPER_CLAIMS: tuple[Claim, ...] = (
    Claim("microscopy", "mean_drop", 0.02, "mean drop of accuracy, trained view → other views", "0.02 (0.83 → 0.81)", FIGURE_1),
    Claim("drone_segmentation", "mean_drop", 0.05, "mean drop of IoU, trained view → other views", "0.05 (0.70 → 0.66)", FIGURE_1),
    Claim("microscopy", "corruption_to_drift_ratio", 10.0, "drop under corruptions ÷ drop under ISP drift", "≈10×", README),
    Claim("drone_segmentation", "corruption_to_drift_ratio", 4.0, "drop under corruptions ÷ drop under ISP drift", "≈4×", README),
    Claim("microscopy", "max_relative_drop", 0.33, "worst case below the training view (relative)", "≈33 %", PAPER_TEXT),
    Claim("drone_segmentation", "max_relative_drop", 0.20, "worst case below the training view (relative)", "≈20 %", PAPER_TEXT),
    Claim("microscopy", "most_dropped_test_view", "ma,s,me", "test view that stands out with a clear drop", "ma,s,me", PAPER_TEXT),
)  # fmt: skip

COLUMNS = ["dataset", "finding", "paper", "this run", "agrees", "source"]


def agrees(claim: Claim, measured: Any) -> bool | None:
    """Whether a measured value agrees with a claim (None when the run did not measure it)."""
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return None
    if isinstance(claim.value, str):
        return str(measured) == claim.value
    measured = float(measured)
    if measured <= 0:
        return False
    return claim.value / TOLERANCE_FACTOR <= measured <= claim.value * TOLERANCE_FACTOR


def run_findings(drift_summary: Mapping[str, Any] | None, comparison: pd.DataFrame | None) -> dict[str, Any]:
    """The run's values of the claimed quantities, from a dataset's drift summary and corruption comparison.

    Args:
        drift_summary: ``results/drift/{dataset}/summary.json`` (:func:`~lens2logit.stages.aggregate.drift_summary`).
        comparison: ``results/corruptions/{dataset}/comparison.csv`` or None when corruptions were not run.
    """
    found: dict[str, Any] = {}
    if drift_summary is not None:
        found["mean_drop"] = drift_summary["mean_drop"]
        found["clean"] = drift_summary["diagonal_mean"]
        found["drifted"] = drift_summary["off_diagonal_mean"]
        found["max_relative_drop"] = drift_summary.get("max_relative_drop")
        found["max_relative_drop_pair"] = drift_summary.get("max_relative_drop_pair")
        found["most_dropped_test_view"] = drift_summary.get("most_dropped_test_view")
        found["metric"] = drift_summary["metric"]
    if comparison is not None:
        overall = comparison[comparison["view"] == "all"].iloc[0]
        found["corruption_to_drift_ratio"] = float(overall["corruption_to_drift_ratio"])
        found["ratio_at_chance"] = float(overall.get("ratio_at_chance", float("nan")))
    return found


def _describe(claim: Claim, found: Mapping[str, Any]) -> str:
    value = found.get(claim.quantity)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not run"
    if claim.quantity == "mean_drop":
        return f"{value:.3f} ({found['clean']:.3f} → {found['drifted']:.3f}, {found['metric']})"
    if claim.quantity == "corruption_to_drift_ratio":
        cap = found.get("ratio_at_chance", float("nan"))
        return f"{value:.1f}× ({cap:.1f}× if corruptions drove it to chance)" if math.isfinite(cap) else f"{value:.1f}×"
    if claim.quantity == "max_relative_drop":
        pair = found.get("max_relative_drop_pair") or ["?", "?"]
        return f"{100 * value:.0f} % ({pair[0]} → {pair[1]})"
    return str(value)


def compare_with_paper(findings: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per published claim: the paper's value beside this run's, and whether they agree.

    Args:
        findings: ``{dataset: run_findings(...)}`` for the datasets the run has; claims about other datasets
            are listed as "not run".

    Returns:
        columns :data:`COLUMNS`; ``agrees`` is ``yes`` / ``no`` / ``—`` (not measured).
    """
    rows = []
    for claim in PAPER_CLAIMS:
        found = findings.get(claim.dataset, {})
        verdict = agrees(claim, found.get(claim.quantity))
        rows.append({
            "dataset": claim.dataset, "finding": claim.finding, "paper": claim.published,
            "this run": _describe(claim, found), "agrees": {True: "yes", False: "no", None: "—"}[verdict], "source": claim.source,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def claims_text(dataset: str) -> str:
    """The paper's claims about one dataset in one sentence (for report captions); empty if none."""
    claims = [c for c in PAPER_CLAIMS if c.dataset == dataset]
    if not claims:
        return ""
    return "; ".join(f"{c.finding} {c.published}" for c in claims) + "."
