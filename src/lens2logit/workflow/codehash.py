"""Which library code a workflow script runs, and one hash of it, so that reruns follow the code.

Snakemake's ``code`` trigger sees only a rule's own script; the logic lives in
``src/lens2logit``. :func:`code_hash` follows the script's imports of ``lens2logit`` modules
(transitively, at module level and inside functions, absolute and relative) by static analysis
of the source, never by importing it, and hashes what it finds. Rules pass the hash as a
``params:`` value (``code=code_hash("scripts/train_models.py")`` in ``rules/common.smk``), so a
change to a library module reruns exactly the jobs whose scripts import it, and everything
downstream of them.

What counts as a change: the syntax tree without docstrings, so editing a comment, a docstring
or the formatting reruns nothing, while any change of behaviour does. The serialisation is
our own (node types and non-empty fields), so it does not depend on the Python version's
``ast.dump`` format.

Importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` first; they count too.
A module imported only inside a function counts as well: static analysis cannot tell whether
that function runs, so the hash errs towards rerunning.
"""

from __future__ import annotations

import ast
import hashlib
import os
from functools import lru_cache
from pathlib import Path

PACKAGE = "lens2logit"
SRC_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the package
HASH_LENGTH = 16  # hex digits kept: short in Snakemake's metadata and logs, collisions irrelevant
CACHE_ENV = "LENS2LOGIT_CODEHASH_CACHE"  # folder of cached hashes (default: $XDG_CACHE_HOME/lens2logit/codehash)


def module_file(name: str, root: Path = SRC_ROOT) -> Path | None:
    """The source file of module ``name`` (``a.b`` → ``root/a/b.py`` or ``root/a/b/__init__.py``), or None."""
    base = root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=None)
def _parse_cached(path: Path, mtime_ns: int, size: int) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _parse(path: Path) -> ast.Module:
    """The file's syntax tree, parsed once per version of the file (rules ask for many scripts)."""
    path = path.resolve()
    stat = path.stat()
    return _parse_cached(path, stat.st_mtime_ns, stat.st_size)


def _resolve(node: ast.ImportFrom, here: str | None) -> str | None:
    """The absolute module name of a ``from ... import`` (None: relative import in a script)."""
    if not node.level:
        return node.module or ""
    if here is None:
        return None
    parts = here.split(".")
    anchor = parts[: len(parts) - node.level + 1]
    return ".".join(anchor + ([node.module] if node.module else []))


def imports(path: Path, module: str | None = None, *, names: frozenset[str] | None = None,
            package: str = PACKAGE, root: Path = SRC_ROOT) -> list[tuple[str, frozenset[str] | None]]:
    """The ``package`` imports of the file at ``path``, anywhere in its code: [(module, names)].

    ``names`` is None when the whole module is needed (``import m``, a submodule, or a
    definition of a regular module), else the names taken from a package (``from p import x``):
    a package's ``__init__`` is then followed only for those names, because its other imports
    re-export modules the importer does not use. ``module`` is the file's own dotted name (None
    for a script), needed for relative imports. With ``names`` given (the file is a package's
    ``__init__``), only the import statements that bind one of them are returned.
    """
    path = Path(path).resolve()
    stat = path.stat()
    return list(_imports(path, stat.st_mtime_ns, stat.st_size, module, names, package, Path(root)))


@lru_cache(maxsize=None)
def _imports(path: Path, mtime_ns: int, size: int, module: str | None, names: frozenset[str] | None,
             package: str, root: Path) -> tuple[tuple[str, frozenset[str] | None], ...]:
    tree = _parse(Path(path))
    if module is None:
        here = None
    elif Path(path).name == "__init__.py":
        here = module
    else:
        here = module.rpartition(".")[0]
    found: list[tuple[str, frozenset[str] | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if names is None or bound in names:
                    found.append((alias.name, None))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, here)
            if base is None:
                continue
            for alias in node.names:
                if names is not None and (alias.asname or alias.name) not in names:
                    continue
                if alias.name == "*":
                    found.append((base, None))
                elif module_file(f"{base}.{alias.name}", root) is not None:
                    found.append((f"{base}.{alias.name}", None))  # a submodule
                else:
                    found.append((base, frozenset([alias.name])))
    return tuple((m, n) for m, n in found if m == package or m.startswith(package + "."))


def defined_names(path: Path) -> set[str]:
    """Names a file binds at top level other than by importing (functions, classes, assignments)."""
    tree = _parse(Path(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif not isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return names


def module_closure(script: str | Path, *, package: str = PACKAGE, root: Path = SRC_ROOT) -> dict[str, Path]:
    """Every ``package`` module the script's code uses, directly or through other modules: {name: file}.

    A regular module counts whole (all its imports are followed); a package's ``__init__`` that
    runs only because a submodule is imported counts itself, and its imports are followed only
    for the names someone takes from the package (see :func:`imports`).
    """
    todo = imports(Path(script), package=package, root=root)
    seen: dict[str, Path] = {}
    done: set[tuple[str, frozenset[str] | None]] = set()
    while todo:
        name, names = todo.pop()
        if module_file(name, root) is None:
            continue
        path = module_file(name, root)
        if names is not None and (path.name != "__init__.py" or names & defined_names(path)):
            names = None  # defined here (not re-exported): the module counts whole
        if (name, names) in done or (name, None) in done:
            continue
        done.add((name, names))
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # Python runs every parent package's __init__
            parent = ".".join(parts[:i])
            seen.setdefault(parent, module_file(parent, root))
        todo.extend(imports(path, name, names=names, package=package, root=root))
    return dict(sorted(seen.items()))


def _strip_docstring(body: list) -> list:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def _serialise(node) -> str:
    """A stable text form of a syntax tree: node types and non-empty fields, no positions, no docstrings."""
    if isinstance(node, ast.AST):
        parts = []
        for field in node._fields:
            value = getattr(node, field, None)
            if field == "body" and isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                value = _strip_docstring(value)
            if value is None or value == []:
                continue
            parts.append(f"{field}={_serialise(value)}")
        return f"{type(node).__name__}({','.join(parts)})"
    if isinstance(node, list):
        return "[" + ",".join(_serialise(v) for v in node) + "]"
    return repr(node)


@lru_cache(maxsize=None)
def _file_digest(path: Path, mtime_ns: int, size: int) -> str:
    tree = _parse_cached(path, mtime_ns, size)
    return hashlib.sha256(_serialise(tree).encode()).hexdigest()


def source_digest(path: str | Path) -> str:
    """sha256 of a Python file's syntax tree without docstrings (comments and layout never count)."""
    path = Path(path).resolve()
    stat = path.stat()
    return _file_digest(path, stat.st_mtime_ns, stat.st_size)


def code_hash(script: str | Path, *, package: str = PACKAGE, root: Path = SRC_ROOT) -> str:
    """One short hash of the library code ``script`` runs (see the module docstring).

    The script itself is Snakemake's to track; this covers the ``package`` modules it imports.
    Raises FileNotFoundError naming the script if it does not exist.
    """
    script = Path(script)
    if not script.is_file():
        raise FileNotFoundError(f"code_hash: no script {script}")
    h = hashlib.sha256()
    for name, path in module_closure(script, package=package, root=root).items():
        h.update(f"{name}\0{source_digest(path)}\n".encode())
    return h.hexdigest()[:HASH_LENGTH]


# ---- a cache across processes: every `snakemake` call and every cluster job parses the workflow and
# asks for every rule's hash; the syntax trees of the whole library take ≈ 1.5 s to walk, a lookup
# keyed by the files' bytes a few milliseconds.


def default_cache_dir() -> Path:
    """``$LENS2LOGIT_CODEHASH_CACHE``, else ``$XDG_CACHE_HOME/lens2logit/codehash`` (``~/.cache`` without it)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lens2logit" / "codehash"


@lru_cache(maxsize=None)
def _package_digest(root: Path, package: str, stamp: tuple) -> str:
    h = hashlib.sha256()
    for rel, _, _ in stamp:
        h.update(f"{rel}\0".encode() + hashlib.sha256((root / rel).read_bytes()).digest())
    return h.hexdigest()


def cache_key(script: str | Path, *, package: str = PACKAGE, root: Path = SRC_ROOT) -> str:
    """sha256 of everything :func:`code_hash` reads: the script's bytes and the name and bytes of every
    ``.py`` file of ``package`` (not where the tree lives)."""
    root = Path(root)
    stamp = tuple((p.relative_to(root).as_posix(), p.stat().st_mtime_ns, p.stat().st_size)
                  for p in sorted((root / package).rglob("*.py")))  # fmt: skip
    return hashlib.sha256(Path(script).read_bytes() + _package_digest(root, package, stamp).encode()).hexdigest()


def cached_code_hash(script: str | Path, *, cache_dir: Path | None = None, package: str = PACKAGE, root: Path = SRC_ROOT) -> str:
    """:func:`code_hash`, kept in ``cache_dir`` (default :func:`default_cache_dir`) under :func:`cache_key`:
    the same files give the same hash, so a stored answer never goes stale. An unwritable cache is skipped."""
    if not Path(script).is_file():
        raise FileNotFoundError(f"code_hash: no script {script}")
    path = Path(cache_dir or default_cache_dir()) / cache_key(script, package=package, root=root)
    try:
        stored = path.read_text().strip()
        if len(stored) == HASH_LENGTH:
            return stored
    except OSError:
        pass
    value = code_hash(script, package=package, root=root)
    try:
        from lens2logit.io import write_text

        write_text(path, value + "\n")
    except OSError:
        pass
    return value
