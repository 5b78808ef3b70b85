# Two commands on a fresh machine:
#   make quickstart   set up .venv and train DCGAN on the embedded digits (no download)
#   make test         set up .venv and run the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUN ?= runs/quickstart
# The suite's processes: one per core of CI's 2-core machine (each holds about 3.5 GiB at its peak).
TEST_WORKERS ?= 2

.PHONY: setup quickstart test test-slow test-torch clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,export,privacy]'
	$(PY) -m pip install --quiet --no-deps 'jax2onnx>=0.17.1,<0.18'  # pyproject.toml, the export extra
	touch $@

quickstart: setup
	$(PY) -m experiments.dcgan_celeba --workdir=$(RUN) --config.dataset=digits --config.image_size=32 \
	  --config.data.crop=0 --config.num_steps=1500 --config.log_every=100 --config.sample_every=500 \
	  --config.checkpoint_every=500 --config.batch_size=64 --config.model.g_width=32 --config.model.d_width=32
	$(PY) -m jaxgan.sample --workdir=$(RUN) --num=64 --out=$(RUN)/samples.png

test: setup
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not slow" tests

test-slow: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m slow tests

# The Flax FID network against an independent PyTorch implementation and pytorch-fid, and jaxgan's
# reader of PyTorch files against torch.load (installs PyTorch and pytorch-fid; jaxgan needs neither).
test-torch: setup
	$(PY) -m pip install --quiet torch pytorch-fid
	$(PY) -m pytest -q tests/test_inception.py

clean:
	rm -rf $(VENV) runs
