# The few commands a contributor needs; each is also in the README.
PY ?= .venv/bin/python
BUILTINS := era,monitorozas,unspot,webim,rop

.PHONY: install test lint protos schema openapi bench audit ci serve graphiql-assets swagger-ui-assets

install:
	python3 -m venv .venv && .venv/bin/pip install -e ".[test]" \
		-e ./plugins/hub-era -e ./plugins/hub-monitorozas -e ./plugins/hub-unspot -e ./plugins/hub-webim -e ./plugins/hub-rop -e ./examples/hub-notes

serve:
	$(PY) -m hub serve

test:
	$(PY) -m pytest

lint:
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy

protos:
	$(PY) -m hub protogen . && $(PY) -m hub protogen examples/hub-notes

schema:
	HUB_PLUGINS=$(BUILTINS) $(PY) -m hub --data-dir "$$(mktemp -d)" schema export > schema.graphql

openapi:
	$(PY) -c 'from hub.openapi import write_documents; write_documents("openapi", "$(BUILTINS)".split(","))'

graphiql-assets:
	.ci/graphiql-assets.sh

swagger-ui-assets:
	.ci/swagger-ui-assets.sh

bench:
	$(PY) bench/bench.py

ci:
	.ci/run
