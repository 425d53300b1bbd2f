"""The environment's set-up: the lock is what runs, and the installer passes pip's package sources to uv."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from conftest import REPO


def load_installer():
    spec = importlib.util.spec_from_file_location("install", REPO / "requirements" / "install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_running_environment_is_the_lock():
    """Every distribution installed here is pinned in requirements/lock.txt at the installed version
    (the installer's own pip and uv, and the project itself, aside)."""
    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"],
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    installed = {line.lower() for line in freeze if "==" in line and not line.lower().startswith(("pip==", "uv==", "lens2logit"))}
    lock = {line.strip().lower() for line in (REPO / "requirements" / "lock.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")}  # fmt: skip
    assert installed == lock, f"installed, not locked: {sorted(installed - lock)[:10]}; locked, not installed: {sorted(lock - installed)[:10]}"


def test_pip_sources_become_uv_flags(monkeypatch):
    """The sources pip is configured with (here through PIP_* variables, config files off) reach uv in order."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///opt/a/simple file:///opt/b/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")
    flags = load_installer().pip_sources(sys.executable)
    assert flags == ["--index-url", "https://mirror.example/simple",
                     "--extra-index-url", "file:///opt/a/simple", "--extra-index-url", "file:///opt/b/simple",
                     "--find-links", "/opt/wheels"]  # fmt: skip


def test_no_configured_sources_give_no_flags(monkeypatch):
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    assert load_installer().pip_sources(sys.executable) == []


def test_pip_variables_override_its_config_file(monkeypatch, tmp_path):
    """pip's precedence: a PIP_* variable wins over the same option in a configuration file."""
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nfind-links = /from/file\nextra-index-url = file:///file/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    monkeypatch.setenv("PIP_FIND_LINKS", "/from/variable")
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    flags = load_installer().pip_sources(sys.executable)
    assert flags == ["--extra-index-url", "file:///file/simple", "--find-links", "/from/variable"]
