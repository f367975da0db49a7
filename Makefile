# uaelab's task runner. The README names `make reproduce` and `make test`; .ci/run calls `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.uaelab-installed

.PHONY: setup reproduce test test-fast lint lab bench clean-cache mi-bench-venv mi-bench notebooks book book-venv

# Create .venv if missing and install the pinned dependencies plus uaelab (editable).
# Re-runs only when pyproject.toml changes.
setup: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# Main job: regenerate every figure and table on the embedded data (quick profile, CPU). make runs in
# the checkout's root, uaelab's default output folder, so the files land in its figures/ and results/
# (unless $UAELAB_OUTPUT names another folder).
reproduce: setup
	UAELAB_PROFILE=$${UAELAB_PROFILE:-quick} $(PY) -m uaelab reproduce

# ruff (pyflakes, import order, line length; config in pyproject.toml): first, it takes a second.
lint: setup
	$(VENV)/bin/ruff check

# All tests: ruff, the static book (the browser test opens a page of it), then the unit tests,
# then every notebook (and its solutions) under nbval.
test: setup lint book
	$(PY) -m pytest tests notebooks --nbval-lax --durations=15

# The edit-test loop for contributors: lint and the unit tests only (no book, no nbval, no browser);
# CI runs `make test`.
test-fast: setup lint
	$(PY) -m pytest tests -q -x --durations=10 --deselect tests/test_browser.py

# Every notebook and its solutions from its jupytext source notebooks/_src/NN_name.py (cells tagged
# "solution" make the solutions notebook); NB="03 06" builds some. Notebooks with checked cells
# (# NBVAL_CHECK_OUTPUT) are executed once to store those outputs.
notebooks: setup
	$(PY) notebooks/_src/build.py $(NB)

# A static HTML site of the executed notebooks (quick profile), readable without a kernel:
# build/book/_build/html/index.html. Jupyter Book 1.x (Sphinx) lives in its own venv .venv-book,
# so its pins (Sphinx, myst-nb, markdown-it-py 3) never touch the main .venv; the notebooks are
# executed with the main .venv's kernel and only rendered by Jupyter Book.
BOOK_VENV ?= .venv-book
book-venv: $(BOOK_VENV)/.installed
# MathJax 3 from npm, served from the book's own _static/ so that formulas render offline too.
MATHJAX ?= 3.2.2
$(BOOK_VENV)/.installed:
	test -x $(BOOK_VENV)/bin/python || $(PYTHON) -m venv $(BOOK_VENV)
	$(BOOK_VENV)/bin/python -m pip install --quiet jupyter-book==1.0.4.post1
	cd $(BOOK_VENV) && if command -v npm >/dev/null; then npm pack --silent mathjax@$(MATHJAX) >/dev/null; \
	  else echo "npm not found: the book will load MathJax $(MATHJAX) from its CDN (formulas need a network)"; fi
	touch $@

book: setup book-venv
	rm -rf build/book build/mathjax && mkdir -p build/book/docs
	cp docs/book/_config.yml docs/book/intro.md build/book/
	cp docs/glossary.md docs/workshop.md docs/findings.md docs/verdicts.md build/book/docs/
	mkdir -p build/book/_static/mathjax/output/chtml/fonts build/mathjax
	if [ -f $(BOOK_VENV)/mathjax-$(MATHJAX).tgz ]; then \
	  tar -xzf $(BOOK_VENV)/mathjax-$(MATHJAX).tgz -C build/mathjax && \
	  cp build/mathjax/package/es5/tex-chtml.js build/book/_static/mathjax/ && \
	  cp -r build/mathjax/package/es5/output/chtml/fonts/woff-v2 build/book/_static/mathjax/output/chtml/fonts/; \
	else sed -i 's|^\( *mathjax_path:\).*|\1 "https://cdn.jsdelivr.net/npm/mathjax@$(MATHJAX)/es5/tex-chtml.js"|' \
	  build/book/_config.yml; fi
	$(PY) notebooks/_src/build.py --executed build/book
	$(BOOK_VENV)/bin/jupyter-book build build/book --quiet
	@echo "open build/book/_build/html/index.html"

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

# torch-mist (benchmark-only, never a runtime dependency) in its own venv .venv-mist. Its metadata
# pins numpy<2, so it goes in with --no-deps beside the main venv's numpy 2 and torch, which a
# .pth file puts on its path (nothing is downloaded but torch-mist and three small pure-python deps).
MIST_VENV ?= .venv-mist
mi-bench-venv: $(MIST_VENV)/.installed
$(MIST_VENV)/.installed: setup
	test -x $(MIST_VENV)/bin/python || $(PYTHON) -m venv $(MIST_VENV)
	$(MIST_VENV)/bin/python -c "import sysconfig; print('$(abspath $(VENV))/lib/python%s/site-packages' % sysconfig.get_python_version())" \
	  > $$($(MIST_VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/uaelab-main-venv.pth
	$(MIST_VENV)/bin/python -m pip install --quiet --no-deps torch-mist==0.2.17 pyro-ppl==1.9.1 pyro-api==0.1.2 opt_einsum==3.4.0
	$(MIST_VENV)/bin/python -c "import numpy, torch, torch_mist; print('torch-mist', torch_mist.__version__, 'numpy', numpy.__version__, 'torch', torch.__version__)"
	touch $@

# Known-MI benchmark: our estimate_mi and torch-mist's MINE/SMILE/InfoNCE on the same data.
mi-bench: mi-bench-venv
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_mi.py --mist-python $(MIST_VENV)/bin/python $(BENCH_ARGS)
