"""The workflow's device option and GPU profiles, checked by dry runs (no job runs)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import tool_env

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "schemas", "report", "envs", "config.yaml", "configs", "profiles")
GPU_RULES = {"train_models", "train_models_intensity", "evaluate_models", "score_corruptions",
             "drift_forensics", "isp_customization"}


def _workflow(dest: Path, **training) -> Path:
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    config = yaml.safe_load((REPO / "configs/test.yaml").read_text())
    config["training"].update(training)
    (dest / "configs/device.yaml").write_text(yaml.safe_dump(config))
    return dest


def _dry_run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "-n", "--configfile", "configs/device.yaml", *args]
    return subprocess.run(cmd, cwd=workdir, env=tool_env(), capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_fails_at_plan_time_naming_the_option(tmp_path):
    proc = _dry_run(_workflow(tmp_path, device="cuda"), "--cores", "1")
    assert proc.returncode != 0
    assert "training.device" in proc.stderr + proc.stdout
    assert "rule train_models" not in proc.stdout  # refused before any job was planned


def test_gpu_profile_is_valid_and_gives_gpu_slots_to_the_model_rules(tmp_path):
    proc = _dry_run(_workflow(tmp_path, device="auto", amp="bf16"), "--workflow-profile", "profiles/gpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    slots = {}
    for block in re.split(r"\n(?=\[.*\]\nrule |rule )", proc.stdout):
        rule = re.match(r"(?:\[.*\]\n)?rule (\w+):", block)
        resources = re.search(r"resources: (.*)", block)
        if rule and resources:
            slots[rule.group(1)] = "gpu_slots=1" in resources.group(1)
    assert {r for r, has in slots.items() if has} == GPU_RULES
    assert set(slots) - GPU_RULES  # CPU rules were planned too, without a slot
