# Two commands: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
# VENV: an existing virtualenv to use instead of .venv (it is made and filled when missing).
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT  # the demo's links and PUBLIC_BASE_URL's default follow the port served
export FLASK_APP := wsgi

.PHONY: run test install lint docs card-picture demo demo-json clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/flask demo

# The demo's ids, keys and links as one JSON object (for scripts, e.g. the README's tour).
demo-json: install
	@$(BIN)/flask demo --json

run: demo
	PORT=$(PORT) $(BIN)/python -m service.serve

lint: install
	$(BIN)/ruff check .

# The documentation site (mkdocs.yml): --strict turns a broken link, a missing anchor or a
# page left out of nav into a failure (never add --quiet: it hides the warnings strict counts).
# Output in build/site (git-ignored).
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

# docs/img/card.png: a real demo pass, issued in a throwaway instance and drawn from its pass.json.
card-picture: install
	$(BIN)/python docs/img/draw_card.py

# Headless Chromium + chromedriver for tests/browser (Debian packages; skipped when present).
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

test: install browser
	$(BIN)/ruff check .
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site
	$(BIN)/pytest -q -n 2 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance/*.db
