"""lens2logit.workflow.codehash: which library modules a script runs, and a hash that changes with their code only."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lens2logit.workflow.codehash import code_hash, module_closure, source_digest

REPO = Path(__file__).resolve().parents[1]


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def pkg(tmp_path):
    """A small package `lens2logit` in tmp: re-exporting __init__, relative and function-level imports."""
    root = tmp_path / "src"
    write(root, "lens2logit/__init__.py", '"""Top."""\n')
    write(root, "lens2logit/io.py", "def save(x):\n    return x\n")
    write(root, "lens2logit/isp/__init__.py", """\
        from lens2logit.isp.camera import get_camera
        from lens2logit.isp.pipeline import render
        """)
    write(root, "lens2logit/isp/camera.py", "def get_camera(name):\n    return name\n")
    write(root, "lens2logit/isp/pipeline.py", "from .demosaic import bilinear\n\ndef render(x):\n    return bilinear(x)\n")
    write(root, "lens2logit/isp/demosaic.py", '''\
        """Demosaicers."""

        def bilinear(x):
            """Average neighbours."""
            return x  # identity here
        ''')
    write(root, "lens2logit/data.py", """\
        from lens2logit.isp.camera import get_camera

        def load():
            from lens2logit.io import save  # function-level import
            return save(get_camera("drone"))
        """)
    write(root, "lens2logit/aggregate.py", "import numpy as np\nfrom lens2logit import io\n\ndef table(x):\n    return x\n")
    scripts = tmp_path / "scripts"
    write(scripts, "prepare.py", "from lens2logit.data import load\nload()\n")
    write(scripts, "render.py", "from lens2logit.isp import render\nrender(1)\n")
    write(scripts, "aggregate.py", "import json\nfrom lens2logit.aggregate import table\n")
    return root, scripts


def test_closure_follows_imports_transitively_and_inside_functions(pkg):
    root, scripts = pkg
    assert set(module_closure(scripts / "prepare.py", root=root)) == {
        "lens2logit", "lens2logit.data", "lens2logit.io", "lens2logit.isp", "lens2logit.isp.camera"}
    # relative import in pipeline.py; the package __init__ followed for the name `render` only
    assert set(module_closure(scripts / "render.py", root=root)) == {
        "lens2logit", "lens2logit.isp", "lens2logit.isp.pipeline", "lens2logit.isp.demosaic"}
    # `from lens2logit import io`: a submodule; third-party and stdlib imports are ignored
    assert set(module_closure(scripts / "aggregate.py", root=root)) == {
        "lens2logit", "lens2logit.aggregate", "lens2logit.io"}


def test_hash_changes_with_code_only_of_the_modules_a_script_runs(pkg):
    root, scripts = pkg
    before = {s: code_hash(scripts / f"{s}.py", root=root) for s in ("prepare", "render", "aggregate")}
    demosaic = root / "lens2logit/isp/demosaic.py"
    text = demosaic.read_text()

    # comments, docstrings and layout do not count
    demosaic.write_text(text.replace("# identity here", "# changed comment").replace("Average neighbours.", "Mean.")
                        .replace("return x", "return (x)"))
    assert {s: code_hash(scripts / f"{s}.py", root=root) for s in before} == before

    # a change of behaviour does, for the scripts that run the module only
    demosaic.write_text(text.replace("return x", "return x * 2"))
    after = {s: code_hash(scripts / f"{s}.py", root=root) for s in before}
    assert after["render"] != before["render"]
    assert after["prepare"] == before["prepare"] and after["aggregate"] == before["aggregate"]

    # a function-level import counts
    io = root / "lens2logit/io.py"
    io.write_text(io.read_text().replace("return x", "return [x]"))
    assert code_hash(scripts / "prepare.py", root=root) != before["prepare"]
    assert code_hash(scripts / "aggregate.py", root=root) != before["aggregate"]


def test_hash_depends_on_module_names_not_on_where_the_tree_lives(pkg, tmp_path):
    import shutil

    root, scripts = pkg
    copy = tmp_path / "elsewhere" / "src"
    shutil.copytree(root, copy)
    assert code_hash(scripts / "render.py", root=copy) == code_hash(scripts / "render.py", root=root)


def test_missing_script_is_named():
    with pytest.raises(FileNotFoundError, match="no_such_script.py"):
        code_hash("scripts/no_such_script.py")


def test_real_scripts_split_the_library_as_expected():
    """The workflow's scripts: aggregation and the demosaicer reach only the rules that use them."""
    closure = {p.stem: set(module_closure(p)) for p in sorted((REPO / "scripts").glob("*.py"))}
    uses = lambda module: {s for s, mods in closure.items() if module in mods}  # noqa: E731
    assert uses("lens2logit.drift.aggregate") == {
        "aggregate_drift", "aggregate_corruptions", "aggregate_intensity", "aggregate_robust"}  # summarize reads their tables
    assert uses("lens2logit.reporting.study") == uses("lens2logit.drift.aggregate")  # figures follow the tables
    assert uses("lens2logit.statistics") >= {"aggregate_drift", "summarize", "forensics", "customization"}
    demosaic = uses("lens2logit.isp.demosaic")
    assert "render_views" in demosaic and "render_views" in uses("lens2logit.isp.pipeline")
    assert not demosaic & {"synthesize_data", "prepare_dataset", "make_splits", "train_models", "timing"}
    for script, mods in closure.items():
        assert "lens2logit.workflow" in mods, script  # every script runs inside workflow.job


