# mfgd: two commands do everything.
#   make lab   - set up .venv (once) and open JupyterLab on notebooks/
#   make test  - set up .venv (once) and run every test
# Extra pip options (for example a CPU-only torch index) go in PIP_ARGS.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mfgd-installed
PIP_ARGS ?=
PORT   ?= 8888
LAB_ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup lab test unit nbval notebooks assignments check-grading bench bench-quick voila clean help test-cpus check-colab check-binder classroom-check test-oldest test-latest mutation

help:
	@echo "make lab        open JupyterLab on notebooks/ (sets up .venv first)"
	@echo "make test       run unit tests, doctests, nbval and browser tests"
	@echo "make nbval      re-execute every notebook and compare it with its stored outputs"
	@echo "make notebooks  re-execute every notebook and store its outputs"
	@echo "make assignments  write the student edition (student/) with nbgrader"
	@echo "make check-grading  nbgrader's autograde on three fake submissions (minutes)"
	@echo "make bench      run the benchmarks, write benchmarks/RESULTS.md"
	@echo "make voila      serve the playground as an app"
	@echo "make test-cpus  nbval with PyTorch's and MKL's kernels of other CPU classes, 1 and 2 threads"
	@echo "make check-colab  every notebook in a Colab-like venv (ipywidgets 7, no mfgd_helpers)"
	@echo "make check-binder the Binder build here: nbval, repo2docker's plan, the memory walk"
	@echo "make classroom-check  JupyterHub load test: STUDENTS (10) run notebook 04 at once (minutes)"
	@echo "make test-oldest  unit tests with every dependency at its lowest allowed version"
	@echo "make test-latest  every test with the newest allowed versions"
	@echo "make mutation   mutation testing (mutmut) of the core modules; MODULES=mfgd_helpers/optimum.py for one"

setup: $(STAMP)

# Reinstalls only when the pins or the project metadata change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q $(PIP_ARGS) -c constraints.txt -e ".[lab,test,teach]"
	@touch $@

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(PORT) --no-browser $(LAB_ARGS)

# The playground as an app, through Jupyter Server: a token, a Host check, at
# most 4 kernels, idle ones culled (scripts/voila_server_config.py says how).
voila: $(STAMP)
	$(VENV)/bin/jupyter server --config=scripts/voila_server_config.py --port=$(PORT) $(LAB_ARGS)

# The unit tests, doctests and browser tests in one session, then nbval with
# one notebook per core (pytest-xdist; each notebook keeps its own kernel and
# runs its cells in order on one worker).
NBVAL_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -m "not grading" tests mfgd_helpers $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory nbval

nbval: $(STAMP)
	$(PY) -m pytest -q -n $(NBVAL_WORKERS) --dist loadfile notebooks $(PYTEST_ARGS)

# testpaths lists notebooks/, so name the unit-test folders instead.
unit: $(STAMP)
	$(PY) -m pytest -q -m "not browser and not grading" tests mfgd_helpers $(PYTEST_ARGS)

# Strict nbval as other processors run it: PyTorch's non-vectorized kernels
# (a CPU without AVX2) and MKL's processor-independent code path
# (MKL_CBWR=COMPATIBLE: its matrix products and SVDs round differently from the
# paths MKL picks on an Intel or an AMD CPU) on one thread, PyTorch's AVX2
# kernels on two. `make test` runs this machine's own kernels with torch's
# default threads.
test-cpus: $(STAMP)
	ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE OMP_NUM_THREADS=1 $(PY) -m pytest -q notebooks $(PYTEST_ARGS)
	ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=2 $(PY) -m pytest -q notebooks $(PYTEST_ARGS)

# Colab: a venv with torch 2.13.0, ipywidgets 7.7.1 and a stand-in google.colab
# but no mfgd_helpers; every notebook runs top to bottom, its first cell
# installing the package (--no-deps) from a wheel of this checkout.
COLAB_VENV ?= /tmp/mfgd-colab
check-colab:
	bash scripts/colab_env.sh $(COLAB_VENV)
	$(COLAB_VENV)/bin/python scripts/run_notebooks_colab.py

