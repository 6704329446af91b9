# Quick start:  make results   (set-up + the whole workflow + HTML report)
#               make test      (set-up + the test suite)
# Cluster:      make test-cluster  (a single-node SLURM on this machine runs the tiny workflow; needs root)
# Each target does its own set-up: a virtual environment in .venv, the CPU build of torch (installed
# first, so the package's torch range never pulls a CUDA build), the package, and the system tools.

VENV ?= .venv
PYTHON ?= python3
TORCH_SPEC ?= torch==2.13.0
CORES ?= all
BIN := $(VENV)/bin
RUN := PATH="$(CURDIR)/$(BIN):$$PATH"

.PHONY: setup system-tools cluster-tools results reference report test test-cluster lint bench clean

setup: $(VENV)/.installed system-tools

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# the authors' released MERLIN weights (S3) ship in this wheel; --no-deps: its opencv-python is not needed
	$(BIN)/python -m pip install --quiet --no-deps deepdespeckling==0.8
	touch $@

system-tools:
	@scripts/ensure-system-tools.sh

cluster-tools:
	@scripts/ensure-system-tools.sh --cluster

results: setup
	$(RUN) snakemake --cores $(CORES)
	$(RUN) snakemake --report results/report.html

# the reference run: `standard` in ../restorebench-standard (REFERENCE_DIR=...), published to
# docs/results/standard; rerun after an interruption to resume (scripts/reference-run.sh)
reference:
	CORES=$(CORES) scripts/reference-run.sh $(REFERENCE_DIR)

report: setup
	$(RUN) snakemake --report results/report.html

# make setup installs the released MERLIN weights, so their equivalence test must run, not skip
test: setup
	$(RUN) RESTOREBENCH_REQUIRE_RELEASED=1 python -m pytest -q

# the tiny workflow through workflow/profiles/slurm on scripts/local-slurm.sh, against the local executor;
# prints both wall times. RESTOREBENCH_REQUIRE_CLUSTER=1 turns "cannot start a cluster here" into a failure.
test-cluster: setup cluster-tools
	$(RUN) python -m pytest -q -rP -m cluster tests/test_cluster_run.py

lint: setup
	$(RUN) snakemake --lint

# speed figures quoted by the README: regenerated into docs/bench/*.md (about 75 minutes on 2 cores;
# the time-to-quality run alone about 32)
bench: setup
	mkdir -p docs/bench
	$(RUN) restorebench bench dip --markdown docs/bench/dip_speed.md
	$(RUN) restorebench bench dip --time-to-quality --markdown docs/bench/dip_time_to_quality.md
	$(RUN) restorebench bench sar --markdown docs/bench/sar.md
	$(RUN) restorebench bench merlin --markdown docs/bench/merlin.md
	$(RUN) restorebench bench declip --markdown docs/bench/declip.md
	$(RUN) restorebench bench gpu --markdown docs/bench/gpu.md

clean:
	rm -rf results .snakemake
