"""``lens2logit config override KEY.PATH=VALUE ... -o FILE``: a second config file for nested overrides.

Snakemake's ``--config`` cannot address nested keys (``data.source=path`` is refused); this writes
them as a YAML file to pass as a second ``--configfile`` (merged over ``config.yaml``), and checks the
merged result against the schema first.
"""

from __future__ import annotations

from pathlib import Path

from lens2logit.errors import InputError


def register(subparsers) -> None:
    config = subparsers.add_parser("config", help="workflow configuration: nested overrides as a second --configfile")
    commands = config.add_subparsers(dest="config_command", required=True)
    p = commands.add_parser("override", help="write KEY.PATH=VALUE pairs (VALUE in YAML) to a config file")
    p.add_argument("pairs", nargs="+", metavar="KEY.PATH=VALUE", help='e.g. drift.folds=3 data.source=path \'views=["bi,s,ga"]\'')
    p.add_argument("-o", "--out", type=Path, required=True, help="YAML file to write (existing values are kept unless overridden)")
    p.add_argument("--base", type=Path, default=Path("config.yaml"), help="config the file is merged over, for the check (default config.yaml)")
    p.add_argument("--schema", type=Path, default=Path("schemas/config.schema.yaml"))
    p.set_defaults(func=_override)


def merge(base: dict, extra: dict) -> dict:
    """Nested update, as Snakemake merges config files."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: not a readable YAML file ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of options")
    return data


def _override(args) -> int:
    import jsonschema
    import yaml

    from lens2logit.config import load_schema, override, upgrade_config
    from lens2logit.io import write_text

    pairs = override(args.pairs)
    current = _read_yaml(args.out) if args.out.exists() else {}
    written = merge(current, pairs)
    if args.base.is_file() and args.schema.is_file():
        try:
            merged = upgrade_config(merge(_read_yaml(args.base), written), override=written)
            jsonschema.validate(merged, load_schema(args.schema))
        except jsonschema.ValidationError as exc:
            from lens2logit.config import schema_error_line

            raise InputError(schema_error_line(exc)) from None
    write_text(args.out, yaml.safe_dump(written, sort_keys=False))
    print(f"{args.out}: written; run snakemake --configfile {args.out} (merged over {args.base})")
    return 0
