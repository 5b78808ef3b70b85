"""One run at a time in a workdir (`jaxgan.workdir_lock`): a second run is refused naming the first, and
a SIGKILLed run leaves no lock behind. See docs/faults.md."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from jaxgan import train, workdir_lock
from jaxgan.errors import UserError
from tests.conftest import run_cli, tiny_config
from tests.test_cli import TINY

# A process that takes the lock, says so, and sleeps: a run that holds the workdir, without training.
HOLDER = ('import sys, time\n'
          'from jaxgan import workdir_lock\n'
          'with workdir_lock.held(sys.argv[1]):\n'
          '    print("held", flush=True)\n'
          '    time.sleep(600)\n')


def hold(workdir, env) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, str(workdir)], env=env, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == 'held'
    return holder


def test_a_second_holder_is_refused_naming_the_first_and_the_lock_is_gone_after(tmp_path):
    workdir = tmp_path / 'a' / 'run'
    with workdir_lock.held(str(workdir)):
        holder = json.loads((workdir / '.lock').read_text())
        assert holder['pid'] == os.getpid() and holder['host'] == socket.gethostname()
        with pytest.raises(UserError, match=f'is in use by another run: pid {os.getpid()} on host '):
            with workdir_lock.held(str(workdir)):
                pass
        with workdir_lock.held(str(workdir), enabled=False):  # a multi-host run's other processes
            pass
        with pytest.raises(UserError) as refused:
            with workdir_lock.held(str(workdir)):
                pass
        assert holder['since'] in str(refused.value) and holder['command'][:50] in str(refused.value)
        assert '\n' not in str(refused.value)
    assert not (tmp_path / 'a').exists()  # made for the lock, and empty: removed with it


def test_the_lock_leaves_what_the_run_wrote(tmp_path):
    with workdir_lock.held(str(tmp_path / 'run')):
        (tmp_path / 'run' / 'metrics.jsonl').write_text('{}\n')
    assert os.listdir(tmp_path / 'run') == ['metrics.jsonl']
    with pytest.raises(ValueError):
        with workdir_lock.held(str(tmp_path / 'run')):
            raise ValueError
    assert os.listdir(tmp_path / 'run') == ['metrics.jsonl']


def test_a_refused_run_writes_nothing_and_a_killed_holders_workdir_resumes(tmp_path, python_env):
    workdir = tmp_path / 'run'
    train.train(tiny_config(num_steps=2), str(workdir))
    before = {name: sorted(os.listdir(workdir / name)) if (workdir / name).is_dir() else (workdir / name).read_bytes()
              for name in os.listdir(workdir)}
    assert '.lock' not in before and before['checkpoints'] == ['2']
    holder = hold(workdir, python_env)
    try:
        # The command line: one line, exit 2, naming the holder; nothing written.
        result = run_cli(['-m', 'experiments.dcgan_celeba', f'--workdir={workdir}', '--config.dataset=digits',
                          '--config.num_steps=4', *TINY], python_env, tmp_path)
        assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
        assert result.stderr.splitlines()[-1].startswith(
            f'error: --workdir={workdir} is in use by another run: pid {holder.pid} on host {socket.gethostname()}, '
            'running since '), result.stderr[-3000:]
        with pytest.raises(UserError, match=f'pid {holder.pid} '):
            train.train(tiny_config(num_steps=4), str(workdir))
        after = {name: sorted(os.listdir(workdir / name)) if (workdir / name).is_dir() else (workdir / name).read_bytes()
                 for name in os.listdir(workdir) if name != '.lock'}
        assert after == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert json.loads((workdir / '.lock').read_text())['pid'] == holder.pid  # its file stays; its lock does not
    state = train.train(tiny_config(num_steps=4), str(workdir)).state
    assert int(state.step) == 4 and sorted(os.listdir(workdir / 'checkpoints')) == ['2', '4']
    steps = [json.loads(line)['step'] for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 4
    assert not (workdir / '.lock').exists()
