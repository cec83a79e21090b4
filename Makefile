# The two commands of the README: `make demo` and `make test`. Both set everything up from a
# clean clone: the virtualenv, the local services (ops/stack), topics and stores, and models.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Runs a command with the ALPR_* settings that point at the local stack (ops/stack env).
RUN    := ops/stack exec --
STAMP  := $(VENV)/.installed
EXTRAS := dev,stack,edge,train,registry

.PHONY: help install stack stack-down bootstrap models rtsp-server jaeger browser fonts train lint typecheck unit integration test demo clean

help:
	@echo "make demo   set up everything and run the main job (plates through the worker)"
	@echo "make test   set up everything and run ruff, mypy and pytest"
	@echo "make train  fine-tune the plate recognizer (about 50 min), register and promote it if no set reads worse"
	@echo "other targets: install stack stack-down bootstrap models rtsp-server jaeger fonts lint typecheck unit integration clean"

$(STAMP): setup.cfg pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "python3 is missing: sudo apt-get install -y python3 python3-venv"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[$(EXTRAS)]' --config-settings editable_mode=compat
	@# `import openvino` counts each start and would report usage to Intel unless this user
	@# opted out (~/intel/openvino_telemetry holds 0): the engine works offline and reports
	@# nothing. MLflow's reporting is off in edge/registry.py.
	$(BIN)/opt_in_out --opt_out >/dev/null
	@touch $(STAMP)

install: $(STAMP)

stack:
	ops/stack up

stack-down:
	ops/stack down

bootstrap: install stack
	$(RUN) $(BIN)/alpr bootstrap

models: install
	$(BIN)/alpr models fetch
	$(BIN)/python -m bench.samples
	$(BIN)/python -m bench.sets
	$(BIN)/python -m edge.video.clip

# The RTSP server the edge tests publish to (mediamtx, built once with the Go toolchain).
rtsp-server: install
	$(BIN)/python -m tests.integration.test_edge_rtsp

# Jaeger for the trace test, which starts a private one on free ports and stops it after:
# built once with the Go toolchain into the stack's cache (minutes); a no-op after.
jaeger:
	ops/stack install jaeger

# Debian's Chromium and its driver for the pages' browser test (apt-get once; a no-op after).
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium chromium-driver; fi

# Plate-like fonts the synthetic plates are drawn with (Apache-2.0 / GPL-with-font-exception
# Debian packages; apt-get once). Without them training uses the DejaVu fonts of matplotlib.
FONT_PACKAGES := fonts-roboto-unhinted fonts-open-sans fonts-freefont-ttf fonts-croscore
fonts:
	@if dpkg -s $(FONT_PACKAGES) >/dev/null 2>&1; then :; else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q $(FONT_PACKAGES); fi

# The full training run of the README (figures in edge/README.md): PP-OCR's recognizer
# fine-tuned on synthetic plate lines (about 47 min on one core), then registered and promoted
# if it reads at least as well as the current recognizer on every evaluation set; from then
# on the default engine reads with it. TRAIN_ARGS replaces the training options.
TRAIN_ARGS ?= --base ppocr --steps 1100 --batch 16 --learning-rate 0.0002 --validate-every 100 --two-line-share 0.4
TRAIN_OUT  ?= $${ALPR_HOME:-$$HOME/.cache/alpr}/training/plate-ocr-make-$$(date +%Y%m%d-%H%M%S)
train: install fonts models
	out=$(TRAIN_OUT); $(BIN)/alpr train ocr $(TRAIN_ARGS) --out "$$out" && $(BIN)/alpr models register --promote "$$out"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

# promtool and amtool for the rules' and routes' tests (Debian's prometheus, prometheus-alertmanager).
.PHONY: promtool
promtool:
	ops/stack install prometheus alertmanager

unit: promtool
unit: models
	$(RUN) $(BIN)/pytest -m "not integration"

integration: bootstrap jaeger browser
	$(RUN) $(BIN)/pytest -m integration

test: install lint typecheck stack bootstrap models rtsp-server jaeger browser
	$(RUN) $(BIN)/pytest

demo: install stack bootstrap models
	$(RUN) $(BIN)/python -m ops.demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
