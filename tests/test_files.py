"""jaxgan.files: whole files or nothing."""

import os

import numpy as np
import pytest

from jaxgan import files


def test_atomic_write_text_and_bytes(tmp_path):
    path = tmp_path / 'sub' / 'a.json'
    files.atomic_write(str(path), '{"é": 1}')
    assert path.read_text(encoding='utf-8') == '{"é": 1}'
    files.atomic_write(str(path), b'\x00\x01')
    assert path.read_bytes() == b'\x00\x01'
    assert os.listdir(tmp_path / 'sub') == ['a.json']  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / 'x.npy'
    np.save(path, np.arange(3))
    with pytest.raises(RuntimeError):
        with files.atomic_path(str(path)) as tmp:
            np.save(tmp, np.arange(5))
            raise RuntimeError('killed mid-write')
    assert np.array_equal(np.load(path), np.arange(3))
    assert os.listdir(tmp_path) == ['x.npy']


def test_the_temporary_keeps_the_extension(tmp_path):
    # np.save appends .npy and PIL picks the format from the name: the temporary must end the same.
    with files.atomic_path(str(tmp_path / 'x.npy')) as tmp:
        assert tmp.endswith('.npy') and os.path.dirname(tmp) == str(tmp_path)
        np.save(tmp, np.arange(2))
    assert np.array_equal(np.load(tmp_path / 'x.npy'), np.arange(2))
