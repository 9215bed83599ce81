# Quick start: `make demo` scans the bundled sample logs; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo needs the package and its runtime dependencies only; the tests add the `test` extra.
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test check lint data clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/iocmatch scan --registry-aliases $(addprefix data/samples/,proxy.log dns.log firewall.log mail.log sysmon.jsonl); \
	  status=$$?; [ $$status -le 1 ] || exit $$status

test: $(TEST_STAMP)
	$(BIN)/ruff check src tests tools examples benchmarks fuzz
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# The inner loop, well under 30 s: the same checks, and the tests not marked slow, spark or network.
check: $(TEST_STAMP)
	$(BIN)/ruff check src tests tools examples benchmarks fuzz
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -m "not slow and not spark and not network"

# Fuzzing, outside `make test`: each libFuzzer harness for FUZZ_SECONDS (see fuzz/README.md).
.PHONY: fuzz
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	mkdir -p .fuzz/scan .fuzz/readers .fuzz/matcher
	cd .fuzz && ../$(BIN)/python ../fuzz/fuzz_scan.py -max_total_time=$(FUZZ_SECONDS) scan ../fuzz/seeds/scan
	cd .fuzz && ../$(BIN)/python ../fuzz/fuzz_readers.py -max_total_time=$(FUZZ_SECONDS) readers ../fuzz/seeds/readers
	cd .fuzz && ../$(BIN)/python ../fuzz/fuzz_matcher_file.py -max_total_time=$(FUZZ_SECONDS) matcher ../fuzz/seeds/matcher

data: $(STAMP)
	$(BIN)/python tools/build_campaign_data.py
	$(BIN)/python tools/write_sample_logs.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis .fuzz

# Benchmarks, outside `make test`: iocmatch against grep, rg and naive Python on a
# generated corpus (BENCH_ARGS, e.g. --indicators 1000,10000 --lines 200000), then
# the micro-benchmarks.
.PHONY: bench
BENCH_ARGS ?=
bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/compare.py $(BENCH_ARGS)
	$(BIN)/python -m pytest benchmarks/ --benchmark-only
