# make run   — the app with demo data on http://127.0.0.1:8000 (embedded SQLite under var/)
# make test  — install what is needed, lint, and run the whole suite on PostgreSQL (and SQLite)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_APT := libldap2-dev libsasl2-dev gcc libmariadb-dev pkg-config xmlsec1
TEST_APT := $(RUN_APT) slapd ldap-utils postgresql chromium redis-server mariadb-server gettext nginx-light
export DJANGO_SETTINGS_MODULE := helpdesk.settings

.PHONY: messages bench bench-migrate bench-import bench-tickets bench-api screenshots bench-admin bench-search bench-sync bench-permissions bench-scim run test lint format test-postgresql test-sqlite system-deps-run system-deps-test clean

define apt_install
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	  || missing="$$missing $$p"; done; \
	if ! $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null; then missing="$$missing python3-venv python3-dev"; fi; \
	if [ -n "$$missing" ]; then echo "apt-get install$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi
endef

system-deps-run:
	$(call apt_install,$(RUN_APT))

system-deps-test:
	$(call apt_install,$(TEST_APT))

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

run: system-deps-run $(VENV)/.installed
	DJANGO_DEBUG=1 $(PY) manage.py migrate --no-input -v0
	DJANGO_DEBUG=1 $(PY) manage.py load_demo_data
	DJANGO_DEBUG=1 $(PY) manage.py ensure_admin
	DJANGO_DEBUG=1 $(PY) manage.py run_huey --quiet & worker=$$!; trap 'kill $$worker' EXIT; \
	  DJANGO_DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

# The translation catalogues (helpdesk/locale): gather the marked texts, then compile them (needs gettext).
MESSAGES_IGNORE := --ignore 'tests/*' --ignore 'var/*' --ignore 'benchmarks/*' --ignore 'docs/*'
messages: $(VENV)/.installed-dev
	DJANGO_DEBUG=1 $(PY) manage.py makemessages -l de $(MESSAGES_IGNORE)
	DJANGO_DEBUG=1 $(PY) manage.py compilemessages -l de --ignore '.venv'

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# What the browser tests inject into pages (axe-core), from the npm registry as the lock file pins it.
node_modules/.installed: package.json package-lock.json
	command -v npm >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-postgresql: $(VENV)/.installed-dev node_modules/.installed
	DJANGO_DEBUG=1 $(PY) -m tests.stack $(PY) -m pytest -q $(PYTEST_ARGS)

test-sqlite: $(VENV)/.installed-dev
	env -u DATABASE_URL DJANGO_DEBUG=1 HELPDESK_VAR_DIR=$$(mktemp -d) $(PY) -m pytest -q -m sqlite $(PYTEST_ARGS)

test: system-deps-test lint test-postgresql test-sqlite

# The effective permission matrix, 3 customers × 200 groups, on a throwaway PostgreSQL.
# SCIM under gunicorn: 10,000 creates and 10,000 PATCHes by 8 clients, filters at 1M customer users.
bench-scim: system-deps-test $(VENV)/.installed-dev
	$(PY) -m tests.stack $(PY) -m tests.bench_scim

bench-permissions: system-deps-test $(VENV)/.installed-dev
	DJANGO_SECRET_KEY=benchmark-only $(PY) -m tests.stack bash -c '$(PY) manage.py migrate -v0 && $(PY) manage.py bench_permissions'
	$(PY) -m tests.stack $(PY) -m tests.bench_permissions

# 200 varied searches: DB only, LDAP only, and DB + LDAP + LDAP, on a throwaway PostgreSQL and slapd.
bench-search: system-deps-test $(VENV)/.installed-dev
	$(PY) -m tests.stack $(PY) -m tests.bench_search

# The directory lifecycle: a full and an incremental sync of 100,000 entries, and searches from the shadow
# beside 1M database users; prints the figures and writes var/bench/sync.json.
bench-sync: system-deps-test $(VENV)/.installed-dev
	$(PY) -m tests.stack $(PY) -m tests.bench_sync

# Server time of the admin's customer-user list with 1000 rows, on PostgreSQL with 20,000 users.
bench-admin: system-deps-test $(VENV)/.installed-dev
	DJANGO_SECRET_KEY=benchmark-only DJANGO_STATIC_ROOT=$(CURDIR)/var/bench-static $(PY) -m tests.stack bash -c \
	  '$(PY) manage.py migrate -v0 && $(PY) manage.py collectstatic --noinput -v0 && \
	  $(PY) manage.py load_bench_customer_users --count 20000 && $(PY) manage.py bench_admin_list'

# Requests/s and latency of GET /api/v1/customer-users/?search= under gunicorn (2 workers), 1M users.
bench-api: system-deps-test $(VENV)/.installed-dev
	$(PY) -m tests.stack $(PY) -m tests.bench_api

# Scale: 10k, 100k and 1M customer users (and up to 100k directory entries), measured at the service
# layer; prints a table and writes var/bench/results.json and var/bench/latency.png.
bench: system-deps-test $(VENV)/.installed-dev
	$(PY) -m tests.stack $(PY) -m tests.bench

# Import speed of 1,000,000 customer users (and 100,000 customers) from CSV into PostgreSQL.
bench-import: system-deps-test $(VENV)/.installed-dev
	$(PY) -m tests.stack $(PY) -m tests.bench_import

# import_from_znuny of BENCH_MIGRATE_USERS (default 1,000,000) generated customer users, their customers,
# relations and preferences from a throwaway reference database; writes var/bench/migrate.json.
bench-migrate: system-deps-test $(VENV)/.installed-dev
	$(PY) -m tests.stack $(PY) -m tests.bench_migrate

# Server time of the customer panel's company-tickets list with 10,000 tickets, on PostgreSQL.
bench-tickets: system-deps-test $(VENV)/.installed-dev
	DJANGO_SECRET_KEY=benchmark-only DJANGO_ALLOWED_HOSTS=testserver $(PY) -m tests.stack bash -c \
	  '$(PY) manage.py migrate -v0 && $(PY) manage.py bench_company_tickets'

# Screenshots of the main admin screens, taken by the browser test, into docs/screenshots/.
screenshots: system-deps-test $(VENV)/.installed-dev node_modules/.installed
	HELPDESK_SCREENSHOTS=$(CURDIR)/docs/screenshots DJANGO_DEBUG=1 $(PY) -m tests.stack \
	  $(PY) -m pytest -q tests/browser -k "end_to_end or uses_the_panel or forgotten_password or two_factor_login or signing_up or in_german"

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache node_modules
