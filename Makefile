# talkzoo: every target does its own setup in a project-local virtualenv (.venv).
#   make demo   the main job: `talkzoo demo` on the embedded synthetic speaker
#   make test   the test suite (CPU)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: install demo test lint clean

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

clean:
	rm -rf $(VENV) .pytest_cache outputs build
