"""``lens2logit config override KEY.PATH=VALUE ... -o FILE``: a second config file for nested overrides.

Snakemake's ``--config`` cannot address nested keys (``data.source=path`` is refused); this writes
them as a YAML file to pass as a second ``--configfile`` (merged over ``config.yaml``), and checks the
merged result against the schema first.
"""

from __future__ import annotations

from pathlib import Path

from lens2logit.workflow.config import read_config_file
from lens2logit.errors import InputError


def register(subparsers) -> None:
    config = subparsers.add_parser("config", help="workflow configuration: nested overrides as a second --configfile")
    commands = config.add_subparsers(dest="config_command", required=True)
    p = commands.add_parser("override", help="write KEY.PATH=VALUE pairs (VALUE in YAML) to a config file")
    p.add_argument("pairs", nargs="+", metavar="KEY.PATH=VALUE", help='e.g. drift.folds=3 data.source=path \'views=["bi,s,ga"]\'')
    p.add_argument("-o", "--out", type=Path, required=True, help="YAML file to write (existing values are kept unless overridden)")
    _check_options(p)
    p.set_defaults(func=_override)

    p = commands.add_parser("check", help="check config files as the workflow would: YAML syntax (file:line) and the schema, one line")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="config files, merged in order over --base (as --configfile does)")
    _check_options(p)
    p.set_defaults(func=_check)


def _check_options(p) -> None:
    p.add_argument("--base", type=Path, default=None,
                   help="config the files are merged over, for the check (default ./config.yaml, else the workflow's own)")
    p.add_argument("--schema", type=Path, default=None,
                   help="schema (default ./schemas/config.schema.yaml, else the workflow's own)")


def _resolve(given: Path | None, relative: str) -> Path:
    """``given``, else ``relative`` in the current folder, else next to the installed workflow's schema;
    InputError when none exists (the check is never skipped silently)."""
    from lens2logit.schema import SCHEMA_PATH

    candidates = [given] if given is not None else [Path(relative), SCHEMA_PATH.parents[1] / relative]
    for path in candidates:
        if path.is_file():
            return path
    raise InputError(
        f"{candidates[0]}: not found, so the result cannot be checked; run in the workflow's folder or pass "
        f"--{'base' if relative == 'config.yaml' else 'schema'}"
    )


def merge(base: dict, extra: dict) -> dict:
    """Nested update, as Snakemake merges config files."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _check_merged(files_merged: dict, args) -> Path:
    """The merge of ``files_merged`` over the base config, checked against the schema (one-line
    InputError); returns the base config it was merged over."""
    from lens2logit.schema import check_schema

    base, schema = _resolve(args.base, "config.yaml"), _resolve(args.schema, "schemas/config.schema.yaml")
    check_schema(merge(read_config_file(base), files_merged), schema)
    return base


def _check(args) -> int:
    merged: dict = {}
    for path in args.files:
        merged = merge(merged, read_config_file(path))
    _check_merged(merged, args)
    print(f"{', '.join(map(str, args.files))}: valid")
    return 0


def _override(args) -> int:
    import yaml

    from lens2logit.workflow.config import override
    from lens2logit.io import write_text

    pairs = override(args.pairs)
    current = read_config_file(args.out) if args.out.exists() else {}
    written = merge(current, pairs)
    base = _check_merged(written, args)
    write_text(args.out, yaml.safe_dump(written, sort_keys=False))
    print(f"{args.out}: written; run snakemake --configfile {args.out} (merged over {base})")
    return 0
