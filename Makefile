# islandgrid: two commands on a fresh machine (Python 3.11):  make demo  and  make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench lint browser slurm clean compute-headline

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo: simulate the bundled Horinger example, print the KPI table, write the report to out/horinger
demo: $(STAMP)
	$(BIN)/islandgrid simulate examples/horinger-ai-room.toml --out out/horinger

## browser: Debian chromium for the dashboard's end-to-end test (skipped if apt is unavailable)
browser:
	@command -v chromium >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
		echo "chromium not installed: the browser test will be skipped")

## slurm: Debian slurm-wlm (slurmctld, slurmd, clients) and munge for the real-Slurm test (tests/slurm/install.sh;
## skipped if apt is unavailable; the test itself starts and stops a single-node cluster in a temporary folder)
slurm:
	@sh tests/slurm/install.sh || echo "slurm not installed: the real-Slurm test will be skipped"

## make test: the whole test suite
test: $(STAMP) browser slurm
	$(BIN)/python -m pytest

## make bench: speed benchmarks against peers (installs PyPSA, a dev-only peer)
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py

## make compute-headline: the README's carbon-aware compute table (job policies x slack, size with and without jobs)
compute-headline: $(STAMP)
	$(BIN)/python scripts/compute_headline.py --out out/compute/headline.md

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
