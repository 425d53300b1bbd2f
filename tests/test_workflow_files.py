"""The workflow's own files agree with each other (issue 19, defects D3-D6): every profile reruns on
the same triggers, the package requires the Snakemake the Snakefile needs, every scripted rule
reruns when its library code changes, and the rules define no name that nothing uses."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from conftest import REPO

RULE_FILES = sorted((REPO / "rules").glob("*.smk")) + [REPO / "Snakefile"]
PROFILES = sorted(p.parent.name for p in (REPO / "profiles").glob("*/config.yaml"))
# What decides a rerun; profiles/default explains why `mtime` must stay out (pulled files).
RERUN_SETTINGS = ("rerun-triggers", "max-checksum-file-size")


def profile(name: str) -> dict:
    return yaml.safe_load((REPO / "profiles" / name / "config.yaml").read_text())


@pytest.mark.parametrize("name", [p for p in PROFILES if p != "default"])
def test_every_profile_reruns_like_the_default_one(name):
    """A job reruns for the same reasons whichever profile runs it (no `mtime`: a `dvc pull` plans nothing)."""
    default, other = profile("default"), profile(name)
    assert "mtime" not in default["rerun-triggers"]
    assert {k: other.get(k) for k in RERUN_SETTINGS} == {k: default[k] for k in RERUN_SETTINGS}


def test_package_requires_the_snakemake_the_snakefile_needs():
    needed = re.search(r'min_version\("([\d.]+)"\)', (REPO / "Snakefile").read_text()).group(1)
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["workflow"]
    (pin,) = [r for r in extras if re.match(r"snakemake\s*[><=]", r)]
    allowed = re.search(r">=\s*([\d.]+)", pin).group(1)
    as_tuple = lambda v: (tuple(int(x) for x in v.split(".")) + (0, 0, 0))[:3]  # noqa: E731
    assert as_tuple(allowed) >= as_tuple(needed), (pin, needed)


def scripted_rules() -> list[tuple[str, str, str]]:
    """(rule name, its script, its text) of every rule with a ``script:`` directive."""
    found = []
    for path in RULE_FILES:
        blocks = re.split(r"^\s*(?:rule|use rule) ", path.read_text(), flags=re.M)[1:]
        for block in blocks:
            script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w.]+)"', block)
            if script:
                found.append((block.split(":")[0].split()[0], script.group(1), block))
    return found


def test_every_scripted_rule_reruns_when_its_library_code_changes():
    """Each rule's params carry the hash of the library code its script runs (lens2logit.workflow.codehash)."""
    rules = scripted_rules()
    assert {"ingest_mlflow", "train_models", "prepare_dataset"} <= {name for name, _, _ in rules}
    missing = [name for name, script, text in rules if f'code=script_code("{script}")' not in text]
    assert missing == []


def top_level_names(text: str) -> set[str]:
    """Names a workflow file defines at its top level: assignments, functions and imports."""
    names = set(re.findall(r"^([A-Za-z_]\w*)\s*=(?!=)", text, re.M))
    names |= set(re.findall(r"^def ([A-Za-z_]\w*)", text, re.M))
    for group in re.findall(r"^from \S+ import \(?([^)]*?)\)?$", text, re.M | re.S):
        names |= {n.strip().split(" as ")[-1] for n in group.replace("\n", ",").split(",") if n.strip()}
    return names


def test_workflow_files_define_no_unused_names():
    texts = {path: path.read_text() for path in RULE_FILES}
    everything = "\n".join(texts.values())
    unused = sorted(
        f"{path.relative_to(REPO)}: {name}"
        for path, text in texts.items()
        for name in top_level_names(text)
        if len(re.findall(rf"\b{name}\b", everything)) < 2
    )
    assert unused == []
