# The commands the README and CI use. `make run` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test test-postgres lint typecheck typecheck-tree format bench bench-scale all clean

$(STAMP): setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/videolib run

# `run` with a dozen generated clips in the library (shared/demo.py), added once.
demo: $(STAMP)
	$(BIN)/videolib run --demo

test: $(STAMP)
	$(BIN)/pytest

# The migrations and the search and listing tests on another PostgreSQL (production supports
# 14 and newer): CI points this at Debian's PostgreSQL 15 (.ci/run). A superuser's URL; its
# database is dropped and re-created.
TEST_DATABASE_URL ?= postgresql://postgres@/videolib_ci?host=/var/run/postgresql&port=5433
POSTGRES_TESTS := tests/integration/test_migrations.py tests/integration/test_trigram_fallback.py \
	tests/api/test_search.py tests/api/test_videos.py tests/api/test_history.py \
	tests/api/test_cursor_paging.py tests/integration/test_jobs.py \
	tests/integration/test_leader_lock.py tests/api/test_near_duplicates.py \
	tests/integration/test_fingerprints.py
POSTGRES_TESTS += tests/integration/test_integrity_jobs.py
test-postgres: $(STAMP)
	VIDEOLIB_TEST_DATABASE_URL='$(TEST_DATABASE_URL)' $(BIN)/pytest -p no:cacheprovider $(POSTGRES_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow the editable install's import hook, so it reads videolib.* through a link
# tree that maps each folder to its import name, as setup.py's package_dir does
# (build/typecheck/videolib/shared -> shared). Which packages it checks, and how strictly, is
# in pyproject.toml ([tool.mypy]); tests/ops/test_typecheck.py checks it resolves.
TYPECHECK_TREE := build/typecheck/videolib

typecheck-tree:
	mkdir -p $(TYPECHECK_TREE)
	for folder in shared api daemon; do ln -sfn ../../../$$folder $(TYPECHECK_TREE)/$$folder; done

typecheck: $(STAMP) typecheck-tree
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/scan.py 2000 --warm 100000
	$(BIN)/python bench/daemon.py
	$(BIN)/python bench/api.py --seconds 8
	$(BIN)/python bench/integrity.py
	$(BIN)/python bench/near_duplicates.py

# 1,000,000 rows and files in 50,000 folders: about 15 minutes, 1M free inodes in TMPDIR.
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py

all: lint typecheck test

clean:
	rm -rf $(VENV) build *.egg-info
