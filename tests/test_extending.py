"""docs/extending.md's examples, run as written: its Python blocks in order, as one script; its example
modules (```python file=NAME.py blocks) as plugins of the ordinary command lines."""

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys

import jax

from tests.conftest import REPO


def test_extending_examples_run_and_do_what_they_say():
    with open(os.path.join(REPO, 'docs', 'extending.md'), encoding='utf-8') as f:
        blocks = re.findall(r'```python\n(.*?)```', f.read(), re.S)  # not the file= blocks
    assert len(blocks) == 3
    scope, out = {'__name__': 'extending_example'}, io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile('\n'.join(blocks), 'docs/extending.md', 'exec'), scope)
    # Example 1: the new term is part of D's loss (its metric), a mean squared input gradient of D.
    assert float(re.search(r'r2 after one step: ([0-9.e+-]+)', out.getvalue()).group(1)) > 0
    assert [t.name for t in scope['gan'].game.critic.terms][-1] == 'r2'
    # Example 2: both generators and the critic trained, each player with its optimizer state, and G1's
    # samples moved from the origin (where a fresh MLP's outputs lie) out towards the unit circle.
    two, game = scope['two'], scope['game']
    assert int(two.step) == 200 and set(two.opt_state) == {'d', 'g'} and set(two.ema) == {'G1', 'G2'}
    radius = float(re.search(r'mean radius ([0-9.]+)', out.getvalue()).group(1))
    assert 0.6 < radius < 1.4, out.getvalue()
    fresh = scope['state_lib'].init_state(game, 0)
    for name in ('G1', 'G2', 'D'):
        moved = [float(abs(a - b).max()) for a, b in zip(jax.tree.leaves(fresh.params[name]),
                                                            jax.tree.leaves(two.params[name]))]
        assert min(moved) > 1e-3, name


def _example_module(directory, name: str) -> None:
    """docs/extending.md's block `file=...NAME.py`, written as NAME.py in `directory`."""
    with open(os.path.join(REPO, 'docs', 'extending.md'), encoding='utf-8') as f:
        source = re.search(rf'```python file=(?:\S*/)?{name}\.py\n(.*?)```', f.read(), re.S).group(1)
    (directory / f'{name}.py').write_text(source)


def _commands(name: str) -> list[list[str]]:
    """The page's sh block that trains `name` (JAXGAN_PLUGINS=NAME ...), as argument lists."""
    with open(os.path.join(REPO, 'docs', 'extending.md'), encoding='utf-8') as f:
        blocks = re.findall(r'```sh\n(.*?)```', f.read(), re.S)
    block = next(b for b in blocks if f'JAXGAN_PLUGINS={name} ' in b)
    return [shlex.split(line) for line in block.replace('\\\n', ' ').splitlines() if line.strip()]


TINY = ['--config.num_steps=2', '--config.batch_size=16', '--config.checkpoint_every=2', '--config.sample_every=2',
        '--config.log_every=1', '--config.model.g_hidden=(16,)', '--config.model.d_hidden=(16,)']


def _run(command: list[str], tmp_path, env: dict, extra=()) -> subprocess.CompletedProcess:
    """A command of the page as written, its relative paths under tmp_path, with `extra` flags."""
    words = [w for w in command if '=' not in w or not w.split('=')[0].isupper()]
    plugins = {w.split('=')[0]: w.split('=', 1)[1] for w in command if '=' in w and w.split('=')[0].isupper()}
    assert words[0] == 'python'
    args = [sys.executable, *words[1:], *extra]
    return subprocess.run(args, cwd=tmp_path, env={**env, **plugins}, capture_output=True, text=True, timeout=600)


def test_a_new_architecture_trains_through_an_experiment_and_samples_through_the_tools(tmp_path, python_env):
    _example_module(tmp_path, 'tinyconv')
    env = {**python_env, 'PYTHONPATH': os.pathsep.join([str(tmp_path), python_env['PYTHONPATH']])}
    train, sample = _commands('tinyconv')
    trained = _run(train, tmp_path, env, TINY[:-2] + ['--config.tinyconv.width=8'])
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / 'runs' / 'tiny' / 'checkpoints')) == ['2']
    sampled = _run(sample, tmp_path, env)  # no JAXGAN_PLUGINS: the checkpoint names the module
    assert sampled.returncode == 0, sampled.stderr[-3000:]
    assert (tmp_path / 'tiny.png').exists() and 'wrote 64 samples of step 2' in sampled.stderr


def test_a_new_family_trains_previews_resumes_and_samples_through_the_loop_and_tools(tmp_path, python_env):
    _example_module(tmp_path, 'bigan')
    env = {**python_env, 'PYTHONPATH': os.pathsep.join([str(tmp_path), python_env['PYTHONPATH']])}
    train, sample = _commands('bigan')
    run = tmp_path / 'runs' / 'bigan'
    trained = _run(train, tmp_path, env, TINY)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert os.listdir(run / 'samples') == ['step_00000002.png']  # the family's preview
    resumed = _run(train, tmp_path, env, TINY + ['--config.num_steps=4'])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resuming from the checkpoint at step 2' in resumed.stderr
    assert sorted(os.listdir(run / 'checkpoints')) == ['2', '4']
    assert sorted(os.listdir(run / 'samples')) == ['step_00000002.png', 'step_00000004.png']
    sampled = _run(sample, tmp_path, env)
    assert sampled.returncode == 0, sampled.stderr[-3000:]
    assert 'wrote 64 samples of step 4' in sampled.stderr
    from PIL import Image
    assert Image.open(tmp_path / 'bigan.png').size == (8 * 18 + 2, 8 * 18 + 2)  # 8 x 8 images of 16 px, 2 px apart
    labelled = _run(sample, tmp_path, env, ['--label=1'])
    assert labelled.returncode == 2
    assert labelled.stderr.strip().splitlines()[-1] == ('error: --label and --truncation: a BiGAN has neither '
                                                        'labels nor a truncation')
