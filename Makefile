# The two commands of the README are `make run` and `make test`; everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 9443
PYTEST_ARGS ?=

.PHONY: run test check e2e e2e-controlplane unit bench goldens manifests crds clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/mesh-webhooks serve --local --port $(PORT)

test: $(VENV)/.installed-test system-deps e2e-controlplane
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(VENV)/.installed-test system-deps
	$(BIN)/pytest tests $(PYTEST_ARGS)

# iptables, iproute2 and util-linux for the data-plane pod simulation (root only; idempotent).
system-deps:
	bash tests/dataplane/install-deps.sh

check: $(VENV)/.installed-test
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy --strict webhooks e2e bench

# Builds kube-apiserver, kubectl and etcd from pinned Go modules once (e2e/README.md). Without
# Go the e2e tests skip loudly; under CI=true a missing Go fails here instead.
e2e-controlplane:
	@bash e2e/controlplane/build.sh || { status=$$?; [ $$status -eq 3 ] && [ "$$CI" != true ] || exit $$status; }

e2e: $(VENV)/.installed-test e2e-controlplane
	$(BIN)/pytest e2e $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	@for script in bench/bench_*.py; do name=$$(basename $$script .py); \
		echo "== $$name"; $(BIN)/python -m bench.$$name || exit 1; done

# Rewrite every golden file from the current output; review the diff before committing it.
goldens: $(VENV)/.installed-test system-deps
	$(BIN)/pytest tests --update-goldens $(PYTEST_ARGS)

crds: $(VENV)/.installed-run
	$(BIN)/python -m webhooks.validate.crds

manifests: $(VENV)/.installed-test
	$(BIN)/python -m tests.chart.render

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
