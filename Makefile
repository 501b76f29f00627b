# Omnis: `make run` and `make test` are all a new user needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint format worker beat bench install migrate seed clean prod messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	@echo "Omnis is starting on http://127.0.0.1:$(PORT)/  (staff UI /admin/ and /desk/, API /api/v1/, docs /api/docs/)"
	DJANGO_DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

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

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) db.sqlite3
