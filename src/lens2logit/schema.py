"""The configuration schema (``schemas/config.schema.yaml``): the one definition of every option.

Its types, ranges, allowed values and ``default:`` are the options'; nothing else restates them.
What it cannot express (a view with a differentiable twin, cross-field rules, files on disk) is
checked once, at plan time, by :func:`lens2logit.workflow.config.check_config`.

* :func:`with_defaults`: a config validated, every option left out filled (as Snakemake's
  ``validate(config, schema)`` does inside the workflow), errors as one line naming the key.
* :func:`section_with_defaults`: the same for one section (``forensics``), for the option objects
  the experiments build from it.
* :func:`schema_default`: the default of one dotted option.
* :func:`coerce_config`: ``--config`` strings converted to the schema's types where unambiguous.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Mapping

from lens2logit.errors import InputError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"

# ---------------------------------------------------------------- coercion of --config strings

def _resolve(schema: dict, root: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        node = root
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        merged = {**node, **siblings}
        if "properties" in node and "properties" in siblings:  # a $ref extended with more properties
            merged["properties"] = {**node["properties"], **siblings["properties"]}
        schema = merged
    return schema if isinstance(schema, dict) else {}


def _option_node(schema: dict, key: str) -> dict:
    """The (resolved) schema node of a dotted option or section (``forensics.steps``)."""
    node = schema
    for part in key.split("."):
        node = _resolve(node, schema)["properties"][part]
    return _resolve(node, schema)


def _types(schema: dict, root: dict) -> list[dict]:
    """The alternatives of a schema node (``oneOf``/``anyOf`` branches, or the node itself)."""
    schema = _resolve(schema, root)
    branches = schema.get("oneOf") or schema.get("anyOf")
    return [_resolve(b, root) for b in branches] if branches else [schema]


def _type_names(schema: dict) -> set[str]:
    t = schema.get("type")
    if t is None:
        if "const" in schema or "enum" in schema:
            values = [schema["const"]] if "const" in schema else schema["enum"]
            return {_json_type(v) for v in values}
        return set()
    return {t} if isinstance(t, str) else set(t)


# JSON schema type of a Python value; bool before int (a bool is an int in Python).
_JSON_TYPES = ((type(None), "null"), (bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
               (list, "array"), (dict, "object"))


def _json_type(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)


def _fits(value: Any, schema: dict) -> bool:
    names = _type_names(schema)
    found = _json_type(value)
    ok = found in names or (found == "integer" and "number" in names) or not names
    if ok and "enum" in schema:
        ok = value in schema["enum"]
    if ok and "const" in schema:
        ok = value == schema["const"]
    return ok


def coerce_value(value: Any, schema: dict, root: dict) -> Any:
    """``value`` with strings converted where the schema node wants another type (see module doc)."""
    import yaml

    branches = _types(schema, root)
    if isinstance(value, str):
        if any("string" in _type_names(b) and _fits(value, b) for b in branches):
            return value
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if isinstance(parsed, str):  # YAML 1.1 reads "1e3" as text; JSON schema numbers accept it
            try:
                parsed = float(value)
            except ValueError:
                pass
        if not isinstance(parsed, str) and any(_fits(parsed, b) for b in branches):
            return coerce_value(parsed, schema, root)
        return value
    if isinstance(value, dict):
        node = next((b for b in branches if "object" in _type_names(b) or "properties" in b), None)
        if node is None:
            return value
        props = node.get("properties", {})
        extra = node.get("additionalProperties")
        return {
            k: coerce_value(v, props[k], root) if k in props else coerce_value(v, extra, root) if isinstance(extra, dict) else v
            for k, v in value.items()
        }
    if isinstance(value, list):
        node = next((b for b in branches if "array" in _type_names(b)), None)
        if node is None or not isinstance(node.get("items"), dict):
            return value
        return [coerce_value(v, node["items"], root) for v in value]
    return value


@functools.lru_cache(maxsize=4)
def _parsed_schema(path: str, mtime_ns: int) -> dict:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where built: 10× faster
    return yaml.load(Path(path).read_text(), Loader=loader)


def load_schema(path=SCHEMA_PATH) -> dict:
    """The schema as a fresh dict (parsed once per file version)."""
    path = Path(path)
    return copy.deepcopy(_parsed_schema(str(path), path.stat().st_mtime_ns))


def coerce_config(config: dict, schema_path) -> dict:
    """A copy of ``config`` with ``--config`` strings converted to the schema's types where unambiguous."""
    schema = load_schema(schema_path)
    return coerce_value(dict(config), schema, schema)


