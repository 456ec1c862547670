# pointsbank — `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test test-sqlite test-pg bench bench-short check-reliability check-reliability-short clean vendor

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	touch $@

## run: create the virtualenv, install, migrate, seed the demo and serve on http://127.0.0.1:5000
run: $(VENV)/.installed
	$(VENV)/bin/pointsbank demo

## test: the whole suite on SQLite, then on PostgreSQL when it answers (always in CI)
test: $(VENV)/.installed-test
	bash scripts/test.sh

test-sqlite: $(VENV)/.installed-test
	POINTSBANK_TEST_DB=sqlite bash scripts/test.sh sqlite

test-pg: $(VENV)/.installed-test
	POINTSBANK_TEST_DB=postgresql bash scripts/test.sh postgresql

## bench: every benchmark on a city-scale seed (200,000 households, 5,000,000 postings); one table, bench/results.json
bench: $(VENV)/.installed-test
	bash scripts/install-bench-tools.sh || echo "make bench: no wrk: the HTTP benchmarks use the Python client"
	$(PY) bench/run.py

## bench-short: the same on a small seed with short measurements (a few minutes)
bench-short: $(VENV)/.installed-test
	bash scripts/install-bench-tools.sh || echo "make bench-short: no wrk: the HTTP benchmarks use the Python client"
	$(PY) bench/run.py --short

## check-reliability: schemathesis, crash, database restart and abuse checks on a throwaway PostgreSQL cluster
check-reliability: $(VENV)/.installed-test
	$(PY) reliability/run.py

## check-reliability-short: the same, bounded to a few minutes (CI)
check-reliability-short: $(VENV)/.installed-test
	$(PY) reliability/run.py --short

## vendor: re-copy the front-end assets from npm (package.json) into pointsbank/web/static/vendor/
VENDOR := pointsbank/web/static/vendor
vendor:
	npm ci --no-audit --no-fund
	mkdir -p $(VENDOR)
	cp node_modules/jsqr/dist/jsQR.js $(VENDOR)/jsQR.js
	cp node_modules/jsqr/LICENSE $(VENDOR)/jsQR.LICENSE
	cp node_modules/axe-core/axe.min.js $(VENDOR)/axe.min.js
	cp node_modules/axe-core/LICENSE $(VENDOR)/axe.LICENSE

## translations: extract every _() of the package and the templates, merge into the Chinese catalog, compile it
CATALOGS := pointsbank/web/translations
translations: $(VENV)/.installed-test
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project pointsbank --copyright-holder pointsbank -o $(CATALOGS)/messages.pot .
	$(VENV)/bin/pybabel update -i $(CATALOGS)/messages.pot -d $(CATALOGS) -l zh_Hans_CN --no-location --width 120
	$(VENV)/bin/pybabel compile -d $(CATALOGS) --statistics

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis *.egg-info
