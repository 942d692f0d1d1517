# Two commands on a fresh clone: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The tested torch; pip takes the CPU build from local disk on the build machines.
TORCH_VERSION ?= 2.13.0
STAMP := $(VENV)/.installed-stamp
# Hypothesis profile for `make test` (tests/conftest.py): `ci` is derandomized, so a failure reproduces
HYPOTHESIS_PROFILE ?= ci
SOURCES := fitting trainers service protos tests bench examples

.PHONY: demo demo-fit serve test test-slow lint bench install clean protos image

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install -q -e ".[dev,bench]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m service.cli demo

demo-fit: $(STAMP)
	$(BIN)/python examples/fit_demo.py

serve: $(STAMP)
	$(BIN)/python -m service.cli serve

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

# The container test builds the image (minutes): .ci/run runs it as its own step (pytest -m container).
# Two workers (pytest-xdist): most tests wait on server processes, so both cores stay busy
# (measured on 2 cores: 343 s against 430 s one at a time). TEST_WORKERS=0 runs them in one process.
# --durations: the slowest tests are named in every log, the candidates for `make test-slow`.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --durations=12 -m "not slow and not container" --hypothesis-profile=$(HYPOTHESIS_PROFILE)

# The long-running checks `make test` leaves out (marked slow), bounded by SLOW_TIMEOUT seconds;
# .ci/run runs them after `make test`. pytest's "no tests collected" (exit 5) passes only while
# no test in tests/ is marked slow.
SLOW_TIMEOUT ?= 3000
test-slow: $(STAMP)
	status=0; timeout $(SLOW_TIMEOUT) $(BIN)/python -m pytest -q -m slow --hypothesis-profile=$(HYPOTHESIS_PROFILE) \
		|| status=$$?; \
	if [ $$status -eq 5 ] && ! grep -rq "mark\.slow" tests; then echo "no test is marked slow yet"; status=0; fi; \
	if [ $$status -eq 124 ]; then echo "the slow tests ran past SLOW_TIMEOUT=$(SLOW_TIMEOUT) s"; fi; \
	exit $$status

# The image, with podman where the machine has it (no daemon needed), else docker; ENGINE=docker to
# choose. Build arguments pass through when given, empty ones too: BASE, TORCH_INDEX, EXTRAS; and
# WHEELS=DIR (podman only) mounts a directory of wheels for pip, e.g.
#   make image BASE=localhost/debian-python TORCH_INDEX= WHEELS=/opt/wheels
ENGINE ?= $(shell command -v podman >/dev/null 2>&1 && echo podman || echo docker)
IMAGE ?= scalinglaw
build_arg = $(if $(filter-out undefined,$(origin $(1))),--build-arg "$(1)=$($(1))")

image:
	$(ENGINE) build $(if $(filter podman,$(ENGINE)),--format docker) --build-arg "TORCH_VERSION=$(TORCH_VERSION)" \
		$(call build_arg,BASE) $(call build_arg,TORCH_INDEX) $(call build_arg,EXTRAS) \
		$(if $(WHEELS),--volume "$(abspath $(WHEELS)):/wheels:ro" --build-arg PIP_FIND_LINKS=/wheels) -t $(IMAGE) .

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[mlflow]"
	$(BIN)/python bench/fit_throughput.py
	$(BIN)/python bench/policy_search.py
	$(BIN)/python bench/upload_throughput.py
	$(BIN)/python bench/load.py

protos: $(STAMP)
	$(BIN)/python -m protos.generate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
