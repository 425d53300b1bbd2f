"""``lens2logit runs list|query``: the lab log without the MLflow UI.

``list`` prints or exports runs (CSV/JSON) with their parameters and final metrics, filtered with
MLflow's search syntax; ``query`` runs one of the paper's SQL questions (or any SQL) on the
SQLite store. The store defaults to ``$MLFLOW_TRACKING_URI`` or ``results/mlflow/mlflow.db``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lens2logit.errors import InputError


def register(subparsers) -> None:
    runs = subparsers.add_parser("runs", help="the lab log (MLflow): list, filter, export runs; SQL questions")
    commands = runs.add_subparsers(dest="runs_command", required=True)

    p = commands.add_parser("list", help="runs with params and final metrics, as a table, CSV or JSON")
    _store_options(p)
    p.add_argument("--experiment", action="append", default=[],
                   help="experiment name or its number 0-4 in the lab log (repeatable; default all)")
    p.add_argument("--filter", default="", help="MLflow search filter, e.g. \"params.dataset = 'microscopy' and metrics.val_accuracy > 0.5\"")
    p.add_argument("--columns", default=None, help="comma-separated columns (e.g. run_id,params.view,metrics.val_accuracy); default: all")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("-o", "--output", type=Path, default=None, help="write here instead of stdout")
    p.set_defaults(func=_list)

    from lens2logit.tracking.queries import QUERIES

    p = commands.add_parser("query", help=f"SQL on the SQLite store: one of {', '.join(QUERIES)} or an SQL text")
    _store_options(p)
    p.add_argument("sql", help="query name or SQL")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("-o", "--output", type=Path, default=None)
    p.add_argument("--show", action="store_true", help="print the SQL of a named query instead of running it")
    p.set_defaults(func=_query)


def _store_options(p) -> None:
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///<results>/mlflow/mlflow.db)")
    p.add_argument("--results", type=Path, default=Path("results"), help="results folder of the default store (default: results)")


def _emit(frame, fmt: str, output: Path | None) -> None:
    from lens2logit.io import write_text

    if fmt == "csv":
        text = frame.to_csv(index=False)
    elif fmt == "json":
        text = json.dumps(json.loads(frame.to_json(orient="records", date_format="iso")), indent=2) + "\n"
    else:
        text = (frame.to_string(index=False) if len(frame) else "(no runs)") + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        write_text(output, text)


def _list(args) -> int:
    from lens2logit.tracking.queries import search_runs
    from lens2logit.tracking.store import resolve_tracking_uri

    uri = resolve_tracking_uri(args.tracking_uri, args.results)
    frame = search_runs(uri, experiments=args.experiment, filter_string=args.filter)
    if not frame.empty:
        frame = frame.drop(columns=[c for c in ("experiment_id", "artifact_uri", "end_time") if c in frame.columns])
    if args.columns and not frame.empty:
        wanted = [c.strip() for c in args.columns.split(",") if c.strip()]
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise InputError(f"unknown column(s) {missing} (option --columns); available: {', '.join(frame.columns)}")
        frame = frame[wanted]
    _emit(frame, args.format, args.output)
    return 0


def _query(args) -> int:
    import pandas as pd

    from lens2logit.tracking.queries import QUERIES, run_sql
    from lens2logit.tracking.store import is_local_sqlite, resolve_tracking_uri, sqlite_path

    if args.show:
        if args.sql not in QUERIES:
            raise InputError(f"unknown query name {args.sql!r}; named queries: {', '.join(QUERIES)}")
        print(QUERIES[args.sql])
        return 0
    uri = resolve_tracking_uri(args.tracking_uri, args.results)
    if not is_local_sqlite(uri):
        raise InputError(f"SQL queries need the SQLite store (sqlite:///PATH), got {uri} (option --tracking-uri)")
    columns, rows = run_sql(sqlite_path(uri), args.sql)
    _emit(pd.DataFrame(rows, columns=columns), args.format, args.output)
    return 0
