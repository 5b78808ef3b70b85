"""End to end through the command line, as a user runs it: real processes, tiny configs."""

import os

import numpy as np
import pytest

import experiments
from tests.conftest import run_cli
from tests.test_data import write_images

TINY = ['--config.image_size=16', '--config.batch_size=16', '--config.model.z_dim=8',
        '--config.model.g_width=8', '--config.model.d_width=8', '--config.data.workers=2',
        '--config.log_every=2', '--config.checkpoint_every=2', '--config.sample_every=2',
        '--config.num_samples=16', '--config.data.crop=0']


def test_train_on_a_folder_resume_and_sample(tmp_path, python_env):
    images = tmp_path / 'images'
    write_images(images, [(24, 20)] * 20)
    workdir = tmp_path / 'run'
    args = ['-m', 'experiments.dcgan_celeba', f'--workdir={workdir}', f'--config.dataset=folder:{images}', *TINY]
    first = run_cli([*args, '--config.num_steps=2'], python_env, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert 'step 2/2' in first.stderr and 'img/s' in first.stderr
    assert os.listdir(workdir / 'checkpoints') == ['2']
    assert os.listdir(workdir / 'samples') == ['step_00000002.png']
    assert os.listdir(workdir / 'tensorboard') and (workdir / 'metrics.jsonl').exists()

    second = run_cli([*args, '--config.num_steps=4'], python_env, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert 'resuming from the checkpoint at step 2' in second.stderr
    assert sorted(os.listdir(workdir / 'checkpoints')) == ['2', '4']

    out = tmp_path / 'x.npy'
    sampled = run_cli(['-m', 'jaxgan.sample', f'--workdir={workdir}', '--num=5', f'--out={out}'],
                      python_env, tmp_path)
    assert sampled.returncode == 0, sampled.stderr[-3000:]
    x = np.load(out)
    assert x.shape == (5, 16, 16, 3) and x.dtype == np.uint8
    grid = run_cli(['-m', 'jaxgan.sample', f'--workdir={workdir}', '--num=4', f'--out={tmp_path}/g.png'],
                   python_env, tmp_path)
    assert grid.returncode == 0 and (tmp_path / 'g.png').exists()


def test_launcher_runs_an_experiment_by_name(tmp_path, python_env):
    result = run_cli(['-m', 'jaxgan.main', '--experiment=dcgan_celeba', f'--workdir={tmp_path}/run',
                      '--config.dataset=digits', '--config.num_steps=2', *TINY], python_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert os.listdir(tmp_path / 'run' / 'checkpoints') == ['2']


@pytest.mark.parametrize('flag, message', [
    ('--config.batch_size=-4', 'error: config.batch_size=-4 must be a positive integer'),
    ('--config.dataset=folder:/no/such/folder', 'error: image folder not found: /no/such/folder'),
    ('--config.loss=wasserstein_typo', "error: config.loss='wasserstein_typo' is not one of"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, python_env, flag, message):
    result = run_cli(['-m', 'experiments.dcgan_celeba', f'--workdir={tmp_path}/run', '--config.dataset=digits',
                      *TINY, flag], python_env, tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr[-2000:]
    assert 'Traceback' not in result.stderr


def test_unknown_flag_fails(tmp_path, python_env):
    result = run_cli(['-m', 'experiments.dcgan_celeba', '--config.no_such_field=1'], python_env, tmp_path)
    assert result.returncode != 0 and 'no_such_field' in result.stderr


def test_sample_without_checkpoints(tmp_path, python_env):
    result = run_cli(['-m', 'jaxgan.sample', f'--workdir={tmp_path}', '--out=x.npy'], python_env, tmp_path)
    assert result.returncode == 2 and 'error: no checkpoints in' in result.stderr


def test_sample_prints_no_library_warnings(tmp_path, python_env):
    workdir = tmp_path / 'run'
    trained = run_cli(['-m', 'experiments.dcgan_celeba', f'--workdir={workdir}', '--config.dataset=digits',
                       '--config.num_steps=2', *TINY], python_env, tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    result = run_cli(['-m', 'jaxgan.sample', f'--workdir={workdir}', '--num=4', f'--out={tmp_path}/x.npy'],
                     python_env, tmp_path)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [f'wrote 4 samples of step 2 to {tmp_path}/x.npy'], result.stderr


@pytest.mark.parametrize('module', ['jaxgan.main', 'jaxgan.bench'])
def test_unknown_experiment_is_one_line_and_exit_2(tmp_path, python_env, module):
    result = run_cli(['-m', module, '--experiment=nope'], python_env, tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    assert errors == ["error: --experiment='nope' is not one of " + ', '.join(experiments.NAMES)]
    assert 'dcgan_celeba' in experiments.NAMES and not os.listdir(tmp_path)  # nothing written
