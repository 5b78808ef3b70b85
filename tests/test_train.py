import json
import logging
import os

import jax
import numpy as np
import pytest

from jaxgan import train
from jaxgan.core import parallel
from jaxgan.checkpoint import Checkpoints, load_run
from jaxgan.errors import UserError
from tests.conftest import tiny_config


def leaves(state):
    return jax.tree.leaves(parallel.to_host(state))


def test_resume_continues_exactly_as_an_uninterrupted_run(tmp_path):
    straight = train.train(tiny_config(num_steps=4, async_checkpoints=True), str(tmp_path / 'a')).state
    train.train(tiny_config(num_steps=2, async_checkpoints=True), str(tmp_path / 'b'))
    resumed = train.train(tiny_config(num_steps=4, async_checkpoints=True), str(tmp_path / 'b')).state
    assert int(parallel.to_host(resumed.step)) == 4
    for x, y in zip(leaves(straight), leaves(resumed)):
        assert np.array_equal(x, y)
    rows = lambda d: [json.loads(line) for line in open(tmp_path / d / 'metrics.jsonl')]
    assert rows('a')[-1] == {**rows('b')[-1], 'steps_per_s': rows('a')[-1]['steps_per_s'],
                             'images_per_s': rows('a')[-1]['images_per_s']}


def test_outputs_checkpoints_samples_logs(tmp_path):
    config = tiny_config(num_steps=8, keep_checkpoints=2, steps_per_dispatch=2, log_every=4,
                         sample_every=4)
    train.train(config, str(tmp_path))
    assert Checkpoints(str(tmp_path), read_only=True).all_steps() == [6, 8]
    assert sorted(os.listdir(tmp_path / 'samples')) == ['step_00000004.png', 'step_00000008.png']
    assert any(f.startswith('events.out.tfevents') for f in os.listdir(tmp_path / 'tensorboard'))
    rows = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')]
    assert [r['step'] for r in rows] == [4, 8]
    assert {'d_loss', 'g_loss', 'd_real_prob', 'd_fake_prob', 'g_grad_norm', 'd_grad_norm',
            'g_param_norm', 'd_param_norm', 'images_per_s'} <= set(rows[0])
    config_, gan, state = load_run(str(tmp_path))
    assert int(parallel.to_host(state.step)) == 8 and config_.image_size == 16
    assert gan.spec.shape == (16, 16, 1)


def test_resume_refuses_an_incompatible_config(tmp_path):
    train.train(tiny_config(num_steps=2), str(tmp_path))
    before = sorted(os.listdir(tmp_path / 'checkpoints'))
    with pytest.raises(UserError, match=r'another set-up \(image_size: 16 in the checkpoint, 32 now'):
        train.train(tiny_config(num_steps=4, image_size=32), str(tmp_path))
    assert sorted(os.listdir(tmp_path / 'checkpoints')) == before


def test_resume_refuses_another_model_size(tmp_path):
    train.train(tiny_config(num_steps=2), str(tmp_path))
    with pytest.raises(UserError, match=r'another set-up \(.*\(16,\) in the checkpoint, \(32,\) now'):
        train.train(tiny_config(num_steps=4, model__d_width=16), str(tmp_path))


def test_invalid_config_values_are_user_errors(tmp_path):
    with pytest.raises(UserError, match='config.batch_size=12 is not divisible by the 8 devices'):
        train.train(tiny_config(batch_size=12), str(tmp_path))
    with pytest.raises(UserError, match='config.batch_size=0 must be a positive integer'):
        train.train(tiny_config(batch_size=0), str(tmp_path))
    with pytest.raises(UserError, match='config.image_size=48: model dcgan makes square images of a power-of-two'):
        train.train(tiny_config(image_size=48), str(tmp_path))
    with pytest.raises(UserError, match="config.semi_supervised with config.conditioning.d='acgan'"):
        train.train(tiny_config(conditioning__d='acgan', semi_supervised__num_labels=10,
                                semi_supervised__batch_size=8), str(tmp_path))
    assert not os.path.exists(tmp_path / 'checkpoints')


