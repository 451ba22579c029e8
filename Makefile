# Every target sets itself up: the first run creates .venv and installs the package with its extras.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: setup demo test test-fast reproduce clean

$(VENV)/.installed: setup.py
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[dev,space,convert]"
	touch $@

setup: $(VENV)/.installed

test: setup
	$(PY) -m pytest -q tests

test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

demo: setup
	$(VENV)/bin/bioalbert demo

reproduce: setup
	$(VENV)/bin/bioalbert reproduce --recipe cpu-demo

clean:
	rm -rf $(VENV) runs release .pytest_cache
