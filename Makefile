# Set-up and the two everyday commands. `make run` trains on the embedded default; `make test` runs the suite.
# torch goes in first: on a machine without an NVIDIA GPU we install the CPU build (torch==2.13.0 resolves
# to one here), so nothing later in the install can drag in multi-GB CUDA wheels.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_CPU ?= torch==2.13.0
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
TORCH_SPEC := $(if $(HAS_GPU),torch,$(TORCH_CPU))

.PHONY: setup run test test-fast clean
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	DS_BUILD_OPS=0 $(PY) -m pip install -q --no-build-isolation -e ".[deepspeed,dev]"
	touch $@

run: setup
	$(VENV)/bin/graphmer-launch --platform local

test: setup
	$(VENV)/bin/python -m pytest

test-fast: setup
	$(VENV)/bin/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache
