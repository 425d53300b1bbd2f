"""The package layers of docs/architecture.md, enforced: a module imports only from its own layer
or the layers below it, and the independent packages of one layer do not import each other.

Every import counts, also those inside functions (a deferred import is a dependency all the same)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "lens2logit"

# Bottom to top. Within a layer, a tuple of packages that must not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "io", "schema", "statistics"),  # foundation (may import each other)
    ("isp",),
    ("data",),
    ("architectures", "models", "training", "paths", "reporting"),  # core: models, training, metrics, results layout, figures
    ("corruptions", "forensics", "customization"),  # studies that stand alone
    ("drift",),  # the headline study (its findings compare with the corruptions baseline)
    ("robust", "qa"),  # studies built on drift's models
    ("study",),  # the run as a whole: summary, seeds, timing
    ("tracking",),  # the lab log
    ("workflow",),  # config checks, plan, code hash, job wrapper
    ("cli",),
    ("__main__",),
]
# Packages of one layer that may import each other (the foundation's small modules, the core).
SHARED_LAYERS = {0, 3}
LAYER = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> set[str]:
    """Top-level lens2logit packages ``path`` imports (absolute and relative, at any depth)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: -node.level] if path.name != "__init__.py" else module.split(".")[: len(module.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            names = [f"{name}.{a.name}" for a in node.names] if name == "lens2logit" else [name]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {_top(n) for n in names if n.startswith("lens2logit.")}
    return found


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_package_has_a_layer():
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _modules()} - {"__init__"}
    assert tops - set(LAYER) == set(), "add the new package to LAYERS and docs/architecture.md"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down_the_layers(path):
    top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if top == "__init__":
        return
    own = LAYER[top]
    wrong = sorted(
        name for name in _imports(path) - {top, "__init__"}
        if LAYER[name] > own or (LAYER[name] == own and own not in SHARED_LAYERS)
    )  # fmt: skip
    assert wrong == [], f"{path.relative_to(PACKAGE)} (layer {own}: {top}) imports {wrong}"


def test_the_check_sees_deferred_and_relative_imports(tmp_path, monkeypatch):
    """The check itself: an import inside a function and a relative import are both found."""
    fake = tmp_path / "lens2logit"
    (fake / "isp").mkdir(parents=True)
    (fake / "isp" / "x.py").write_text("def f():\n    from lens2logit.workflow import job\nfrom ..drift import render\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert _imports(fake / "isp" / "x.py") == {"workflow", "drift"}
