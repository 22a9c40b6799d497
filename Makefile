# Laoshan community hotline: set up the virtualenv, run the development server, test, lint.
#
#   make run      migrations, demo data, embedded Redis, Twilio emulator, worker and web app
#   make test     ruff and mypy, then pytest (extra pytest arguments: make test PYTEST_ARGS="-k sms -x")
#   make lint     ruff check, format check and mypy;  make format  rewrites the code
#   make bench    the benchmarks in bench/, if any;  make clean  removes caches

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test lint format bench clean

help:
	@sed -n 's/^#   /  /p' Makefile

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

run: $(VENV)/.installed
	$(BIN)/python -m hotline.devserver

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench:
	@if [ -e bench/run ]; then $(MAKE) --no-print-directory $(VENV)/.installed && ./bench/run; \
	else echo "There is no benchmark yet (bench/run does not exist)."; fi

clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache build *.egg-info
