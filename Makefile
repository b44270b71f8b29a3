# Quickstart: `make plan` (offline plan of the dev stack) and `make test` (the whole suite).
# Each target creates the virtualenv and installs the pinned requirements on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STACK  ?= dev
# Stack files in git; ops/ephemeral.py's local pr-<n> files are not plans of this repository.
STACKS := $(filter-out pr-%,$(patsubst stacks/Pulumi.%.yaml,%,$(wildcard stacks/Pulumi.*.yaml)))

.PHONY: setup plan plan-all test lint checkov format bench schema lock clean

$(VENV)/.installed: requirements.txt requirements-dev.txt policy/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

plan: setup ## offline plan of one stack: make plan STACK=prod
	$(PY) -m ops.plan --stack $(STACK)

plan-all: setup ## offline plan of every stack file
	@set -e; for s in $(STACKS); do echo "== $$s"; $(PY) -m ops.plan --stack $$s > build-$$s.log 2>&1 || { cat build-$$s.log; rm -f build-$$s.log; exit 1; }; tail -n 1 build-$$s.log; rm -f build-$$s.log; done

test: setup ## the whole test suite, offline
	$(PY) -m pytest -q

lint: setup ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy components ops __main__.py
	$(VENV)/bin/mypy policy
	$(VENV)/bin/actionlint .github/workflows/*.yml

checkov: setup ## checkov over every stack's offline plan (docs/hardening.md)
	$(PY) -m ops.checkov --all

bench: setup ## performance figures (README "Performance")
	$(PY) -m ops.bench

schema: setup ## regenerate schema/stack.schema.json, Pulumi.yaml config and the README table
	$(PY) -m ops.schema

# requirements.lock: requirements.txt and policy/requirements.txt resolved together, every
# transitive dependency pinned with its hashes, for the CI runners' CPython 3.11 on Linux x86_64
# (the jobs that hold credentials install it with --require-hashes). pip-tools lives in a
# throwaway virtualenv, never in .venv. Kept pins stay unless asked: make lock LOCK_ARGS=--upgrade
PIP_TOOLS ?= pip-tools==7.6.2
LOCK_ARGS ?=
lock: ## regenerate requirements.lock (hashed) after changing a requirements file
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "make lock needs CPython 3.11, the runners' Python: make lock PYTHON=python3.11"; exit 1; }
	@set -e; tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/pip" install --quiet "$(PIP_TOOLS)"; \
	CUSTOM_COMPILE_COMMAND="make lock" "$$tmp/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe \
	  --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) \
	  -o requirements.lock requirements.txt policy/requirements.txt

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf build $(VENV) .venv-checkov