@pytest.mark.parametrize('overrides', [
    {'steps_per_dispatch': 2},  # DCGAN, images as uint8
    {'model__name': 'mlp', 'model__g_hidden': (16,), 'model__d_hidden': (16,), 'dataset': 'toy:ring8',
     'n_critic': 2},  # vectors, standardised on the host
    {'model__name': 'mlp', 'model__g_hidden': (16,), 'model__d_hidden': (16,), 'conditioning__g': 'concat',
     'semi_supervised__num_labels': 10, 'semi_supervised__batch_size': 8},  # labels, a second stream
], ids=['dcgan', 'vectors', 'labels'])
def test_dataset_on_the_devices_trains_exactly_as_the_host_pipeline(tmp_path, overrides, caplog):
    host = train.train(tiny_config(**overrides), str(tmp_path / 'host')).state
    assert 'on_device' not in caplog.text
    with caplog.at_level(logging.INFO):
        held = train.train(tiny_config(data__on_device=True, **overrides), str(tmp_path / 'held')).state
    assert 'config.data.on_device: ' in caplog.text  # the batches were gathered on the devices
    assert int(parallel.to_host(held.step)) == 4
    for x, y in zip(leaves(host), leaves(held)):
        assert np.array_equal(x, y)


def test_the_same_npy_named_relative_then_absolute_resumes(tmp_path, monkeypatch):
    images = np.random.default_rng(0).integers(0, 256, (40, 16, 16, 1), np.uint8)
    np.save(tmp_path / 'imgs.npy', images)
    monkeypatch.chdir(tmp_path)
    train.train(tiny_config(dataset='npy:imgs.npy', num_steps=2), str(tmp_path / 'run'))
    resumed = train.train(tiny_config(dataset=f'npy:{tmp_path}/imgs.npy', num_steps=4), str(tmp_path / 'run'))
    assert int(parallel.to_host(resumed.state.step)) == 4
    np.save(tmp_path / 'other.npy', images)  # other data: still another set-up
    with pytest.raises(UserError, match='another set-up'):
        train.train(tiny_config(dataset='npy:other.npy', num_steps=6), str(tmp_path / 'run'))


def test_a_workdir_that_cannot_be_written_stops_the_run_before_anything(tmp_path, monkeypatch):
    locked = tmp_path / 'locked'
    locked.mkdir()
    locked.chmod(0o555)
    if os.access(locked, os.W_OK):  # root writes anywhere: answer as the system answers other users
        real = os.access
        monkeypatch.setattr(os, 'access', lambda path, mode, **kw: str(path) != str(locked) and real(path, mode, **kw))
    try:
        with pytest.raises(UserError, match=rf'--workdir={locked}/run cannot be made in {locked}: permission denied'):
            train.train(tiny_config(), str(locked / 'run'))
        with pytest.raises(UserError, match=rf'--workdir={locked} cannot be written: permission denied'):
            train.train(tiny_config(), str(locked))
    finally:
        locked.chmod(0o755)
    assert os.listdir(locked) == []


