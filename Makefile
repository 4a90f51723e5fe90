# talkzoo: every target does its own setup in a project-local virtualenv (.venv).
#   make demo   the main job: `talkzoo demo` on the embedded synthetic speaker
#   make test   the test suite (CPU)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: install demo test lint e2e clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]" -c constraints.txt
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/talkzoo demo $(ARGS)

# pytest exits 5 when it collects no test: that is a broken suite, never a pass.
test: $(STAMP)
	@HF_HUB_OFFLINE=1 WANDB_MODE=offline $(BIN)/python -m pytest $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests - failing on purpose"; exit 1; fi; exit $$rc

# The import-layer contracts (pyproject.toml [tool.importlinter]) are checked on an installed copy: the namespace
# mapping (setup.py) is what makes zoo/ importable as talkzoo.zoo, and import-linter reads packages from disk.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@rm -rf build/lint && $(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
		--target build/lint . 2>&1 | grep -v "is ignored" || true
	cd build/lint && PYTHONPATH=. ../../$(BIN)/lint-imports --config ../../pyproject.toml

# The served page in Debian's chromium, headless, through Playwright's Python API (never `playwright install`):
# needs `apt-get install -y chromium` (as root). ARGS e.g. --run-dir RUNS --speaker S --screenshot docs/images/serve.png
e2e: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[e2e]" -c constraints.txt
	@test -x /usr/bin/chromium || { echo "make e2e: /usr/bin/chromium missing: apt-get install -y chromium"; exit 1; }
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(BIN)/python scripts/e2e_serve.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache outputs build

# The GPU verification kit (docs/gpu.md). `make gpu-kit` (here, on CPU) builds .gpu_kit/: the wheels the GPU check
# machine lacks + a 512² synthetic speaker, and prints the one command to run there. `make gpu-check` runs every CUDA
# check within 8 minutes and writes gpu_report.json / .md into $OUT (else here); `make gpu-check DEVICE=cpu` is the
# rehearsal at tiny sizes. gpu-check needs no venv: on a GPU machine without one it runs that machine's python3.
DEVICE ?= cuda
GPU_PYTHON = $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))

.PHONY: gpu-kit gpu-check

gpu-kit: $(STAMP)
	$(BIN)/python scripts/gpu_kit.py $(ARGS)

gpu-check:
	$(GPU_PYTHON) -m talkzoo.gpu --device $(DEVICE) $(ARGS)
