# Every target bootstraps its own virtual environment from nothing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test lint bench demo clean tools

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# xmlsec1 is the independent XMLDSig implementation the cross-checks run against.
# chromium runs the dashboard's browser test.
tools:
	@command -v xmlsec1 >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xmlsec1; \
	  else echo "xmlsec1 missing: sudo apt-get install xmlsec1"; fi; }
	@# Debian's Chromium for the dashboard's browser test (Playwright drives it; it never
	@# downloads a browser of its own).
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium missing: sudo apt-get install chromium (the browser test is skipped)"; fi; }

test: install tools
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: install
	$(PY) -m bench

demo: install
	$(VENV)/bin/axis demo

clean:
	rm -rf $(VENV) axis-data .pytest_cache .mypy_cache .ruff_cache
