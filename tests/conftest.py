"""Test set-up: 8 simulated CPU devices (set before jax is imported) and tiny configs."""

import atexit
import os
import shutil
import sys
import tempfile

_flags = os.environ.get('XLA_FLAGS', '')
if 'xla_force_host_platform_device_count' not in _flags:
    _flags = f'{_flags} --xla_force_host_platform_device_count=8'
if 'xla_backend_optimization_level' not in _flags:
    # The tests' programs are tiny and compiled once each: compiling them at -O0 saves a quarter of the
    # suite's time (the subprocesses of the command-line tests inherit this too).
    _flags = f'{_flags} --xla_backend_optimization_level=0'
os.environ['XLA_FLAGS'] = _flags.strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# Identical programs compiled by different tests, and by the CLI tests' subprocesses, compile once; a
# cache folder made here is removed when the session ends.
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
    os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(prefix='jaxgan-test-xla-')
    atexit.register(shutil.rmtree, os.environ['JAX_COMPILATION_CACHE_DIR'], ignore_errors=True)
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import jax  # noqa: E402
import pytest  # noqa: E402

from jaxgan import config as config_lib  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(**overrides):
    """A DCGAN small enough to compile and step in about a second on one CPU core."""
    c = config_lib.base_config()
    c.dataset = 'digits'
    c.image_size = 16
    c.batch_size = 16
    c.num_steps = 4
    c.model.z_dim = 8
    c.model.g_width = 8
    c.model.d_width = 8
    c.data.workers = 0  # folders decoded in the main process: worker processes take seconds to start (test_data.py starts them)
    c.log_every = 2
    c.checkpoint_every = 2
    c.sample_every = 2
    c.num_samples = 16
    c.async_checkpoints = False
    with c.unlocked():
        set_fields(c, overrides)
    return c


def set_fields(config, overrides: dict) -> None:
    """config's fields set from keyword names, nested fields joined by '__' (data__limit=10)."""
    for dotted, value in overrides.items():
        *path, last = dotted.split('__')
        node = config
        for part in path:
            node = node[part]
        node[last] = value


@pytest.fixture(scope='session')
def dcgan_run(tmp_path_factory):
    """A class-conditional DCGAN (conditional BatchNorm, projection D) trained 2 steps: a workdir that the
    tools' and the API's tests read (trained once per test process)."""
    from jaxgan import train
    workdir = str(tmp_path_factory.mktemp('dcgan'))
    train.train(tiny_config(num_steps=2, conditioning__g='cbn', conditioning__d='projection'), workdir)
    return workdir


@pytest.fixture
def python_env():
    """Environment for CLI subprocesses: the repo importable, the test XLA settings inherited."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([REPO, env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
    # No persistent compilation cache shared between the tests' processes (test_compile_cache turns it on).
    env['JAXGAN_COMPILE_CACHE'] = 'off'
    return env


def run_cli(args, env, cwd, timeout=300):
    import subprocess
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


assert jax.device_count() == 8, 'tests expect 8 simulated CPU devices; is XLA_FLAGS overridden?'
