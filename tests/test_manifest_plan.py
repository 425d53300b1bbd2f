"""The plan's one call per path-data branch: manifest check and content fingerprint with one hash cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import lens2logit.data.manifest as manifest
from lens2logit.data.manifest import branch_fingerprint, check_branch, checked_branch_fingerprint
from lens2logit.data.synth import synthesize
from lens2logit.errors import InputError


@pytest.fixture(scope="module")
def micro(tmp_path_factory) -> Path:
    return synthesize("microscopy", tmp_path_factory.mktemp("d") / "microscopy", seed=0, n=1, size=32)


@pytest.fixture
def copy(micro, tmp_path) -> Path:
    return Path(shutil.copytree(micro, tmp_path / "microscopy"))


def test_checked_fingerprint_is_the_check_then_the_fingerprint(copy, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    assert checked_branch_fingerprint("microscopy", copy, 0.05, cache_dir=cache) == branch_fingerprint(
        "microscopy", copy, 0.05, cache_dir=tmp_path / "other")
    # One read of the cache file per call (check and fingerprint share it), and nothing re-hashed.
    reads = []
    real_init = manifest.HashCache.__init__
    monkeypatch.setattr(manifest.HashCache, "__init__", lambda self, *a, **k: (reads.append(1), real_init(self, *a, **k))[1])
    monkeypatch.setattr(manifest, "sha256_file", lambda p: pytest.fail(f"re-hashed {p}"))
    checked_branch_fingerprint("microscopy", copy, 0.05, cache_dir=cache)
    assert len(reads) == 1
    monkeypatch.undo()
    victim = sorted((copy / "images" / "raw_scale005").glob("*.tiff"))[0]
    data = bytearray(victim.read_bytes())
    data[-3] ^= 0x01
    victim.write_bytes(bytes(data))
    with pytest.raises(InputError, match=f"1 changed \\(images/raw_scale005/{victim.name}\\)"):
        checked_branch_fingerprint("microscopy", copy, 0.05, cache_dir=cache)
    accepted = checked_branch_fingerprint("microscopy", copy, 0.05, accept_changes=True, cache_dir=cache)
    assert accepted == branch_fingerprint("microscopy", copy, 0.05, cache_dir=cache)
    assert check_branch("microscopy", copy, 1.0, cache_dir=cache).ok  # other branches unaffected


def test_checked_fingerprint_without_a_manifest_is_the_fingerprint(copy, tmp_path):
    (copy / "MANIFEST.sha256").unlink()
    assert checked_branch_fingerprint("microscopy", copy, 1.0, cache_dir=tmp_path) == branch_fingerprint(
        "microscopy", copy, 1.0, cache_dir=tmp_path)


def test_config_override_names_the_base_it_checked_against(tmp_path):
    """Without --base the check uses ./config.yaml (else the workflow's own); the message names that file."""
    import subprocess
    import sys

    from conftest import REPO, WORKFLOW_ENV

    out = tmp_path / "o.yaml"
    proc = subprocess.run([sys.executable, "-m", "lens2logit", "config", "override", "seed=4", "-o", str(out)],
                          cwd=REPO, env=WORKFLOW_ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "(merged over config.yaml)" in proc.stdout and "None" not in proc.stdout


def test_synthesis_hashes_every_written_file_once(tmp_path, monkeypatch):
    """synth.json's fingerprint and the manifest share the hashes; the manifest still verifies."""
    from collections import Counter

    from lens2logit.data.manifest import verify_manifest

    real, calls = manifest.sha256_file, Counter()
    monkeypatch.setattr(manifest, "sha256_file", lambda p: (calls.update([Path(p).name]), real(p))[1])
    root = synthesize("microscopy", tmp_path / "m", seed=1, n=1, size=16)
    assert calls and max(calls.values()) <= 7  # one hash per file: the 7 intensity folders share names
    monkeypatch.undo()
    assert verify_manifest(root) == []


@pytest.mark.parametrize("stage", ["forensics", "customization", "intensity_drift"])
def test_a_stage_asking_for_more_folds_than_trained_is_refused(stage):
    from conftest import TEST_CONFIG

    from lens2logit.workflow.config import check_config

    from lens2logit.schema import with_defaults

    config = with_defaults({**TEST_CONFIG, "drift": {**TEST_CONFIG["drift"], "folds": 3, "use_folds": 1},
                            stage: {**TEST_CONFIG.get(stage, {}), "enabled": True, "folds": 2}})
    with pytest.raises(InputError, match=rf"{stage}\.folds: 2 exceeds the trained drift folds \(1: drift\.use_folds"):
        check_config(config)
