# Fresh machine to results: `make run` (the batch over all 75 institutions), `make test` (the test suite).
VENV ?= .venv
PY := $(VENV)/bin/python
RK := $(VENV)/bin/rubric-kernel

.PHONY: setup system-deps test-deps run test lint bench demo-data mutation lab expert hub

setup: $(VENV)/.installed system-deps

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

system-deps:
	@bash tools/system_deps.sh fonts

test-deps:
	@bash tools/system_deps.sh browser
	@bash tools/system_deps.sh postgres
	@bash tools/system_deps.sh office
	@bash tools/hub_deps.sh

run: setup
	$(RK) validate
	$(RK) batch

# The tests (and the notebook under nbval) use a throwaway judgment store, never var/.
test: setup test-deps
	$(VENV)/bin/ruff check .
	RUBRIC_KERNEL_DB=$$(mktemp -d)/test-store.sqlite $(PY) -m pytest -q -n 2 --dist loadfile

# The expert's form: JupyterLab in Chinese with the project's settings (jupyter/settings), or the
# notebook as a Voilà page without code (pick the institution, or open /?institution=13). Kernels
# use a copy of jupyter/ipython under var/ (IPython writes its history there): they import the
# form's modules while the page loads.
KERNEL_PROFILE := var/ipython/profile_default/ipython_kernel_config.py

$(KERNEL_PROFILE): jupyter/ipython/profile_default/ipython_kernel_config.py
	mkdir -p $(dir $@) && cp $< $@

lab: setup $(KERNEL_PROFILE)
	JUPYTERLAB_SETTINGS_DIR=$(CURDIR)/jupyter/settings IPYTHONDIR=$(CURDIR)/var/ipython \
	  JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter/config $(VENV)/bin/jupyter lab notebooks/assessment.ipynb

expert: setup $(KERNEL_PROFILE)
	IPYTHONDIR=$(CURDIR)/var/ipython JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter/config $(VENV)/bin/voila notebooks/assessment.ipynb --port=8866

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(PY) benchmarks/score.py
	$(PY) benchmarks/batch.py

demo-data: setup
	$(PY) tools/make_demo_data.py

# Mutation testing of the scoring core, the sheet checks and the stage machine (docs/mutation.md).
# Takes minutes, so it is not part of `make test`; its last lines are one score per module.
MUTMUT_CHILDREN ?= 2
mutation: setup
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children $(MUTMUT_CHILDREN)
	@$(PY) tools/mutation_summary.py --min 95

# Optional third command: the provincial hub on this machine (docs/deploy.md) with demo accounts, a throwaway
# PostgreSQL cluster and the demo data; the demo passwords are printed on screen (演示).
hub: setup $(KERNEL_PROFILE)
	$(PY) -m pip install -q -e '.[hub]'
	bash tools/hub_deps.sh
	$(PY) tools/demo_hub.py
