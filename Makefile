# Omnis: `make run` and `make test` are all a new user needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run reset test lint format worker beat bench install migrate seed clean prod messages screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

migrate: install
	@echo "· Database (migrations)"
	@$(BIN)/python manage.py migrate --noinput -v0

seed: migrate
	$(BIN)/python manage.py seed_demo --port $(PORT)

# The demo loads once; the links and logins are printed last, once the server listens.
run: migrate
	@$(BIN)/python manage.py seed_demo --once --no-summary
	@DJANGO_DEBUG=1 DJANGO_RUNSERVER_HIDE_WARNING=true $(BIN)/python manage.py serve_demo 127.0.0.1:$(PORT)

# The demo from scratch (SQLite): every journey can be walked again.
reset: install
	@if [ -n "$$DATABASE_URL" ]; then echo "make reset rebuilds the SQLite demo only: unset DATABASE_URL"; exit 1; fi
	rm -f db.sqlite3 db.sqlite3-journal db.sqlite3-wal db.sqlite3-shm
	rm -rf tmp/emails
	@$(MAKE) --no-print-directory seed

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Production on one machine: web, worker and beat in the foreground, one combined log, Ctrl-C
# stops all three. Settings come from the environment (docs/operations.md).
prod: export DJANGO_SETTINGS_MODULE := config.settings.production
prod: install
	@$(BIN)/python -m config.preflight
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho --procfile Procfile start --port $(PORT)

# Texts for translation (docs/operations.md, Languages): needs GNU gettext. Commit .po and .mo.
messages: install
	$(BIN)/python manage.py makemessages -l de -l en --ignore=.venv --ignore=tests --ignore=bench --no-obsolete
	$(BIN)/python manage.py compilemessages -l de -l en --ignore=.venv

worker: install
	$(BIN)/celery -A config worker --loglevel=info

beat: install
	$(BIN)/celery -A config beat --loglevel=info

# Every desk page of the demo in a real browser, saved to docs/screenshots/ (Chromium needed).
screenshots: install
	OMNIS_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -p no:cacheprovider -m browser tests/browser/test_screenshots.py

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) db.sqlite3
