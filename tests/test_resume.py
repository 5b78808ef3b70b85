"""Resume against what changed since the checkpoint: the data (refused, or accepted with
config.data.allow_changed) and the batch size (accepted, and said)."""

import logging

import numpy as np
import pytest

from jaxgan import train
from jaxgan.errors import UserError
from tests.conftest import tiny_config


def _points(path, seed):
    np.save(path, np.random.default_rng(seed).normal(size=(64, 2)).astype(np.float32))


def _config(path, **overrides):
    return tiny_config(dataset=f'npy:{path}', model__name='mlp', model__g_hidden=(8,), model__d_hidden=(8,),
                       **overrides)


def test_resume_refuses_data_that_changed_since_the_checkpoint(tmp_path, caplog):
    points, workdir = tmp_path / 'points.npy', str(tmp_path / 'run')
    _points(points, 0)
    train.train(_config(points, num_steps=2), workdir)
    train.train(_config(points, num_steps=4), workdir)  # the same data resume
    _points(points, 1)  # the file edited in place
    with pytest.raises(UserError, match=r'^npy:.*points\.npy: the data changed since the checkpoint was written '
                                        r'\(then .*; now .*\): the checkpoints in .* were trained on the data as they '
                                        r'were; --config.data.allow_changed=True resumes'):
        train.train(_config(points, num_steps=6), workdir)
    with caplog.at_level(logging.WARNING):
        trained = train.train(_config(points, num_steps=6, data__allow_changed=True), workdir)
    assert int(trained.state.step) == 6
    assert any('resuming on the data as they are now' in r.getMessage() for r in caplog.records)


def test_resume_with_another_batch_size_says_how_the_stream_continues(tmp_path, caplog):
    points, workdir = tmp_path / 'points.npy', str(tmp_path / 'run')
    _points(points, 0)
    train.train(_config(points, num_steps=2), workdir)
    with caplog.at_level(logging.WARNING):
        trained = train.train(_config(points, num_steps=4, batch_size=8), workdir)
    assert int(trained.state.step) == 4
    lines = [r.getMessage() for r in caplog.records if 'config.batch_size is 8' in r.getMessage()]
    assert lines == ['config.batch_size is 8, the checkpoint of step 2 was trained with 16: training continues from '
                     'step 2 in batches of 8; the seeded data order goes on from example 16 of the stream, where it '
                     'stopped at 32 (the learning-rate schedule and the EMA count steps, not examples)']