def test_the_eval_dataset_is_checked_before_training(tmp_path):
    from experiments import infogan_mnist
    config = infogan_mnist.get_config()
    small = tiny_config()
    for field in ('dataset', 'image_size', 'batch_size', 'num_steps', 'model', 'data', 'log_every',
                  'checkpoint_every'):
        config[field] = small[field]
    config.eval_dataset = f'folder:{tmp_path}/no_such_folder'
    with pytest.raises(UserError, match=f"config.eval_dataset='folder:{tmp_path}/no_such_folder': image folder not found"):
        infogan_mnist.run(config, str(tmp_path / 'run'))
    assert not os.path.exists(tmp_path / 'run')  # failed before step 1, not after training
    np.save(tmp_path / 'unlabelled.npy', np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(UserError, match=f"config.eval_dataset='npy:{tmp_path}/unlabelled.npy' has no labels"):
        train.train(tiny_config(eval_dataset=f'npy:{tmp_path}/unlabelled.npy'), str(tmp_path / 'run'))
    np.save(tmp_path / 'colour.npy', np.zeros((4, 8, 8, 3), np.uint8))
    np.save(tmp_path / 'colour.labels.npy', np.arange(4))
    with pytest.raises(UserError, match=rf"config.eval_dataset='npy:{tmp_path}/colour.npy' gives examples of shape "
                                        r"\(16, 16, 3\), the training data \(digits\) \(16, 16, 1\)"):
        train.train(tiny_config(eval_dataset=f'npy:{tmp_path}/colour.npy'), str(tmp_path / 'run'))
    assert not os.path.exists(tmp_path / 'run')


def test_start_up_warns_of_a_batch_larger_than_the_data_and_of_heavy_upsampling(tmp_path, caplog):
    np.save(tmp_path / 'tiny.npy', np.random.default_rng(0).integers(0, 255, (8, 3, 3), np.uint8))
    with caplog.at_level(logging.WARNING):
        train.train(tiny_config(dataset=f'npy:{tmp_path}/tiny.npy', num_steps=1), str(tmp_path / 'run'))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f'config.batch_size=16 is more than the 8 examples of npy:{tmp_path}/tiny.npy: each batch holds ' \
           'some examples more than once' in warnings
    assert any(w.startswith(f'config.image_size=16 upsamples the 3x3 images of npy:{tmp_path}/tiny.npy 5.33333 '
                            'times') for w in warnings), warnings
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # digits (8x8) at 16: twice, not warned of
        train.train(tiny_config(num_steps=1), str(tmp_path / 'digits'))
    assert not [r for r in caplog.records if 'upsamples' in r.getMessage() or 'more than the' in r.getMessage()]


@pytest.mark.parametrize('overrides, named', [
    (dict(conditioning__d='acgan', conditioning__g='concat'), 'config.conditioning.d'),
    (dict(infogan__categorical=4), 'config.infogan'),
])
def test_no_discriminator_with_a_head_that_needs_one_is_a_config_error(overrides, named):
    from jaxgan import config as config_lib
    config = tiny_config(n_critic=0, g_objective__adversarial=0.0, g_objective__mmd=1.0, **overrides)
    with pytest.raises(UserError, match=f'config.n_critic=0 trains no discriminator, but {named}'):
        config_lib.validate(config, num_devices=8)


def test_a_saved_config_without_a_later_field_loads_with_its_default():
    from jaxgan import config as config_lib
    saved = config_lib.base_config().to_dict()
    del saved['n_gen'], saved['penalties']['r1']
    saved['n_critic'], saved['eval_samples'] = 5, 26_000  # a value of the run, an experiment's own field
    config = config_lib.completed(saved)
    assert config.n_gen == 1 and config.penalties.r1 == 0.0
    assert config.n_critic == 5 and config.eval_samples == 26_000
    assert 'n_gen' not in saved  # the saved dict is left as it was


def test_a_run_saved_before_a_field_existed_loads_for_sampling(tmp_path):
    train.train(tiny_config(num_steps=1, checkpoint_every=1, async_checkpoints=False), str(tmp_path))
    metas = [p for p in (tmp_path / 'checkpoints').rglob('*') if p.is_file() and b'"n_gen"' in p.read_bytes()]
    assert len(metas) == 1
    meta = json.loads(metas[0].read_text())
    del meta['config']['n_gen']  # as a run saved before n_gen existed
    metas[0].write_text(json.dumps(meta))
    config, _, state = load_run(str(tmp_path))
    assert config.n_gen == 1 and int(state.step) == 1