# ---------------------------------------------------------------- defaults from the schema


def _plain(value: Any) -> Any:
    """A deep copy with tuples as lists: what YAML gives, and what the schema's ``array`` means
    (option objects and checkpoints hold tuples)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return copy.deepcopy(value)


def _filled(instance: Any, schema: dict, prefix: str = "") -> Any:
    """A deep copy of ``instance`` validated against ``schema`` with every left-out option that has
    a ``default:`` filled in; InputError (:func:`schema_error_line`, keys under ``prefix``) if invalid."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, node_instance, node):
        if isinstance(node_instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    node_instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, node_instance, node)

    filled = _plain(instance)
    validator = jsonschema.validators.extend(base, {"properties": set_defaults})(schema)
    errors = sorted(validator.iter_errors(filled), key=lambda e: [str(p) for p in e.absolute_path])
    lines = list(dict.fromkeys(schema_error_line(e, prefix) for e in errors))  # every problem, once each
    if lines:
        raise InputError("\n".join(lines))
    return filled


def with_defaults(config: dict, schema_path=SCHEMA_PATH) -> dict:
    """``config`` validated against the schema, every option left out filled with its ``default:``.

    The schema is the single source of defaults. Inside the workflow Snakemake's
    ``validate(config, schema)`` (``set_default=True``) does the same; this is for callers outside
    Snakemake (the CLI, tests). Returns a filled deep copy; raises InputError with one line per
    schema violation, each naming its key.
    """
    return _filled(config, load_schema(schema_path))


def section_with_defaults(key: str, section: Mapping[str, Any] | None, schema_path=SCHEMA_PATH) -> dict:
    """One section of the config (dotted ``key``: ``forensics``, ``customization.neural``) validated
    against its part of the schema and filled with its defaults; errors name ``key.option``."""
    schema = load_schema(schema_path)
    # the section's schema with the root's definitions, so that its $refs resolve
    sub = {**_option_node(schema, key), "definitions": schema.get("definitions", {})}
    sub.pop("default", None)
    return _filled(dict(section or {}), sub, prefix=key)


# Longest schema message kept in a one-line error (a value's repr can be long).
MAX_MESSAGE = 400


def schema_error_line(error, prefix: str = "") -> str:
    """One line for a jsonschema error: ``config {dotted.key}: {message}[; allowed: …]``.

    The key is the dotted path of the bad value under ``prefix`` (``views.0``, ``forensics.steps``,
    ``(top level)``); an unknown key
    lists the allowed ones, a value failing every alternative (``oneOf``) the one closest to it.
    """
    error = _deepest(error)
    key = ".".join([prefix] * bool(prefix) + [str(p) for p in error.absolute_path]) or "(top level)"
    message = " ".join(error.message.split())
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + " …"
    allowed = ""
    if error.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(error.schema, dict):
        names = sorted(error.schema.get("properties", {}))
        if names:
            allowed = f"; allowed: {', '.join(names)}"
    elif error.validator in ("oneOf", "anyOf") and isinstance(error.schema, dict) and error.schema.get("description"):
        allowed = f"; allowed: {' '.join(str(error.schema['description']).split())}"
    return f"config {key}: {message}{allowed}"


def _deepest(error):
    """For a failed ``oneOf``/``anyOf``: the best error of the alternative whose type fits the value
    (``views: ["bi,s,xx"]`` → the list item's ``not one of`` error), else ``error``."""
    import jsonschema

    while error.validator in ("oneOf", "anyOf") and error.context:
        fitting = [e for e in error.context if e.path or e.validator not in ("type", "const")]
        if not fitting:  # the value's type fits no alternative: keep the parent error
            break
        error = jsonschema.exceptions.best_match(fitting)
    return error


def check_schema(config: dict, schema_path=SCHEMA_PATH) -> None:
    """InputError with :func:`schema_error_line` for the first schema violation of ``config``
    (before Snakemake's ``validate()``, whose message dumps the schema and the whole config)."""
    with_defaults(config, schema_path)


def schema_default(path: str, schema_path=SCHEMA_PATH) -> Any:
    """The schema's ``default:`` of a dotted option (``forensics.steps``); KeyError if it has none."""
    node = _option_node(load_schema(schema_path), path)
    if "default" not in node:
        raise KeyError(f"{path} has no default in the schema")
    return node["default"]


def schema_choices(definition: str, schema_path=SCHEMA_PATH) -> tuple:
    """The ``enum`` of one of the schema's ``definitions`` (``augmentation``): the allowed values of
    every option that refers to it."""
    return tuple(load_schema(schema_path)["definitions"][definition]["enum"])
