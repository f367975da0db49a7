# uaelab's task runner. The README names `make reproduce` and `make test`; .ci/run calls `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.uaelab-installed

.PHONY: setup reproduce test lab bench clean-cache

# Create .venv if missing and install the pinned dependencies plus uaelab (editable).
# Re-runs only when pyproject.toml changes.
setup: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# Main job: regenerate every figure and table on the embedded data (quick profile, CPU).
reproduce: setup
	UAELAB_PROFILE=$${UAELAB_PROFILE:-quick} $(PY) -m uaelab reproduce

# All tests: unit tests, then every notebook (and its solutions) under nbval.
test: setup
	$(PY) -m pytest tests notebooks --nbval-lax --durations=15

# JupyterLab on the notebooks.
lab: setup
	$(VENV)/bin/jupyter lab notebooks

# Speed/memory benchmarks (need real MNIST: UAELAB_DATA or ../shared/data). One torch thread
# per process is faster than two on a busy 2-core machine: add e.g. BENCH_ARGS="--threads 1".
bench: setup
	$(PY) benchmarks/bench_attack.py $(BENCH_ARGS)
	$(PY) benchmarks/bench_generate.py

clean-cache:
	rm -rf $${UAELAB_CACHE:-$$HOME/.cache/uaelab}
