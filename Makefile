# `make run` serves the app with demo data; `make test` runs lint and the whole suite.
# Both create .venv and install what they need on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast lint migrate seed clean test-browser fuzz worker beat bench cluster

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# DATABASE_URL=mysql://... also installs the MySQL/MariaDB driver (requirements-mysql.txt), which builds
# against libmariadb-dev (or libmysqlclient-dev) and pkg-config; without it nothing beyond Python is needed.
DB_DRIVER := $(if $(filter mysql://%,$(DATABASE_URL)),$(VENV)/.installed-mysql)

$(VENV)/.installed-mysql: requirements-mysql.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-mysql.txt
	touch $@

$(VENV)/.installed-run: requirements.txt | $(BIN)/python $(DB_DRIVER)
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(BIN)/python $(DB_DRIVER)
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@ $(VENV)/.installed-run

migrate: $(VENV)/.installed-run
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py seed_desk_history

run: seed
	@echo "Serving on http://$(HOST):$(PORT)/  (admin /admin/, API /api/v1/, docs /api/docs/)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

# The quick loop while developing: everything but the browser, fuzzing, cluster and slow tests
# (pyproject.toml's markers). `make test` runs them all.
test-fast: $(VENV)/.installed-test
	$(BIN)/pytest -m "not browser and not fuzz and not cluster and not slow"

# Only the browser tests (Chromium); screenshots land in screenshots/.
test-browser: $(VENV)/.installed-test
	$(BIN)/pytest -m browser

# A longer, random schema-driven fuzzing round (tests/contract): FUZZ_EXAMPLES per operation,
# with the coverage phase. Run it on PostgreSQL: DATABASE_URL=postgres://... make fuzz
FUZZ_EXAMPLES ?= 200
fuzz: $(VENV)/.installed-test
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_RANDOM=1 FUZZ_COVERAGE=1 $(BIN)/pytest tests/contract -p no:cacheprovider

# Two web nodes, two workers and beat on a PostgreSQL primary with its streaming replica and Redis, one web node
# and one worker killed under traffic (tests/cluster). Needs PostgreSQL 15's server binaries and Redis on localhost;
# run it on PostgreSQL: DATABASE_URL=postgres://... make cluster
cluster: $(VENV)/.installed-test
	$(BIN)/pytest tests/cluster -p no:cacheprovider -s

# Hot paths at a million rows beside the peers in ../shared/bench-peers (PostgreSQL and Redis on localhost).
bench: $(VENV)/.installed-run
	bash bench/peers.sh

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles .pytest_cache .ruff_cache .hypothesis
	rm -rf screenshots test-results

# Background jobs when CELERY_BROKER_URL points at Redis (without it, jobs run in process).
# `celery -A config` alone defaults to production settings, as gunicorn does; these targets default
# to local ones unless DJANGO_SETTINGS_MODULE says otherwise.
CELERY_SETTINGS = DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-config.settings.local}
worker: $(VENV)/.installed-run
	$(CELERY_SETTINGS) $(BIN)/celery -A config worker --loglevel=INFO

beat: $(VENV)/.installed-run
	$(CELERY_SETTINGS) $(BIN)/celery -A config beat --loglevel=INFO
