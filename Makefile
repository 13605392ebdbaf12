# `make run` trains and checks a model on the bundled digits and writes pictures to out/;
# `make test` lints (ruff) and runs the test suite. Both install what they need first.
PYTHON ?= python3

.PHONY: setup system-deps run test bench

system-deps:  # Graphviz's `dot` renders the graphs; Chromium and its driver run the browser tests
	@command -v dot >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 \
	  && command -v chromedriver >/dev/null 2>&1 || { \
	  echo "installing Graphviz (the 'dot' program), chromium and chromium-driver"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq \
	  && $$SUDO apt-get install -y -qq graphviz chromium chromium-driver >/dev/null; }

setup: system-deps
	$(PYTHON) -m pip install -q -e ".[dev]"

run: setup
	$(PYTHON) -m tensorflowlite_clone train --out out

test: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest -q

bench: setup
	$(PYTHON) -m tensorflowlite_clone bench
