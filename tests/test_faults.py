"""Faults, with real processes where a process is what fails: SIGKILL, SIGTERM, damaged checkpoints,
non-finite values. See docs/faults.md for the table of what the user sees."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxgan import monitor, train
from jaxgan.core import parallel
from jaxgan.checkpoint import FORMAT, Checkpoints, load_run
from jaxgan.errors import UserError
from tests.conftest import run_cli, tiny_config
from tests.test_cli import TINY

RUN = ['-m', 'experiments.dcgan_celeba', '--config.dataset=digits', *TINY]


def start(args, env, log_path):
    log = open(log_path, 'w')
    return subprocess.Popen([sys.executable, *args], env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(log_path, text, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in open(log_path).read():
            return True
        time.sleep(0.05)
    return False


def final_state(workdir):
    _, _, state = load_run(str(workdir))
    return parallel.to_host(state)


def assert_same_state(a, b):
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b):
        assert np.array_equal(x, y)


def killed_and_resumed(args, tmp_path, env, kill_at):
    """(reference, resumed): the final states of the run `args` never stopped, and of the same run
    SIGKILLed once its log shows `kill_at`, then started again (which must say it resumes)."""
    reference = run_cli([*args, f'--workdir={tmp_path}/ref'], env, tmp_path)
    assert reference.returncode == 0, reference.stderr[-3000:]
    log = tmp_path / 'killed.log'
    process = start([*args, f'--workdir={tmp_path}/killed'], env, log)
    assert wait_for(log, kill_at, timeout=300), open(log).read()[-3000:]
    process.send_signal(9)
    process.wait()
    resumed = run_cli([*args, f'--workdir={tmp_path}/killed'], env, tmp_path)
    assert resumed.returncode == 0 and 'resuming from the checkpoint at step' in resumed.stderr, resumed.stderr[-3000:]
    return final_state(tmp_path / 'ref'), final_state(tmp_path / 'killed')


def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path, python_env):
    steps = ['--config.num_steps=20', '--config.checkpoint_every=1', '--config.log_every=5',
             '--config.sample_every=10', '--config.async_checkpoints=True']
    reference = run_cli([*RUN, *steps, f'--workdir={tmp_path}/ref'], python_env, tmp_path)
    assert reference.returncode == 0, reference.stderr[-3000:]

    rng = random.Random(0)
    workdir, kills = tmp_path / 'killed', 0
    for attempt in range(8):
        log = tmp_path / f'attempt{attempt}.log'
        process = start([*RUN, *steps, f'--workdir={workdir}'], python_env, log)
        if kills < 3 and wait_for(log, 'first step'):
            time.sleep(rng.uniform(0.0, 1.0))  # mid-step and mid-save: a save starts every step
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                # Every checkpoint orbax lists is complete and readable.
                for step in Checkpoints(str(workdir), read_only=True).all_steps():
                    load_run(str(workdir), step)
                continue
        assert process.wait(timeout=300) == 0, open(log).read()[-3000:]
        break
    assert kills == 3
    assert_same_state(final_state(tmp_path / 'ref'), final_state(workdir))


def test_sigterm_saves_the_current_step_and_exits_0(tmp_path, python_env):
    log = tmp_path / 'run.log'
    process = start([*RUN, '--config.num_steps=100000', '--config.checkpoint_every=100000',
                     '--config.log_every=1000', f'--workdir={tmp_path}/run'], python_env, log)
    assert wait_for(log, 'first step')
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0, open(log).read()[-3000:]
    text = open(log).read()
    assert 'preempted (SIGTERM): saved the checkpoint of step' in text
    saved = int(text.split('saved the checkpoint of step ')[1].split(';')[0])
    assert Checkpoints(str(tmp_path / 'run'), read_only=True).all_steps() == [saved] and saved > 0
    assert int(final_state(tmp_path / 'run').step) == saved


def _diverging(**overrides):
    return tiny_config(**{'num_steps': 12, 'checkpoint_every': 1, 'g_optimizer__learning_rate': 1e8,
                          'd_optimizer__learning_rate': 1e8, **overrides})


def test_nonfinite_stops_naming_step_and_quantity_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(monitor.NonFiniteError, match=r'non-finite (d|g)_\w+.* at step (\d+): stopped') as error:
        train.train(_diverging(), str(tmp_path))
    bad_step = int(str(error.value).split(' at step ')[1].split(':')[0])
    steps = Checkpoints(str(tmp_path), read_only=True).all_steps()
    assert steps and max(steps) < bad_step
    assert f'the checkpoint of step {max(steps)} in ' in str(error.value)
    state = final_state(tmp_path)
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(state) if np.issubdtype(x.dtype, np.floating))


def test_nonfinite_before_any_checkpoint_says_so(tmp_path):
    with pytest.raises(monitor.NonFiniteError, match='stopped; no checkpoint has been saved yet'):
        train.train(_diverging(checkpoint_every=1000), str(tmp_path))
    assert not os.path.exists(tmp_path / 'checkpoints') or not Checkpoints(str(tmp_path), read_only=True).all_steps()


def test_nonfinite_skip_is_bounded(tmp_path):
    with pytest.raises(monitor.NonFiniteError, match='4 updates skipped .* config.max_nonfinite_skips=3'):
        train.train(_diverging(nonfinite='skip', max_nonfinite_skips=3), str(tmp_path))
    state = final_state(tmp_path)
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(state) if np.issubdtype(x.dtype, np.floating))


def _damage(checkpoint_dir):
    for root, _, files in os.walk(checkpoint_dir / 'state'):
        for name in files:
            if name not in ('commit_success.txt', '_CHECKPOINT_METADATA'):
                with open(os.path.join(root, name), 'wb') as f:
                    f.write(b'garbage')


def test_damaged_latest_checkpoint_is_an_error_with_a_fallback(tmp_path):
    train.train(tiny_config(num_steps=4), str(tmp_path))
    _damage(tmp_path / 'checkpoints' / '4')
    with pytest.raises(UserError, match=r'the checkpoint at step 4 .* cannot be read .*resume_fallback=True'):
        train.train(tiny_config(num_steps=6), str(tmp_path))
    state = train.train(tiny_config(num_steps=6, resume_fallback=True), str(tmp_path)).state
    assert int(parallel.to_host(state.step)) == 6
    assert os.listdir(tmp_path / 'checkpoints_unreadable') == ['4']  # moved aside, not deleted
    assert Checkpoints(str(tmp_path), read_only=True).all_steps() == [2, 4, 6][-3:]


def test_resume_from_a_step_that_does_not_exist(tmp_path):
    train.train(tiny_config(num_steps=2), str(tmp_path))
    with pytest.raises(UserError, match=r'config.resume_step=7: no checkpoint at that step .* there are \[2\]'):
        train.train(tiny_config(num_steps=4, resume_step=7), str(tmp_path))


def test_corrupt_image_skip_counts_and_continues(tmp_path, caplog):
    from tests.test_data import write_images
    paths = write_images(tmp_path / 'images', [(20, 20)] * 16)
    for bad in paths[3:5]:
        with open(bad, 'wb') as f:
            f.write(b'not an image')
    config = tiny_config(dataset=f'folder:{tmp_path}/images', num_steps=2, data__on_corrupt='skip')
    state = train.train(config, str(tmp_path / 'run')).state
    assert int(parallel.to_host(state.step)) == 2
    assert 'skipped an unreadable image (2 so far)' in caplog.text


def _set_format(checkpoint_dir, format_):
    path = checkpoint_dir / 'meta' / 'metadata'
    meta = json.loads(path.read_text())
    meta.pop('format', None)
    if format_ is not None:
        meta['format'] = format_
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize('format_, written_by', [(None, 'format 1 \\(written by an earlier jaxgan'),
                                                  (FORMAT + 1, f'format {FORMAT + 1} \\(written by another')])
def test_a_checkpoint_of_another_format_is_refused(tmp_path, format_, written_by):
    train.train(tiny_config(num_steps=2), str(tmp_path))
    assert json.loads((tmp_path / 'checkpoints' / '2' / 'meta' / 'metadata').read_text())['format'] == FORMAT
    _set_format(tmp_path / 'checkpoints' / '2', format_)
    message = (rf'the checkpoint at step 2 in .* is of checkpoint {written_by}.*\); this jaxgan reads format '
               rf'{FORMAT}: use another --workdir, or the jaxgan version that wrote it')
    with pytest.raises(UserError, match=message):
        train.train(tiny_config(num_steps=4, resume_fallback=True), str(tmp_path))
    with pytest.raises(UserError, match=message):
        load_run(str(tmp_path))
    # Refused, not taken for damage: nothing moved aside, nothing written.
    assert sorted(os.listdir(tmp_path)) == ['checkpoints', 'config.json', 'metrics.jsonl', 'samples', 'tensorboard']
    assert os.listdir(tmp_path / 'checkpoints') == ['2']


@pytest.mark.slow
def test_resume_fallback_on_a_damaged_checkpoint_keeps_stderr_short(tmp_path, python_env):
    workdir = tmp_path / 'run'
    first = run_cli([*RUN, '--config.num_steps=4', f'--workdir={workdir}'], python_env, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    for root, _, names in os.walk(workdir / 'checkpoints' / '4' / 'state'):
        if os.path.basename(root) == 'd':  # the array data only: the metadata still reads
            for name in names:
                with open(os.path.join(root, name), 'wb') as f:
                    f.write(b'garbage')
    result = run_cli([*RUN, '--config.num_steps=6', '--config.resume_fallback=True', f'--workdir={workdir}'],
                     python_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'the checkpoint at step 4' in result.stderr and 'resuming from the checkpoint at step 2' in result.stderr
    assert 'Event loop is closed' not in result.stderr and 'Traceback' not in result.stderr, result.stderr[-3000:]
    assert len(result.stderr.splitlines()) < 15, result.stderr


def _rows(path):
    return [json.loads(line) for line in open(path)]


def _same_rows(a, b):
    speed = ('steps_per_s', 'images_per_s')
    return [{k: v for k, v in r.items() if k not in speed} for r in a] == \
           [{k: v for k, v in r.items() if k not in speed} for r in b]


def _tensorboard_events(path):
    import struct
    from tensorboardX.proto import event_pb2
    data, events = open(path, 'rb').read(), []
    while data:
        (length,) = struct.unpack('<Q', data[:8])
        events.append(event_pb2.Event.FromString(data[12:12 + length]))
        data = data[16 + length:]
    return events


def test_resume_step_rewinds_moving_the_later_checkpoints_and_logs_aside(tmp_path, caplog):
    train.train(tiny_config(num_steps=6), str(tmp_path))
    before = _rows(tmp_path / 'metrics.jsonl')
    assert [r['step'] for r in before] == [2, 4, 6]
    state = train.train(tiny_config(num_steps=6, resume_step=2), str(tmp_path)).state
    assert int(parallel.to_host(state.step)) == 6
    rewound = tmp_path / 'rewound' / '2'
    assert sorted(os.listdir(rewound / 'checkpoints')) == ['4', '6']  # moved, not deleted
    assert Checkpoints(str(tmp_path), read_only=True).all_steps() == [2, 4, 6]  # one line of checkpoints
    after = _rows(tmp_path / 'metrics.jsonl')
    assert [r['step'] for r in after] == [2, 4, 6]  # each step once
    assert _rows(rewound / 'metrics.jsonl') == before[1:]
    assert _same_rows(after, before)  # the same steps trained again from step 2
    assert sorted(os.listdir(rewound / 'samples')) == ['step_00000004.png', 'step_00000006.png']
    assert sorted(os.listdir(tmp_path / 'samples')) == ['step_00000002.png', 'step_00000004.png', 'step_00000006.png']
    # TensorBoard is told to hide what the first line logged after step 2 (tensorboardX's purge_step).
    newest = max(os.listdir(tmp_path / 'tensorboard'), key=lambda f: os.path.getmtime(tmp_path / 'tensorboard' / f))
    purge = [e for e in _tensorboard_events(tmp_path / 'tensorboard' / newest) if e.HasField('session_log')]
    assert [(e.step, e.session_log.status) for e in purge] == [(3, 1)]  # SessionLog.START at the step after 2
    assert f'rewound to the checkpoint of step 2: the run forks here; the later checkpoints (4, 6) and the 2 log ' \
           f'rows and 2 sample images after step 2 are moved to {rewound}' in caplog.text
    # Once more: the next rewind to the same step goes beside the first.
    train.train(tiny_config(num_steps=4, resume_step=2), str(tmp_path))
    assert sorted(os.listdir(tmp_path / 'rewound')) == ['2', '2.2']
    assert sorted(os.listdir(tmp_path / 'rewound' / '2.2' / 'checkpoints')) == ['4', '6']


def test_a_resume_moves_the_rows_logged_after_the_last_checkpoint_aside(tmp_path):
    import shutil
    train.train(tiny_config(num_steps=6), str(tmp_path))
    shutil.rmtree(tmp_path / 'checkpoints' / '6')  # as if killed after logging step 6, before saving it
    with open(tmp_path / 'metrics.jsonl', 'a') as f:
        f.write('{"step": 7, "d_lo')  # and mid-write
    lines = open(tmp_path / 'metrics.jsonl').read().splitlines()
    train.train(tiny_config(num_steps=6), str(tmp_path))
    assert [r['step'] for r in _rows(tmp_path / 'metrics.jsonl')] == [2, 4, 6]  # each step once
    assert open(tmp_path / 'rewound' / '4' / 'metrics.jsonl').read().splitlines() == lines[2:]
    assert sorted(os.listdir(tmp_path / 'rewound' / '4')) == ['metrics.jsonl', 'samples']
    assert os.listdir(tmp_path / 'rewound' / '4' / 'samples') == ['step_00000006.png']


def _start_interruptible(args, env, log_path):
    """Like `start`, with Ctrl-C's default action even where this process ignores SIGINT (a background
    job), as a process started from a terminal has it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a handled signal is reset by exec
    try:
        return start(args, env, log_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _clean_exit(text):
    return 'Traceback' not in text and 'Fatal Python error' not in text and 'Segmentation' not in text


def test_ctrl_c_while_training_saves_the_current_step_and_exits_130_quietly(tmp_path, python_env):
    log, workdir = tmp_path / 'run.log', tmp_path / 'run'
    process = _start_interruptible([*RUN, '--config.num_steps=100000', '--config.checkpoint_every=3',
                                    '--config.async_checkpoints=True', '--config.log_every=1000',
                                    f'--workdir={workdir}'], python_env, log)
    assert wait_for(log, 'first step')
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130, open(log).read()[-3000:]
    text = open(log).read()
    assert _clean_exit(text), text[-3000:]
    assert 'interrupted (SIGINT): saving a checkpoint at the end of the current step' in text
    saved = int(text.split('interrupted (SIGINT): saved the checkpoint of step ')[1].split(';')[0])
    assert Checkpoints(str(workdir), read_only=True).latest_step() == saved > 0
    assert not [d for d in os.listdir(workdir / 'checkpoints') if 'tmp' in d]  # no save left half-done
    assert int(final_state(workdir).step) == saved


@pytest.mark.parametrize('delay', [0.0, 1.5, pytest.param(3.0, marks=pytest.mark.slow)])
def test_ctrl_c_while_loading_or_compiling_exits_130_without_a_crash(tmp_path, python_env, delay):
    log = tmp_path / 'run.log'
    process = _start_interruptible([*RUN, '--config.num_steps=100000', f'--workdir={tmp_path}/run'], python_env, log)
    assert wait_for(log, 'data:')
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130, open(log).read()[-3000:]
    text = open(log).read()
    assert _clean_exit(text), text[-3000:]
    assert ('SIGINT before training started: nothing new to save; exiting' in text
            or 'interrupted (SIGINT): saved the checkpoint of step' in text), text[-3000:]


def test_a_second_ctrl_c_stops_at_once_without_saving(tmp_path, python_env):
    log = tmp_path / 'run.log'
    process = _start_interruptible([*RUN, '--config.num_steps=100000', '--config.checkpoint_every=100000',
                                    '--config.image_size=32', f'--workdir={tmp_path}/run'], python_env, log)
    assert wait_for(log, 'data:')
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    text = open(log).read()
    assert _clean_exit(text), text[-3000:]
    assert 'stopped at once by a second Ctrl-C, without saving; the latest complete checkpoint stays' in text