# Binder: the environment binder/ makes, built here (repo2docker's base
# packages, then its exact install command, then postBuild); strict nbval in
# it; repo2docker's own build plan; a student's walk 00 -> 11 and the Voila
# playground in Chromium, with the memory of the server and its kernels.
BINDER_VENV ?= /tmp/mfgd-binder-venv
check-binder:
	bash scripts/binder_env.sh $(BINDER_VENV)
	$(BINDER_VENV)/bin/python -m pytest -q -p no:cacheprovider notebooks/
	$(BINDER_VENV)/bin/python -m pytest -q -m environment -p no:cacheprovider -s \
		tests/test_repo2docker.py tests/test_binder_session.py

# A class on one server (docs/classroom.md): JupyterHub 6 and
# configurable-http-proxy in a venv of their own with the series' pinned stack
# (scripts/classroom/setup.sh; a second run only checks it), then a load test
# on 127.0.0.1: STUDENTS students log in, start their servers, pull the series
# with nbgitpuller from a bare clone of HEAD, and all run notebook 04 at once
# through the proxy. It fails naming the student and the cell; it reports the
# p50/p95 run time, the peak memory per student, the spawn time and the students
# per core and per GB. Not part of `make test`.
#   make classroom-check STUDENTS=3
#   make classroom-check CLASSROOM_ARGS="--threads 2 --keep"
CLASSROOM_VENV ?= /tmp/mfgd-classroom
STUDENTS ?= 10
CLASSROOM_ARGS ?=
classroom-check:
	bash scripts/classroom/setup.sh $(CLASSROOM_VENV)
	$(CLASSROOM_VENV)/bin/python scripts/classroom/classroom_check.py \
		--students $(STUDENTS) --notebook 04_training_loop.ipynb $(CLASSROOM_ARGS)

# The bounds in pyproject.toml, each in a fresh venv: every direct requirement
# at its lower bound (test-oldest: the unit tests) or at the newest release it
# allows (test-latest: everything, nbval and the browser included). torch
# stays 2.13.0, the CPU build, in both (scripts/bounds.py says why).
test-oldest test-latest: test-%:
	rm -rf .venv-$*
	$(PYTHON) -m venv .venv-$*
	$(PYTHON) scripts/bounds.py $* -o .venv-$*/constraints.txt
	.venv-$*/bin/python -m pip install --disable-pip-version-check -q --only-binary=:all: $(PIP_ARGS) -c .venv-$*/constraints.txt -e ".[lab,test]"
	.venv-$*/bin/python -m pip check
	@if [ "$*" = oldest ]; then \
	  .venv-$*/bin/python -m pytest -q -m "not browser" tests mfgd_helpers $(PYTEST_ARGS); \
	else \
	  .venv-$*/bin/python -m pytest -q $(PYTEST_ARGS); \
	fi

notebooks: $(STAMP)
	$(PY) scripts/execute_notebooks.py notebooks/*.ipynb

# The student edition: nbgrader's generate_assignment on notebooks/ (solutions
# become stubs, tests stay, outputs go); `make test` fails when it is stale.
# check-grading autogrades three fake submissions of it with nbgrader itself.
assignments: $(STAMP)
	$(PY) scripts/assignments.py

check-grading: $(STAMP)
	$(PY) -m pytest -q -m grading tests/test_grading.py $(PYTEST_ARGS)

# Mutation testing of the core modules ([tool.mutmut] in pyproject.toml) with
# their unit tests and doctests: scripts/mutation.py installs the pinned mutmut
# into $(VENV), starts afresh in mutants/ (ignored by git), and ends with the
# kill rate per module and every surviving mutant. Not part of `make test`.
#   make mutation MODULES="mfgd_helpers/optimum.py mfgd_helpers/data.py"
#   make mutation MUTATION_ARGS=--keep     reuse mutants/ (mutmut's cache)
#   make mutation MUTATION_ARGS=--report   print the last summary again
MODULES ?=
MUTATION_ARGS ?=
mutation: $(STAMP)
	$(PY) scripts/mutation.py $(if $(strip $(MODULES)),--modules $(MODULES)) $(MUTATION_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run.py

bench-quick: $(STAMP)
	$(PY) benchmarks/run.py --quick

clean:
	rm -rf $(VENV) build *.egg-info
