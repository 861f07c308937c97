# The two fresh-machine commands are `make demo` (the main job) and `make test`.
# Both create the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
# CPU build by default; a GPU user overrides this (see README, "GPU install").
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench

$(STAMP): pyproject.toml
	bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/surrogate demo --out runs/demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/solver_scaling.py
	$(BIN)/python benchmarks/model_scaling.py
	$(BIN)/python benchmarks/navier_stokes.py dfg1
	$(BIN)/python benchmarks/navier_stokes.py dfg2
	$(BIN)/python benchmarks/navier_stokes.py speed
	$(BIN)/python benchmarks/generation.py
