# Shortcuts for the commands in the README. `make run` and `make test` are the two that matter.
.DEFAULT_GOAL := help
.PHONY: help run test test-seed bench lint fmt asyncapi token wait-ready

ROLE ?= street_clerk
ORG ?= 350203001

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

run: ## local PostgreSQL + RabbitMQ, migrations, all seven services (Ctrl-C stops them)
	bash scripts/run.sh

test: ## all test tiers against real PostgreSQL and RabbitMQ; pytest options in ARGS="..."
	bash scripts/test.sh $(ARGS)

test-seed: ## the demo seed's test alone (it is part of make test too)
	bash scripts/test.sh tests/integration/test_demo_seed.py $(ARGS)

bench: ## pipeline CPU per application, messages, commits, latency at 20/s and 200/s, parallel vs serial; ARGS="..."
	bash scripts/ensure_infra.sh
	uv run python -m bench.pipeline $(ARGS)

lint: ## ruff lint and format check, as CI runs them
	uv run ruff check . && uv run ruff format --check .

fmt: ## apply ruff fixes and formatting
	uv run ruff check --fix . && uv run ruff format .

asyncapi: ## regenerate docs/asyncapi.yaml and its HTML page docs/asyncapi.html from the event models
	uv run python -m shared.events asyncapi --output docs/asyncapi.yaml --html docs/asyncapi.html

token: ## print a development JWT: make token ROLE=district_reviewer ORG=350203
	@uv run python -m shared.auth token --role $(ROLE) --org $(ORG)

wait-ready: ## wait until every running service's /readyz answers 200
	bash scripts/wait_ready.sh
