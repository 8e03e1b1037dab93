# Two commands do everything: `make run` (install + offline replay on the bundled data) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

.PHONY: install run test lint bench report
install: $(VENV)/.installed

run: install
	$(VENV)/bin/tradearena run

test: install
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .

bench: install
	$(PY) scripts/bench.py

report: install
	$(VENV)/bin/tradearena report --format html --output report.html