def test_source_digest_ignores_docstrings_but_not_strings(tmp_path):
    a = write(tmp_path, "a.py", 'def f():\n    """Doc."""\n    return "x"\n')
    b = write(tmp_path, "b.py", 'def f():\n    """Other doc."""\n\n    return "x"  # note\n')
    c = write(tmp_path, "c.py", 'def f():\n    """Doc."""\n    return "y"\n')
    assert source_digest(a) == source_digest(b) != source_digest(c)


@pytest.mark.parametrize("package", ["isp", "training"])
def test_library_imports_lazy_package_names_from_their_modules(package):
    """lens2logit.isp and lens2logit.training export their names lazily (planning stays free of
    PyTorch), so the code hash, which follows import statements, would not see what a
    `from lens2logit.isp import render` runs: the library and the scripts import from the submodules
    (`from lens2logit.isp import pipeline` names a submodule, fine)."""
    import re

    submodules = {p.stem for p in (REPO / "src/lens2logit" / package).glob("*.py")}
    offenders = {}
    for path in sorted([*(REPO / "src/lens2logit").rglob("*.py"), *(REPO / "scripts").rglob("*.py")]):
        for names in re.findall(rf"^\s*from lens2logit\.{package} import (.+)$", path.read_text(), re.M):
            lazy = {n.split(" as ")[0].strip(" ()") for n in names.split(",")} - submodules - {""}
            if lazy:
                offenders[str(path.relative_to(REPO))] = sorted(lazy)
    assert not offenders


def test_cached_hash_is_the_hash_and_follows_every_change(pkg, tmp_path, monkeypatch):
    from lens2logit.workflow import codehash

    root, scripts = pkg
    cache = tmp_path / "cache"
    script = scripts / "render.py"
    first = codehash.cached_code_hash(script, cache_dir=cache, root=root)
    assert first == code_hash(script, root=root) and len(list(cache.iterdir())) == 1
    with monkeypatch.context() as m:  # a second process: the answer comes from the cache
        m.setattr(codehash, "code_hash", lambda *a, **k: pytest.fail("not served from the cache"))
        assert codehash.cached_code_hash(script, cache_dir=cache, root=root) == first
    # any library file or the script itself changes the key, so a stored hash never goes stale
    write(root, "lens2logit/isp/demosaic.py", "def bilinear(x):\n    return x + 1\n")
    second = codehash.cached_code_hash(script, cache_dir=cache, root=root)
    assert second != first and second == code_hash(script, root=root)
    write(root, "lens2logit/unrelated.py", "X = 1\n")  # not imported: same hash, new key
    assert codehash.cached_code_hash(script, cache_dir=cache, root=root) == second and len(list(cache.iterdir())) == 3
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert codehash.cached_code_hash(script, cache_dir=blocked / "sub", root=root) == second  # unwritable: computed
