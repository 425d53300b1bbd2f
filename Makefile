# Two entry points: `make run` (set up, run the embedded default study) and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
CORES ?= 8
export HF_HUB_OFFLINE := 1
export DVC_NO_ANALYTICS := 1
export PYTHONHASHSEED := 0
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: setup lock run test lint bench share pull slurm-up slurm-down clean

# Idempotent: reinstalls only when the locked requirements or pyproject change. The lock's exact
# distributions, with uv where it can be had (parallel: ≈ 50 s instead of pip's ≈ 140 s), else pip.
$(STAMP): requirements/lock.txt requirements/install.py pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python requirements/install.py $(BIN)/python 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e . 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
	touch $(STAMP)

# Resolve requirements/direct.txt into requirements/lock.txt with pip, in a scratch environment.
lock:
	rm -rf .lock-venv && $(PY) -m venv .lock-venv
	.lock-venv/bin/pip install -q -r requirements/direct.txt
	{ sed -n 1,2p requirements/lock.txt; .lock-venv/bin/pip freeze --all | grep -v -i -e '^pip==' -e '^lens2logit'; } > requirements/lock.txt.new
	mv requirements/lock.txt.new requirements/lock.txt && rm -rf .lock-venv

setup: $(STAMP)

# A lock left by a killed Snakemake is cleared first (only when no Snakemake runs here), so this resumes.
run: setup
	$(BIN)/lens2logit workflow unlock-stale
	$(BIN)/snakemake --cores $(CORES) --printshellcmds
	$(BIN)/snakemake --report results/report.html

# Two pytest-xdist workers, a test file at a time; the files that share the session's study run on one
# of them (tests/conftest.py, pytest_xdist_make_scheduler).
test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests

lint: setup
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules

bench: setup
	$(BIN)/python benchmarks/isp.py
	$(BIN)/python benchmarks/train_input.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/dag.py

# Version the finished study with DVC and push it (ARGS: `dvc push` options, e.g. ARGS="-r b2");
# then commit the .dvc files it names.
share: setup
	$(BIN)/python scripts/dvc/share.py $(ARGS)

# Restore results from the DVC remote so that `snakemake -n` has nothing to do. A bare `dvc pull`
# does too while every file is under the profile's max-checksum-file-size (64 MB); this also
# unifies file times (paper-scale files) and names corrupted remote objects.
pull: setup
	$(BIN)/python scripts/dvc/pull.py $(ARGS)

# A single-node SLURM on 127.0.0.1 for trying profiles/slurm (needs root and apt).
slurm-up:
	scripts/slurm/local_cluster.sh start

slurm-down:
	scripts/slurm/local_cluster.sh stop

clean:
	rm -rf results logs .snakemake
