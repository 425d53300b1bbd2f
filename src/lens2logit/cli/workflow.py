"""``lens2logit workflow unlock-stale``: clear the lock a killed Snakemake left (``make run`` calls it)."""

from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    workflow = subparsers.add_parser("workflow", help="workflow housekeeping: clear a killed run's stale lock")
    commands = workflow.add_subparsers(dest="workflow_command", required=True)
    p = commands.add_parser(
        "unlock-stale",
        help="remove .snakemake/locks when no Snakemake process works in the directory (after kill -9)",
    )
    p.add_argument("--directory", type=Path, default=Path("."), help="the workflow's directory (default: current)")
    p.set_defaults(func=_unlock_stale)


def _unlock_stale(args) -> int:
    from lens2logit.workflow.stale_lock import unlock_stale

    ok, message = unlock_stale(args.directory)
    if message:
        print(f"lens2logit: {'' if ok else 'error: '}{message}", file=sys.stderr)
    return 0 if ok else 1
