"""End to end through the command line, as a user runs it: real processes, tiny configs."""

import os

import numpy as np
import pytest

import experiments
from tests.conftest import run_cli
from tests.test_data import write_images

TINY = ['--config.image_size=16', '--config.batch_size=16', '--config.model.z_dim=8',
        '--config.model.g_width=8', '--config.model.d_width=8', '--config.data.workers=1',
        '--config.log_every=2', '--config.checkpoint_every=2', '--config.sample_every=2',
        '--config.num_samples=16', '--config.data.crop=0']


def test_train_on_a_folder_resume_and_sample(tmp_path, python_env):
    images = tmp_path / 'images'
    write_images(images, [(24, 20)] * 20)
    workdir = tmp_path / 'run'
    args = ['-m', 'experiments.dcgan_celeba', f'--workdir={workdir}', f'--config.dataset=folder:{images}', *TINY]
    first = run_cli([*args, '--config.num_steps=2'], python_env, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert 'step 2/2' in first.stderr and 'img/s' in first.stderr and '| ETA 0:00:00' in first.stderr
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
    ('--config.data.crop=108', 'error: config.data.crop=108 is larger than digits[0] of 8x8 pixels '
                               '(--config.data.crop=0 takes the largest centred square)'),
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


@pytest.mark.parametrize('flag, message', [
    ('--config.batchsize=8', 'error: unknown config field batchsize (did you mean batch_size?)'),
    ('--config.data.crpo=0', 'error: unknown config field data.crpo (did you mean data.crop?)'),
    ('--noconfig.data.on_devic', 'error: unknown config field data.on_devic (did you mean data.on_device?)'),
])
def test_a_config_field_typo_is_one_line_with_the_closest_name(tmp_path, python_env, flag, message):
    result = run_cli(['-m', 'experiments.dcgan_celeba', f'--workdir={tmp_path}/run', flag], python_env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [message], result.stderr[-2000:]
    assert not os.path.exists(tmp_path / 'run')


def test_every_config_field_has_a_description():
    from jaxgan import cli, config as config_lib
    described = config_lib.descriptions()
    fields = [field for field, _ in cli.flatten(config_lib.base_config().to_dict())]
    assert [f for f in fields if not described.get(f)] == []
    assert described['data.crop'].startswith('centre crop in pixels before resizing')
    assert described['g_optimizer.b1'] == described['d_optimizer.b1'] == "adam's beta1; sgd's momentum"
    assert described['penalties'].startswith("Added to D's loss")  # a section, from the comment above it


def test_help_shows_each_field_with_its_meaning_by_section(tmp_path, python_env):
    result = run_cli(['-m', 'experiments.dcgan_celeba', '--help'], python_env, tmp_path)  # absl exits 1
    text = ' '.join(result.stdout.split())  # absl wraps the help to the terminal's width
    assert "[the run] dataset = 'tfds:celeb_a' # the training data: digits" in text
    assert '[data] the input pipeline data.crop = 108 # centre crop in pixels before resizing' in text
    assert "[penalties] Added to D's loss." in text
    assert "g_optimizer.b1 = 0.5 # adam's beta1; sgd's momentum" in text


def test_a_tools_help_lists_the_shared_flags_it_takes(tmp_path, python_env):
    """absl's --help lists the main module's key flags only: the flags defined in jaxgan.cli (--member,
    --workdir) are registered as the tool's own, or a user would not know them."""
    text = run_cli(['-m', 'jaxgan.export', '--help'], python_env, tmp_path).stdout
    assert '--member: For a run of an ensemble' in text and '--workdir:' in text


@pytest.mark.parametrize('flag, message', [
    ('--config.seed=-1', 'error: config.seed=-1 must be an integer from 0 to 2**32 - 1'),
    ('--workdir={tmp}/a_file', 'error: --workdir={tmp}/a_file is a file, not a directory'),
    ('--workdir={tmp}/a_file/run', 'error: --workdir={tmp}/a_file/run cannot be made: {tmp}/a_file is a file'),
])
def test_a_bad_seed_or_workdir_is_one_line_and_writes_nothing(tmp_path, python_env, flag, message):
    (tmp_path / 'a_file').write_text('mine')
    result = run_cli(['-m', 'experiments.dcgan_celeba', f'--workdir={tmp_path}/run', '--config.dataset=digits',
                      *TINY, flag.format(tmp=tmp_path)], python_env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(message.format(tmp=tmp_path)), result.stderr[-2000:]
    assert 'Traceback' not in result.stderr
    assert sorted(os.listdir(tmp_path)) == ['a_file'] and (tmp_path / 'a_file').read_text() == 'mine'


def test_the_examples_in_an_experiments_help_run(tmp_path, python_env):
    import experiments.dcgan_celeba
    example = next(line.split('#')[0].split() for line in experiments.dcgan_celeba.__doc__.splitlines()
                   if '--config.dataset=digits' in line)
    assert example[:3] == ['python', '-m', 'experiments.dcgan_celeba']
    small = ['--config.batch_size=16', '--config.model.z_dim=8', '--config.model.g_width=8',
             '--config.model.d_width=8', '--config.num_steps=1', '--config.num_samples=16']  # as printed otherwise
    result = run_cli([*example[1:], f'--workdir={tmp_path}/run', *small], python_env, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize('module', ['jaxgan.main', 'jaxgan.bench'])
def test_unknown_experiment_is_one_line_and_exit_2(tmp_path, python_env, module):
    result = run_cli(['-m', module, '--experiment=nope'], python_env, tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    assert errors == ["error: --experiment='nope' is not one of " + ', '.join(experiments.NAMES)]
    assert 'dcgan_celeba' in experiments.NAMES and not os.listdir(tmp_path)  # nothing written


def _asyncio_reports(error: Exception) -> list:
    """The records asyncio logs when a future whose exception nobody read is collected."""
    import asyncio
    import gc
    import logging as pylogging

    records = []

    class Keep(pylogging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    pylogging.getLogger('asyncio').addHandler(handler)
    try:
        loop = asyncio.new_event_loop()
        future = loop.create_future()
        future.set_exception(error)
        del future
        gc.collect()
        loop.close()
    finally:
        pylogging.getLogger('asyncio').removeHandler(handler)
    return records


def test_an_abandoned_checkpoint_read_is_not_reported_but_other_errors_are():
    from jaxgan.cli import _QuietLibraries

    quiet = _QuietLibraries()
    abandoned = _asyncio_reports(ValueError('OUT_OF_RANGE: Error reading ... [tensorstore_spec=\'{}\']'))
    other = _asyncio_reports(ValueError('something else went wrong'))
    assert len(abandoned) == 1 and 'never retrieved' in abandoned[0].getMessage()
    assert not quiet.filter(abandoned[0])
    assert len(other) == 1 and quiet.filter(other[0])
