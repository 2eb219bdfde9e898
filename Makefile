# Set-up and entry points. `make run` and `make test` are the two commands of the README.
PYTHON ?= python3
CORES ?= 8
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup run test bench lint lock

# Debian's unar extracts N-BaIoT's .rar archives (through the rarfile package).
$(BIN)/.installed: pyproject.toml requirements.lock
	@command -v unar >/dev/null || $(SUDO) apt-get install -y -q unar || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q unar; }
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || $(SUDO) apt-get install -y -q python3-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[test]'
	touch $@

setup: $(BIN)/.installed

run: setup  ## the default benchmark
	$(BIN)/snakemake --cores $(CORES)

test: setup  ## unit, real-data (needs the mirror) and workflow tests
	$(BIN)/pytest

bench: setup  ## prints time and peak memory (~15 minutes); whole runs: bench/workflow.py --configfile ...
	$(BIN)/python bench/parse_clean.py
	$(BIN)/python bench/outliers.py
	$(BIN)/python bench/models.py

lint: setup
	$(BIN)/snakemake --lint

lock: setup  ## re-pin the whole environment after changing pyproject.toml
	{ echo "# Full environment pinned by 'make lock' (pip freeze). Install with: pip install -c requirements.lock -e '.[test]'"; \
	  $(BIN)/pip freeze --exclude-editable; } > requirements.lock
