"""``lens2logit study seeds``: compare the findings of two or more runs (seed stability).

``lens2logit study seeds RUN1/results RUN2/results --out table.md`` reads each run's
``findings/*.json``, rebuilds the bootstrap replicates from the record tables they name, and writes a
Markdown table (:func:`lens2logit.study.seeds.seed_table`; with three or more runs also the calibration
table, :func:`lens2logit.study.seeds.calibration_table`).
"""

from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    study = subparsers.add_parser("study", help="questions across workflow runs: seed stability of the findings")
    commands = study.add_subparsers(dest="study_command", required=True)
    p = commands.add_parser("seeds", help="every finding with its 90 %% interval per run, verdicts, and which lie within seed noise")
    p.add_argument("results", nargs="+", type=Path, help="results folders of two or more runs (each with findings/*.json)")
    p.add_argument("--names", default=None, help="comma-separated run names (default: the folders)")
    p.add_argument("-o", "--out", type=Path, default=None, help="write the Markdown table here (default: stdout)")
    p.set_defaults(func=_seeds)


def _seeds(args) -> int:
    from lens2logit.study.seeds import write_seed_table

    text = write_seed_table(args.results, args.out, args.names.split(",") if args.names else None)
    if args.out is None:
        sys.stdout.write(text)
    else:
        print(f"wrote {args.out}")
    return 0
