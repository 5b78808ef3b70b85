"""TFDS sources: under tfds.testing.mock_data, random access (ArrayRecord) and the decoded cache; for
real, tiny datasets defined in `tests/tfds_tiny.py`, prepared offline into a test's data_dir."""

import os
import time

import numpy as np
import pytest

tfds = pytest.importorskip('tensorflow_datasets')

from jaxgan import data  # noqa: E402
from jaxgan.data import sources  # noqa: E402
from jaxgan.errors import UserError  # noqa: E402
from tests import tfds_tiny  # noqa: E402  (registers the tiny datasets)
from tests.conftest import tiny_config  # noqa: E402


@pytest.fixture
def no_download(monkeypatch):
    """Under tfds.testing.mock_data, download_and_prepare downloads nothing: no host need be reachable."""
    monkeypatch.setattr(sources, 'unreachable_hosts', lambda urls: [])


def test_celeb_a_by_random_access(no_download):
    with tfds.testing.mock_data(num_examples=12):
        dataset = data.load(tiny_config(dataset='tfds:celeb_a', image_size=32, data__crop=108))
        assert dataset.spec.shape == (32, 32, 3) and dataset.spec.num_examples == 12
        batch = data.Batcher(dataset, global_batch=8, seed=0, workers=2).batch(0)['x']
    assert batch.shape == (8, 32, 32, 3) and batch.dtype == np.uint8


def test_tfrecord_dataset_is_decoded_once_into_a_cache(tmp_path, no_download):
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


def test_a_real_dataset_is_prepared_and_read_by_index(tmp_path):
    """What a fresh install does with `tfds:NAME`: TFDS builds the dataset (here from a generator, no
    network) as ArrayRecord files, and jaxgan reads them by index, labels and class names too."""
    config = tiny_config(dataset='tfds:jaxgan_tiny_digits', data__tfds_data_dir=str(tmp_path / 'tfds'),
                         data__cache_dir=str(tmp_path / 'cache'))
    dataset = data.load(config)
    assert dataset.spec.num_examples == 12 and dataset.spec.shape == (16, 16, 1)
    assert dataset.spec.class_names == ('zero', 'one', 'two')
    keys = [int(dataset.source[i][0, 0, 0]) // 20 for i in range(12)]  # TFDS shuffles examples as it writes
    assert sorted(keys) == list(range(12)) and list(dataset.source.labels) == [k % 3 for k in keys]
    assert dataset.examples(np.array([5, 0])).shape == (2, 16, 16, 1)
    assert not (tmp_path / 'cache').exists()  # read by index, not decoded into a cache
    again = data.load(config)  # prepared once: read back as it is
    assert np.array_equal(again.examples(np.arange(12)), dataset.examples(np.arange(12)))


def test_an_unreachable_download_host_fails_fast_and_says_what_to_do(tmp_path):
    start = time.monotonic()
    with pytest.raises(UserError) as error:
        data.load(tiny_config(dataset='tfds:jaxgan_tiny_online', data__tfds_data_dir=str(tmp_path)))
    message = str(error.value)
    assert message.startswith('cannot download tfds:jaxgan_tiny_online:train: jaxgan-test.invalid (')
    assert 'cannot be reached' in message and 'config.data.tfds_data_dir' in message and '\n' not in message
    assert time.monotonic() - start < 60  # TFDS alone retries for about 3.5 minutes


def test_a_missing_module_or_other_failure_is_named_not_blamed_on_the_download(tmp_path, monkeypatch):
    def fails_with(error):
        def download_and_prepare(*args, **kwargs):
            raise error
        return download_and_prepare

    config = tiny_config(dataset='tfds:jaxgan_tiny_digits', data__tfds_data_dir=str(tmp_path))
    missing = ModuleNotFoundError("No module named 'importlib_resources'", name='importlib_resources')
    monkeypatch.setattr(tfds_tiny.JaxganTinyDigits, 'download_and_prepare', fails_with(missing))
    with pytest.raises(UserError, match=r"^cannot prepare tfds:jaxgan_tiny_digits:train: TFDS needs the Python "
                                        r"module 'importlib_resources', which is not installed .*; "
                                        r"pip install importlib_resources$"):
        data.load(config)
    monkeypatch.setattr(tfds_tiny.JaxganTinyDigits, 'download_and_prepare',
                        fails_with(ValueError('example 3 has no image\nmore detail')))
    with pytest.raises(UserError, match=r"^cannot download or prepare tfds:jaxgan_tiny_digits:train in .*: "
                                        r"ValueError: example 3 has no image \(prepare it on a machine"):
        data.load(config)
