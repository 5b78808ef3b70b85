"""Two processes through jax.distributed (gloo collectives on 127.0.0.1), against one process."""

import socket

import jax
import numpy as np
import pytest

from jaxgan import sampling, train
from jaxgan.core import parallel
from jaxgan.checkpoint import load_run
from tests.conftest import run_cli, tiny_config
from tests.test_cli import TINY
from tests.test_faults import start

STEPS = ['--config.num_steps=3', '--config.checkpoint_every=3', '--config.dataset=digits']


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_processes_match_one_and_their_checkpoint_restores_in_one(tmp_path, python_env):
    two_devices = {**python_env, 'XLA_FLAGS': '--xla_force_host_platform_device_count=2'}
    port = free_port()
    pair = [start(['-m', 'experiments.dcgan_celeba', f'--workdir={tmp_path}/pair', *TINY, *STEPS,
                   f'--coordinator_address=127.0.0.1:{port}', '--num_processes=2', f'--process_id={i}'],
                  two_devices, tmp_path / f'process{i}.log') for i in range(2)]
    single = run_cli(['-m', 'experiments.dcgan_celeba', f'--workdir={tmp_path}/single', *TINY, *STEPS],
                     {**python_env, 'XLA_FLAGS': '--xla_force_host_platform_device_count=4'}, tmp_path)
    for i, process in enumerate(pair):
        assert process.wait(timeout=300) == 0, open(tmp_path / f'process{i}.log').read()[-3000:]
    assert single.returncode == 0, single.stderr[-3000:]
    assert '4 devices, 2 processes' in open(tmp_path / 'process0.log').read()

    # The pair's checkpoint restores here, in one process on 8 devices.
    _, _, from_pair = load_run(str(tmp_path / 'pair'))
    _, _, from_single = load_run(str(tmp_path / 'single'))
    assert int(parallel.to_host(from_pair.step)) == 3
    for x, y in zip(jax.tree.leaves(parallel.to_host(from_pair)), jax.tree.leaves(parallel.to_host(from_single))):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_checkpoint_of_eight_devices_restores_on_one(tmp_path, python_env):
    state = train.train(tiny_config(num_steps=2), str(tmp_path)).state  # 8 simulated devices here
    config, gan, _ = load_run(str(tmp_path))
    z = gan.latents(jax.random.key(0), 4)
    here = sampling.sample(gan, state.ema['G'], state.model_state['G'], z, bn=config.sample_bn,
                         batch_size=config.batch_size)
    one_device = {**python_env, 'XLA_FLAGS': '--xla_force_host_platform_device_count=1'}
    result = run_cli(['-m', 'jaxgan.sample', f'--workdir={tmp_path}', '--num=4', f'--out={tmp_path}/s.npy'],
                     one_device, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    there = np.load(tmp_path / 's.npy')
    assert there.shape == here.shape
    assert np.abs(there.astype(int) - here.astype(int)).max() <= 1


@pytest.mark.slow
def test_sigterm_to_one_process_stops_both_at_the_same_step(tmp_path, python_env):
    import signal
    import time
    from tests.test_faults import wait_for
    two_devices = {**python_env, 'XLA_FLAGS': '--xla_force_host_platform_device_count=2'}
    port = free_port()
    logs = [tmp_path / f'process{i}.log' for i in range(2)]
    pair = [start(['-m', 'experiments.dcgan_celeba', f'--workdir={tmp_path}/pair', *TINY,
                   '--config.dataset=digits', '--config.num_steps=100000', '--config.checkpoint_every=100000',
                   '--config.log_every=1000', f'--coordinator_address=127.0.0.1:{port}', '--num_processes=2',
                   f'--process_id={i}'], two_devices, logs[i]) for i in range(2)]
    assert all(wait_for(log, 'first step') for log in logs)
    time.sleep(1.0)
    pair[1].send_signal(signal.SIGTERM)
    for i, process in enumerate(pair):
        assert process.wait(timeout=120) == 0, open(logs[i]).read()[-3000:]
    saved = [open(log).read().split('saved the checkpoint of step ')[1].split(';')[0] for log in logs]
    assert saved[0] == saved[1]
    _, _, state = load_run(str(tmp_path / 'pair'))
    assert int(parallel.to_host(state.step)) == int(saved[0]) > 0
