"""Trustworthy inputs (issue 11), library and CLI level: manifests that mean what they say,
content fingerprints, config checks before compute, one-line user errors, synth limits."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lens2logit.workflow.config import check_config, override

from lens2logit.schema import coerce_config, with_defaults
from lens2logit.data.layout import MANIFEST
from lens2logit.data.manifest import (
    branch_files,
    branch_fingerprint,
    check_branch,
    read_manifest,
    verify_files,
    write_manifest,
)
from lens2logit.data.synth import synthesize
from lens2logit.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "config.schema.yaml"
TEST_CONFIG = yaml.safe_load((REPO / "configs" / "test.yaml").read_text())


@pytest.fixture(scope="module")
def micro(tmp_path_factory) -> Path:
    return synthesize("microscopy", tmp_path_factory.mktemp("data") / "microscopy", seed=4, n=5, size=16)


@pytest.fixture
def copy(micro, tmp_path) -> Path:
    import shutil

    dest = tmp_path / "microscopy"
    shutil.copytree(micro, dest)
    return dest


def cli(*argv: str, cwd=None) -> subprocess.CompletedProcess:
    """The real console entry point in a subprocess: what a user sees."""
    code = "import sys; from lens2logit.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=cwd, timeout=120)


# ------------------------------------------------------------------ manifest and verify

def test_verify_flags_extra_missing_and_changed_files_with_counts(copy):
    (copy / "images" / "raw_scale100" / "stray.tiff").write_bytes(b"not listed")
    (copy / "notes.txt").write_text("mine")
    victim = sorted((copy / "images" / "raw_scale050").glob("*.tiff"))[0]
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x07")
    gone = sorted((copy / "images" / "raw_scale005").glob("*.tiff"))[-1]
    gone.unlink()
    check = verify_files(copy)
    assert check.extra == ["images/raw_scale100/stray.tiff", "notes.txt"]
    assert check.changed == [f"images/raw_scale050/{victim.name}"]
    assert check.missing == [f"images/raw_scale005/{gone.name}"]
    proc = cli("data", "verify", "microscopy", "--root", str(copy))
    assert proc.returncode == 1
    assert "2 extra (images/raw_scale100/stray.tiff, notes.txt)" in proc.stderr
    assert "1 changed" in proc.stderr and "1 missing" in proc.stderr


@pytest.mark.parametrize("content, needle", [
    (b"", "lists no files"), (b"\n\n", "lists no files"), (b"\xff\xfe garbage", "not UTF-8"),
])
def test_verify_refuses_empty_or_unreadable_manifest_in_one_line(copy, content, needle):
    (copy / MANIFEST).write_bytes(content)
    with pytest.raises(InputError, match=needle):
        read_manifest(copy)
    proc = cli("data", "verify", "microscopy", "--root", str(copy))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(copy / MANIFEST) in lines[0] and needle in lines[0]


def test_verify_update_accepts_a_deliberate_change(copy):
    victim = sorted((copy / "images" / "raw_scale100").glob("*.tiff"))[0]
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x03")
    assert cli("data", "verify", "microscopy", "--root", str(copy)).returncode == 1
    assert cli("data", "verify", "microscopy", "--root", str(copy), "--update", cwd=copy.parent).returncode == 0
    assert cli("data", "verify", "microscopy", "--root", str(copy)).returncode == 0


# ------------------------------------------------------------------ fingerprint and branch check

def test_fingerprint_follows_content_per_branch_and_is_cached(copy, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    before = {i: branch_fingerprint("microscopy", copy, i, cache_dir=cache) for i in (0.05, 1.0)}
    assert len(list(cache.glob("*.json"))) == 1  # outside the data folder
    # Same content, new mtime: same fingerprint. Other bytes in one intensity: only that branch changes.
    victim = sorted((copy / "images" / "raw_scale005").glob("*.tiff"))[0]
    other = sorted((copy / "images" / "raw_scale005").glob("*.tiff"))[1]
    victim.write_bytes(victim.read_bytes())
    assert branch_fingerprint("microscopy", copy, 0.05, cache_dir=cache) == before[0.05]
    victim.write_bytes(other.read_bytes())
    assert branch_fingerprint("microscopy", copy, 0.05, cache_dir=cache) != before[0.05]
    assert branch_fingerprint("microscopy", copy, 1.0, cache_dir=cache) == before[1.0]
    # The cache is used: an unchanged file (same size and mtime) is not read again.
    import lens2logit.data.manifest as manifest

    monkeypatch.setattr(manifest, "sha256_file", lambda p: pytest.fail(f"re-hashed {p}"))
    branch_fingerprint("microscopy", copy, 1.0, cache_dir=cache)


def test_branch_check_names_the_changed_file_and_can_accept(copy, tmp_path):
    assert check_branch("microscopy", copy, 0.05, cache_dir=tmp_path).ok
    victim = sorted((copy / "images" / "raw_scale005").glob("*.tiff"))[2]
    data = bytearray(victim.read_bytes())
    data[-3] ^= 0x01  # one flipped bit
    victim.write_bytes(bytes(data))
    with pytest.raises(InputError, match=f"1 changed \\(images/raw_scale005/{victim.name}\\)"):
        check_branch("microscopy", copy, 0.05, cache_dir=tmp_path)
    assert check_branch("microscopy", copy, 1.0, cache_dir=tmp_path).ok  # other branches unaffected
    assert check_branch("microscopy", copy, 0.05, accept_changes=True, cache_dir=tmp_path).changed == [
        f"images/raw_scale005/{victim.name}"]
    assert "labels/Ma190c_annotations.dat" in branch_files("microscopy", copy, 0.05)


# ------------------------------------------------------------------ one-line user errors

def test_cli_user_errors_are_one_line_naming_the_file(copy, tmp_path):
    labels = copy / "labels" / "Ma190c_annotations.dat"
    labels.write_bytes(labels.read_bytes().replace(b"EOS", b"E\xe9S", 1))
    proc = cli("data", "info", "microscopy", "--root", str(copy))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(labels) in lines[0] and "UTF-8" in lines[0], proc.stderr
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    for argv in (["data", "info", "microscopy"], ["data", "verify", "microscopy"],
                 ["data", "synth", "microscopy", "--seed", "1"]):
        proc = cli(*argv, "--root", str(a_file))
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and str(a_file) in lines[0], (argv, proc.stderr)


def test_size_mismatch_names_the_odd_file_even_when_it_sorts_first(copy):
    from lens2logit.data import load_dataset
    from lens2logit.data.synth import _write_tiff
    import numpy as np

    first = sorted((copy / "images" / "raw_scale100").glob("*.tiff"))[0]
    _write_tiff(first, np.zeros((18, 16), np.uint16))
    with pytest.raises(InputError) as err:
        load_dataset("microscopy", copy, 1.0)
    assert str(err.value).startswith(f"{first}:")
    assert "(18, 16)" in str(err.value)


# ------------------------------------------------------------------ synth limits

def test_synth_refuses_to_delete_files_it_did_not_write(copy):
    mine = copy / "images" / "raw_scale100" / "my_extra.tiff"
    mine.write_bytes(b"user file")
    (copy / "README.txt").write_text("notes")
    with pytest.raises(InputError, match=r"2 file\(s\) that synthesis did not write \(README.txt, images/raw_scale100/my_extra.tiff\)"):
        synthesize("microscopy", copy, seed=5, n=5, size=16)  # other parameters: would rewrite the folder
    assert mine.read_bytes() == b"user file" and (copy / "README.txt").is_file()
    assert synthesize("microscopy", copy, seed=4, n=5, size=16) == copy  # identical: a no-op, nothing deleted
    assert mine.is_file()


def test_synth_cli_refuses_unloadable_and_oversized_datasets(tmp_path):
    root = tmp_path / "m"
    proc = cli("data", "synth", "microscopy", "--root", str(root), "--seed", "1", "--n", "4")
    assert proc.returncode == 2 and "n: 4 cannot load" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = cli("data", "synth", "microscopy", "--root", str(root), "--seed", "1", "--n", "1000000000")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert re.search(r"need [\d.]+ [TP]B", proc.stderr) and "free" in proc.stderr
    assert not root.exists() and not (tmp_path / ".partial-m").exists()


# ------------------------------------------------------------------ download on a complete folder

def test_download_on_a_complete_folder_reverifies_or_refuses(copy, monkeypatch):
    from lens2logit.data import download as dl

    remote = [dl.RemoteFile("Raw-Microscopy.zip", 10, "md5", "0" * 32, lambda offset, out: None)]
    monkeypatch.setattr(dl, "zenodo_files", lambda *a, **k: remote)
    with pytest.raises(InputError, match="not a download"):  # synthetic data with a manifest
        dl.download("microscopy", copy)
    from lens2logit.io import write_json

    write_json(copy / dl.DOWNLOAD_RECORD, dl.download_record("microscopy", "zenodo", remote, "zenodo record 5235536"))
    write_manifest(copy)
    assert dl.download("microscopy", copy) == copy
    with pytest.raises(InputError, match="not of 'microscopy' from zenodo record 42"):
        dl.download("microscopy", copy, zenodo_record=42)
    victim = sorted((copy / "images" / "raw_scale010").glob("*.tiff"))[0]
    victim.write_bytes(b"corrupt")
    with pytest.raises(InputError, match=f"1 changed \\(images/raw_scale010/{victim.name}\\)"):
        dl.download("microscopy", copy)
    victim.unlink()
    write_manifest(copy)
    remote[0] = dl.RemoteFile("Raw-Microscopy.zip", 10, "md5", "1" * 32, lambda offset, out: None)
    with pytest.raises(InputError, match="remote files changed"):
        dl.download("microscopy", copy)


# ------------------------------------------------------------------ config: overrides and plan-time checks

def test_config_strings_from_snakemake_are_typed_where_unambiguous():
    cfg = {**TEST_CONFIG, "drift": {"folds": "3", "augmentations": ["weak"]}, "seed": 3,
           "forensics": {**TEST_CONFIG["forensics"], "lambdas": ["0", "1e3"], "enabled": "true"},
           "corruptions": {**TEST_CONFIG["corruptions"], "max_samples": "null"},
           "views": ["bi,s,ga", "ma,s,ga", "me,u,ga"], "unsharp": "2d"}
    typed = coerce_config(cfg, SCHEMA)
    assert typed["drift"]["folds"] == 3 and typed["forensics"]["lambdas"] == [0, 1000.0]
    assert typed["forensics"]["enabled"] is True and typed["corruptions"]["max_samples"] is None
    assert typed["unsharp"] == "2d" and typed["views"] == cfg["views"]  # strings the schema wants stay
    assert coerce_config({**cfg, "drift": {"folds": "three"}}, SCHEMA)["drift"]["folds"] == "three"  # left to validate


def test_dotted_overrides_become_nested():
    assert override(["drift.folds=3", "data.source=path", 'views=["bi,s,ga"]']) == {
        "drift": {"folds": 3}, "data": {"source": "path"}, "views": ["bi,s,ga"]}
    with pytest.raises(InputError, match="key.path=value"):
        override(["drift.folds"])


def test_an_unknown_top_level_key_is_refused_naming_it():
    """No rename shims: an old name such as ``tasks`` (now ``datasets``) is an unknown option, named."""
    old = {"tasks": TEST_CONFIG["datasets"], **{k: v for k, v in TEST_CONFIG.items() if k != "datasets"}}
    with pytest.raises(InputError, match="tasks"):
        with_defaults(old)


def test_config_override_cli_refuses_an_unknown_key_and_writes_nothing(tmp_path):
    proc = cli("config", "override", "tasks=[microscopy]", "-o", str(tmp_path / "old.yaml"), cwd=REPO)
    assert proc.returncode == 2
    assert "'tasks' was unexpected" in proc.stderr and "datasets" in proc.stderr
    assert not (tmp_path / "old.yaml").exists()


def _cfg(**changes):
    cfg = yaml.safe_load(yaml.safe_dump(TEST_CONFIG))
    for key, value in changes.items():
        node = cfg
        *parents, last = key.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return cfg


@pytest.mark.parametrize("changes, key, bad", [
    ({"forensics__view": "me,u,ga"}, "forensics.view", "'me,u,ga'"),
    ({"customization__view": "bi,u,me"}, "customization.view", "'bi,u,me'"),
    ({"training__classification__arch": "resnet19"}, "training.classification.arch", "'resnet19'"),
    ({"training__segmentation__arch": "unetplusplus:nonet"}, "training.segmentation.arch", "nonet"),
    ({"customization__neural__encoder": "tu-no_such_model"}, "customization.neural.encoder", "tu-no_such_model"),
    ({"training__classification__pretrained": "missing/weights.pt"}, "training.classification.pretrained", "missing/weights.pt"),
    ({"data__tile_size": 512}, "data.tile_size", "512"),
    ({"data__synthetic__microscopy": {"n": 5, "size": 32}, "drift__folds": 6}, "drift.folds", "6"),
])
def test_check_config_names_key_value_and_allowed(changes, key, bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the encoder-name cache lives under .snakemake/ of the working directory
    with pytest.raises(InputError) as err:
        check_config(_cfg(**changes), workdir=tmp_path)
    message = str(err.value)
    assert f"config {key}: " in message and bad in message, message


def test_check_config_path_data_intensities_and_class_counts(micro, tmp_path):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(micro, root / "microscopy")
    cfg = _cfg(datasets=["microscopy"], data={"source": "path", "root": str(root), "tile_size": 32})
    check_config(cfg)  # complete
    shutil.rmtree(root / "microscopy" / "images" / "raw_scale005")
    cfg["drift"]["folds"] = 6
    with pytest.raises(InputError) as err:
        check_config(cfg)
    message = str(err.value)
    assert "config intensity_drift.intensities[0]: 0.05" in message and "raw_scale005 not found" in message
    assert "config customization.intensities[0]: 0.05" in message
    assert "config drift.folds: 6 folds need at least 6 samples per class" in message


def test_twin_views_are_the_static_views_the_parametrized_isp_can_copy():
    from lens2logit.isp.views import TWIN_VIEWS, differentiable_demosaic, twin_view_problems

    assert TWIN_VIEWS == ["bi,s,ga", "ma,s,ga"]
    assert [differentiable_demosaic(v) for v in TWIN_VIEWS] == ["bilinear", "malvar2004"]
    assert twin_view_problems("bi-s-ga", "forensics.view") == []  # slugs name the same view
    assert twin_view_problems("bi,u,ga", "forensics.view") == [
        "forensics.view: 'bi,u,ga' has no differentiable twin; allowed: ['bi,s,ga', 'ma,s,ga']"]


def test_encoder_answers_are_cached_per_installed_version(tmp_path):
    from lens2logit.workflow.config import known_encoder

    cache = tmp_path / "encoders.json"
    assert known_encoder("tu-mobilenetv3_small_050", cache=cache) and not known_encoder("nonet", cache=cache)
    (entries,) = yaml.safe_load(cache.read_text()).values()
    assert entries == {"tu-mobilenetv3_small_050": True, "nonet": False}
