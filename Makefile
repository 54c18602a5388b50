# make demo: set up and run on the bundled sample.  make test: set up and run the test suite.
# make check-arm64 (as root): the appliance installed and run on arm64 under emulation; ONLY=bookworm or trixie.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out

.PHONY: demo test check-arm64 install install-test install-train clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e ".[test,train]"

demo: install
	mkdir -p $(OUT)
	$(BIN)/pi-emotion --source tests/data/sample.mp4 --output $(OUT)/annotated.mp4 --events $(OUT)/events.jsonl --overlay
	@echo "annotated video: $(OUT)/annotated.mp4   events: $(OUT)/events.jsonl"

test: install-test
	$(BIN)/python -m pytest -q

check-arm64: install
	deploy/check-arm64.sh --x86-python $(BIN)/python $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache *.egg-info
