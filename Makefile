# smsanalytics — the two commands: `make demo` and `make test`.
# Each target bootstraps the environment itself (Python 3.11 is all that is needed):
# uv is installed into .tools/, then .venv/ is synced from uv.lock (idempotent, ~1 s when current).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced-$(UV_VERSION)-bytecode
EXTRAS := --extra dev --extra notebooks
BENCH_SCALE ?= 100k,1m

export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
# Installed packages get their bytecode (.pyc) when they are synced. Without it, every new Python
# process compiles each module it imports wherever bytecode is not written back
# (PYTHONDONTWRITEBYTECODE, read-only installs; so on the CI machines): 0.4 s more for each
# `smsanalytics` command, notebook kernel and test subprocess.
export UV_COMPILE_BYTECODE := 1

.PHONY: demo test test-fast test-spark bench lock setup clean docs

DEMO_PLAN := data/demo/plans/winback

demo: $(STAMP)
	$(VENV)/bin/smsanalytics demo
	rm -rf $(DEMO_PLAN)
	$(VENV)/bin/smsanalytics plan pipelines/campaigns/demo.toml --out $(DEMO_PLAN)
	$(VENV)/bin/smsanalytics send $(DEMO_PLAN) --adapter outbox --ahead 3d
	$(VENV)/bin/smsanalytics pipeline run pipelines/weekly_campaign_report.yaml

test: $(STAMP)
	$(VENV)/bin/python -m pytest

# Spark tests (issue: scale-out): installs the `spark` extra (pyspark) next to the rest; needs Java 17.
test-spark: $(STAMP)
	$(UV) sync --frozen --inexact $(EXTRAS) --extra spark --python $(PYTHON)
	$(VENV)/bin/python -m pytest -m spark

test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not slow"

bench: $(STAMP)
	BENCH_SCALE=$(BENCH_SCALE) $(VENV)/bin/python -m benchmarks

setup: $(STAMP)

docs: $(STAMP)
	$(VENV)/bin/python -m smsanalytics.docgen

lock: $(UV)
	$(UV) lock --python $(PYTHON)

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --inexact $(EXTRAS) --python $(PYTHON)
	@rm -f $(VENV)/.synced-*
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .tools data/demo reports/*/ .pytest_cache
