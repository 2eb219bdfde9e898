# Set-up and entry points. `make run` and `make test` are the two commands of the README.
PYTHON ?= python3
# Snakemake's cores: the CPUs this machine lets us use (more jobs than cores only slow each other down).
CORES ?= $(shell nproc 2>/dev/null || echo 1)
# Test processes side by side (pytest-xdist; each test file stays on one worker: module fixtures run once;
# files in collection order, which tests/conftest.py puts longest first: xdist would order them by test count).
TEST_WORKERS ?= 2
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help setup run quick report test test-fast bench lint format lock mlflow-server mlflow-ui

help:  ## this list
	@awk -F':.*## ' '/^[a-z-]+:.*## /{printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The Python environment alone (no root needed where python3-venv is installed).
$(BIN)/.python: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || $(SUDO) apt-get install -y -q python3-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[test]'
	touch $@

# Debian's unar extracts N-BaIoT's .rar archives (through the rarfile package).
$(BIN)/.installed: $(BIN)/.python
	@command -v unar >/dev/null || $(SUDO) apt-get install -y -q unar || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q unar; }
	touch $@

setup: $(BIN)/.installed

# Through the launcher: after a run killed outright (kill -9, out of memory), `make run` again removes
# its stale lock and resumes (src/iotad/launch.py); a second run beside a live one is refused.
run: setup  ## the default benchmark; the same command resumes a killed run
	$(BIN)/python -m iotad.launch --cores $(CORES)

# Ends with the answer: best detector per dataset and test split, and whether it beats seed noise.
quick: setup  ## config/quick.yaml: three datasets, five models, two seeds (minutes); prints the answer table
	$(BIN)/python -m iotad.launch --cores $(CORES) --configfile config/quick.yaml
	@echo; echo "The answer (results/report/tables/answer.md; the report: make report CONFIGFILE=config/quick.yaml):"; echo
	@grep '^|' results/report/tables/answer.md; echo; grep -v '^|' results/report/tables/answer.md | fold -s -w 120

# CONFIGFILE: the run's --configfile, where it had one (e.g. config/quick.yaml after `make quick`).
report: setup  ## the Snakemake report of the last run: results/report.html, opening on the answer table
	$(BIN)/snakemake --cores 1 --report results/report.html $(if $(CONFIGFILE),--configfile $(CONFIGFILE))

test: setup  ## unit, real-data (needs the mirror) and workflow tests
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast: $(BIN)/.python  ## for contributors: the tests that need no dataset mirror, no Snakemake run, no root
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not realdata and not workflow and not slurm"

bench: setup  ## prints time and peak memory (~15 minutes); whole runs: bench/workflow.py --configfile ...
	$(BIN)/python bench/parse_clean.py
	$(BIN)/python bench/outliers.py
	$(BIN)/python bench/models.py

# MLflow for runs whose jobs are spread over nodes: a tracking server in front of the same sqlite
# store (on this machine's local disk) with artifacts proxied through it; jobs log over HTTP
# (MLFLOW_TRACKING_URI=http://<host>:$(MLFLOW_PORT)). Bound to loopback unless MLFLOW_HOST says otherwise.
MLFLOW_HOST ?= 127.0.0.1
MLFLOW_PORT ?= 5000
MLFLOW_DIR ?= $(CURDIR)/results/mlflow
mlflow-server: setup  ## a tracking server for jobs on several nodes (MLFLOW_HOST, MLFLOW_PORT)
	mkdir -p $(MLFLOW_DIR)
	$(BIN)/python -c "from iotad.tracking import whole_sqlite_store; whole_sqlite_store('sqlite:///$(MLFLOW_DIR)/mlflow.db')"
	$(BIN)/mlflow server --host $(MLFLOW_HOST) --port $(MLFLOW_PORT) \
	  --backend-store-uri sqlite:///$(MLFLOW_DIR)/mlflow.db --artifacts-destination $(MLFLOW_DIR)/artifacts $(MLFLOW_ARGS)

# MLflow 3.17 opens an experiment in its GenAI view unless the link asks for the runs table.
mlflow-ui: setup  ## browse the default store (sqlite) at http://127.0.0.1:5000
	@echo "The runs table: http://127.0.0.1:$(MLFLOW_PORT)/#/experiments/$$($(BIN)/python -c \
	  'import json; print(json.load(open("$(MLFLOW_DIR)/experiment.json"))["experiment_id"])' 2>/dev/null || echo 1)/runs?workflowType=machine_learning"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(MLFLOW_DIR)/mlflow.db --artifacts-destination $(MLFLOW_DIR)/artifacts \
	  --host 127.0.0.1 --port $(MLFLOW_PORT)

lint: $(BIN)/.python  ## ruff (check, format), snakefmt and Snakemake's linter; `make format` fixes the first three
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

format: $(BIN)/.python  ## rewrite the code as `make lint` wants it
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile workflow/rules

lock: setup  ## re-pin the whole environment after changing pyproject.toml
	{ echo "# Full environment pinned by 'make lock' (pip freeze). Install with: pip install -c requirements.lock -e '.[test]'"; \
	  $(BIN)/pip freeze --exclude-editable; } > requirements.lock
