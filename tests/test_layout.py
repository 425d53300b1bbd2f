"""The package's shape: no import cycles (lazy imports included), figures only in ``reporting``,
no module left at the old places."""

from __future__ import annotations

import ast
from pathlib import Path

from lens2logit.workflow import codehash

PACKAGE_DIR = codehash.SRC_ROOT / codehash.PACKAGE


def _module_name(path: Path) -> str:
    parts = path.relative_to(codehash.SRC_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package: dotted name → file (a package is its ``__init__.py``)."""
    return {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """module → the package modules its import statements name, anywhere in its code (function-level
    imports included; ``from p import sub`` names the submodule, ``from p import name`` the package).
    The parent packages Python runs first are not edges: they are not what the module asks for."""
    modules = package_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {m for m, _ in codehash.imports(path, name)}
        unknown = {t for t in targets if t not in modules}
        assert not unknown, f"{path}: imports modules that do not exist: {sorted(unknown)}"
        graph[name] = targets - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first == last), or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_cycle_finder_sees_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_import_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "lens2logit.isp.camera" in graph["lens2logit.isp.io"]
    # only inside functions:
    assert "lens2logit.reporting.study" in graph["lens2logit.drift.aggregate"]
    assert "lens2logit.training.evaluate" in graph["lens2logit.training.scoring"]
    assert len(graph) > 60


def test_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def _imports_matplotlib(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "matplotlib" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "matplotlib":
            return True
    return False


def test_figures_are_drawn_only_in_reporting():
    drawing = {name for name, path in package_modules().items() if _imports_matplotlib(path)}
    assert drawing, "the check sees matplotlib imports"
    assert {name for name in drawing if not name.startswith("lens2logit.reporting")} == set()


def test_layout_packages():
    """The architecture's packages (docs/architecture.md; their layers: tests/test_layers.py): one per
    study with its entry module, the core, the glue; nothing left at the old places."""
    names = set(package_modules())
    studies = {"drift.render", "drift.aggregate", "drift.bootstrap", "corruptions.benchmark", "forensics.attack",
               "customization.joint", "robust.train", "robust.isp_random", "qa.table", "study.summary"}
    core = {"training.train", "training.evaluate", "training.scoring", "training.augment", "training.splits",
            "data.export", "statistics", "paths", "schema"}
    glue = {"workflow.config", "workflow.plan", "workflow.codehash", "workflow.stale_lock", "tracking.sync"}
    assert {f"lens2logit.{m}" for m in studies | core | glue} <= names
    assert {"lens2logit.reporting.study", "lens2logit.reporting.isp", "lens2logit.reporting.datasets"} <= names
    old = {"stages", "experiments", "plots", "plots_isp", "config", "codehash", "stale_lock"}
    assert {n for n in names if n.split(".")[1:2] and n.split(".")[1] in old} == set()


def test_scripts_benchmarks_and_tests_import_existing_modules():
    """A moved module leaves no caller behind (no compatibility stubs: callers import the new place)."""
    repo = codehash.SRC_ROOT.parent
    files = [p for d in ("scripts", "benchmarks", "tests") for p in sorted((repo / d).rglob("*.py"))]
    assert files
    missing = [(str(p.relative_to(repo)), m) for p in files for m, _ in codehash.imports(p) if codehash.module_file(m) is None]
    assert not missing, missing
