"""TFDS sources under tfds.testing.mock_data: random access (ArrayRecord) and the decoded cache."""

import os

import numpy as np
import pytest

tfds = pytest.importorskip('tensorflow_datasets')

from jaxgan import data  # noqa: E402
from jaxgan.errors import UserError  # noqa: E402
from tests.conftest import tiny_config  # noqa: E402


def test_celeb_a_by_random_access():
    with tfds.testing.mock_data(num_examples=12):
        dataset = data.load(tiny_config(dataset='tfds:celeb_a', image_size=32, data__crop=108))
        assert dataset.spec.shape == (32, 32, 3) and dataset.spec.num_examples == 12
        batch = data.Batcher(dataset, global_batch=8, seed=0, workers=2).batch(0)['x']
    assert batch.shape == (8, 32, 32, 3) and batch.dtype == np.uint8


def test_tfrecord_dataset_is_decoded_once_into_a_cache(tmp_path):
    def no_random_access(*args, **kwargs):
        raise NotImplementedError('prepared as tfrecord')

    config = tiny_config(dataset='tfds:mnist:test', image_size=16, data__cache_dir=str(tmp_path))
    with tfds.testing.mock_data(num_examples=20, as_data_source_fn=no_random_access):
        dataset = data.load(config)
        cached = sorted(os.listdir(tmp_path))
        assert len(cached) == 2, cached
        assert cached[0].endswith('-test-16px-crop0-c0.labels.npy') and cached[1].endswith('-test-16px-crop0-c0.npy')
        assert dataset.source.labels is not None and len(dataset.source.labels) == 20
        assert dataset.spec.shape == (16, 16, 1) and dataset.spec.num_examples == 20
        x = dataset.examples(np.array([3, 1, 2]))
        again = data.load(config)  # read back from the cache, not decoded again
        assert np.array_equal(again.examples(np.array([3, 1, 2])), x)
    assert sorted(os.listdir(tmp_path)) == cached  # no temporary file left behind


def test_unknown_tfds_name():
    with pytest.raises(UserError, match="unknown TFDS dataset 'no_such_dataset'"):
        data.load(tiny_config(dataset='tfds:no_such_dataset'))
