"""Command line: ``lens2logit <command> ...``.

Each sub-module registers its commands with ``register(subparsers)``; the handler is stored
as ``func`` and receives the parsed namespace. Errors from bad input are printed as one
line naming the file or option, with exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from lens2logit.errors import InputError

# Sub-modules that contribute commands, in help order.
_COMMAND_MODULES = (
    "lens2logit.cli.isp", "lens2logit.cli.data", "lens2logit.cli.config", "lens2logit.cli.runs", "lens2logit.cli.workflow",
    "lens2logit.cli.study",
    "lens2logit.cli.qa",
)


def package_version() -> str:
    """The installed distribution's version (pyproject.toml), or ``unknown`` when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lens2logit")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="lens2logit",
        description="Raw sensor data and explicit ISP models for hardware-drift studies. "
        "The full study runs as a Snakemake workflow (see README).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (InputError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        print(f"lens2logit: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lens2logit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
