# Everything needs only python3 and make: each target creates .venv and installs on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo lab test bench mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# setuptools says "Editable installation ... be careful with folders named like the package" on every
	@# editable install; pip repeats it as a warning. It is information, not a problem: keep the install quiet.
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make demo: run every notebook headless on the embedded local AWS; executed copies go to build/
demo: $(STAMP)
	$(PY) -m helpers.notebook_runner --output-dir build notebooks

## make lab: open JupyterLab on notebooks/ (on 127.0.0.1 only; --allow-root when run as root, e.g. in a container)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks/

## make test: the whole test suite (starts its own embedded local AWS on a free port)
test: $(STAMP)
	$(PY) -m pytest

## make bench: the benchmarks under bench/ (not tests: they print ratios against baselines)
bench: $(STAMP)
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

## make mutation: mutmut on the modules where a bug loses data or money (not part of make test or CI; about
## 25 minutes on 2 free cores). MODULES="archiver reader" runs some; SAMPLE=5 runs every 5th mutant of them instead of
## each module's default share; FULL=1 runs every mutant (hours).
## Prints only survivors not yet judged in mutation/accepted.txt; docs/mutation-testing.md explains the output.
mutation: $(STAMP)
	$(PY) mutation/run.py $(if $(SAMPLE),--sample $(SAMPLE)) $(if $(FULL),--full) $(MODULES)

clean:
	rm -rf build .pytest_cache mutants
