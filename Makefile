# Two entry points for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CORES  ?= all
SMK_ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup run test test-all test-slurm report readme record lint bench clean-results

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (snakemake 9); set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(SMK_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slurm" $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The ci preset through SLURM vs locally, on a single-node cluster started here (root + apt;
# stop it with tests/slurm/stop_local_slurm.sh). About 7 min on 2 cores.
test-slurm: $(STAMP)
	tests/slurm/setup_local_slurm.sh
	COARSEGRAIN_SLURM_TEST=1 $(BIN)/python -m pytest -m slurm -rP $(PYTEST_ARGS)

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(SMK_ARGS)
	$(BIN)/snakemake --report $(or $(REPORT),results/report.html) $(SMK_ARGS)
	@echo "report written to $(or $(REPORT),results/report.html)"

# The README's results section from the quick preset's claims table (run `make run` first) and
# the thesis preset's record (docs/reproduction/thesis, `make record PRESET=thesis`), and the
# registry table of docs/claims.md.
readme: $(STAMP)
	$(BIN)/python -m coarsegrain.claims.readme README.md results/quick/claims.parquet \
		$(wildcard docs/reproduction/thesis/claims.parquet) --registry-doc docs/claims.md

# The reproduction record of a finished run (docs/reproduction/<preset>/): claims, resolved
# config, per-rule times, machine, downscaled figures. `make record PRESET=thesis` after
# `make run SMK_ARGS="--configfile presets/thesis.yaml"`; an unfinished run is recorded as such.
# Requests vs use come from benchmarks/check_resources.py; the text of RECORD_NOTE_FILE (how the
# run was made: the command, its wall time; default docs/reproduction/<preset>-run.md) heads the
# README.
PRESET ?= quick
RECORD_NOTE_FILE ?= $(wildcard docs/reproduction/$(PRESET)-run.md)
PRESET_ARGS = $(if $(filter quick,$(PRESET)),,--configfile presets/$(PRESET).yaml)
record: $(STAMP)
	@mkdir -p docs/reproduction
	$(BIN)/snakemake -n --quiet rules $(PRESET_ARGS) > docs/reproduction/.dry-run-$(PRESET).txt 2>&1 || true
	R=docs/reproduction/.resources-$(PRESET).csv; \
	$(BIN)/python benchmarks/check_resources.py results/$(PRESET) --csv $$R > /dev/null || true; \
	$(BIN)/python -m coarsegrain.stages.record results/$(PRESET) docs/reproduction/$(PRESET) \
		--dry-run docs/reproduction/.dry-run-$(PRESET).txt \
		$$(test -f $$R && echo --resources $$R) \
		$(if $(RECORD_NOTE_FILE),--note "$$(cat $(RECORD_NOTE_FILE))")
	@rm -f docs/reproduction/.dry-run-$(PRESET).txt docs/reproduction/.resources-$(PRESET).csv

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --lint

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done
