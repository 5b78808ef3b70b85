"""The persistent compilation cache: a second process with the same program loads it instead of compiling."""

import os

from tests.conftest import run_cli

TINY = ['-m', 'experiments.dcgan_celeba', '--config.dataset=digits', '--config.image_size=16', '--config.data.crop=0',
        '--config.num_steps=2', '--config.batch_size=16', '--config.checkpoint_every=2', '--config.sample_every=2',
        '--config.model.g_width=8', '--config.model.d_width=8']


def test_a_second_process_finds_every_program_the_first_compiled(tmp_path, python_env):
    cache = tmp_path / 'xla'
    first = run_cli([*TINY, f'--workdir={tmp_path}/a', f'--compile_cache={cache}'], python_env, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    written = sorted(os.listdir(cache))
    assert written  # the train step took over a second to compile: kept
    second = run_cli([*TINY, f'--workdir={tmp_path}/b', f'--compile_cache={cache}'], python_env, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert sorted(os.listdir(cache)) == written  # nothing compiled anew that the first kept
    off = run_cli([*TINY, f'--workdir={tmp_path}/c', '--compile_cache=off'], python_env, tmp_path)
    assert off.returncode == 0 and sorted(os.listdir(cache)) == written
