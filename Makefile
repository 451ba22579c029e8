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

# Re-resolves setup.py's requirements and extras to the newest versions the index serves, torch included as the CPU
# build pinned in setup.py (pip finds torch==2.13.0+cpu where the machine's pip config points), and pins the Space to
# them. Then `make test`, and commit the lock with what it changed.
lock: setup
	$(PY) -m piptools compile --quiet --upgrade --allow-unsafe --strip-extras --no-emit-index-url \
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
