# Every target sets itself up: the first run creates .venv and installs exactly the versions of requirements-lock.txt
# (then the package itself, without resolving anything); a changed lock or setup.py reinstalls.
VENV ?= .venv
comma := ,
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
LOCK := requirements-lock.txt
EXTRAS := dev,space,convert

.PHONY: setup lock demo test test-fast reproduce clean

$(VENV)/.installed: setup.py $(LOCK)
	python3 -m venv $(VENV)
	$(PIP) install -q -r $(LOCK)
	$(PY) -m piptools sync -q $(LOCK)
	$(PIP) install -q --no-deps -e .
	touch $@

setup: $(VENV)/.installed

# Re-resolves setup.py's requirements and extras into the lock, keeping every pin that still fits (a new requirement
# gets the newest version the index serves); `make lock UPGRADE=1` moves every package to the newest. Torch is the CPU
# build pinned in setup.py (pip finds torch==2.13.0+cpu where the machine's pip config points). It also pins the Space
# to the lock. Then `make test`, and commit the lock with what it changed.
lock: setup
	$(PY) -m piptools compile --quiet $(if $(UPGRADE),--upgrade) --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links $(foreach extra,$(subst $(comma), ,$(EXTRAS)),--extra $(extra)) --output-file $(LOCK) setup.py
	$(PY) -c "from bioalbert.hub.space import write_pinned_space_files; write_pinned_space_files()"

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
