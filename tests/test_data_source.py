"""The one data interface (jaxgan.data.base), the channels a folder is read in, the memory a batch needs
(checked before any data are read) and the fingerprint of the source kept in the DataSpec."""

import dataclasses
import logging
import os

import numpy as np
import pytest
from PIL import Image

from jaxgan import data
from jaxgan.data import base, fingerprint, memory, pipeline, reading, tables
from jaxgan.errors import UserError
from tests.conftest import run_cli, tiny_config


def write(path, mode, seed=0, size=(12, 10)):
    rng = np.random.default_rng(seed)
    channels = {'L': 1, 'RGB': 3, 'RGBA': 4}[mode]
    array = rng.integers(0, 256, (*size, channels), np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array[..., 0] if channels == 1 else array, mode).save(path)


def colour_folder(folder, grey=('a.png',), colour=('b.png', 'c.png', 'd.png'), mode='RGB'):
    """A folder whose first file in sorted order is grey and the rest colour."""
    for name in grey:
        write(os.path.join(folder, name), 'L')
    for i, name in enumerate(colour):
        write(os.path.join(folder, name), mode, seed=i + 1)


def write_csv(path, rows=24, cell=None):
    lines = ['x,y'] + [f'{i * 0.5},{"ab"[i % 2]}' for i in range(rows)]
    if cell is not None:
        lines[3] = cell
    path.write_text('\n'.join(lines) + '\n')


# --- one interface -------------------------------------------------------------------------------------


def test_images_pairs_and_tables_are_one_data_source(tmp_path):
    for split in ('trainA', 'trainB'):
        colour_folder(tmp_path / 'u' / split)
    write_csv(tmp_path / 't.csv')
    loaded = {
        base.SINGLE: data.load(tiny_config(image_size=8)),
        base.PAIRED: data.load(tiny_config(dataset='demo:edges2digits', image_size=8)),
        base.UNPAIRED: data.load(tiny_config(dataset=f'unpaired:{tmp_path}/u', image_size=8)),
        base.TABLE: data.load(tiny_config(dataset=f'csv:{tmp_path}/t.csv', model__name='ctgan')),
    }
    keys = {base.SINGLE: {'x'}, base.PAIRED: {'a', 'b'}, base.UNPAIRED: {'a', 'b'}, base.TABLE: {'x', 'c'}}
    for layout, dataset in loaded.items():
        assert isinstance(dataset, data.DataSource) and dataset.layout == layout
        assert len(dataset.sizes) == (2 if layout == base.UNPAIRED else 1)
        read = dataset.read([np.arange(2)] * len(dataset.sizes))
        assert set(read) == keys[layout] and all(len(v) == 2 for v in read.values())
        batcher = data.Batcher(dataset, global_batch=4, seed=0, workers=1)
        assert set(batcher.batch(0)) == keys[layout]
        batcher.close()
    images = loaded[base.SINGLE]
    np.testing.assert_array_equal(images.read([np.arange(3)])['x'], images.examples(np.arange(3)))


def test_on_device_data_are_refused_for_layouts_the_devices_cannot_gather(tmp_path):
    write_csv(tmp_path / 't.csv')
    table = data.load(tiny_config(dataset=f'csv:{tmp_path}/t.csv', model__name='ctgan'))
    batcher = data.Batcher(table, global_batch=4, seed=0, workers=1)
    with pytest.raises(UserError, match='on_device: not supported for table data'):
        batcher.index_batch(0)
    batcher.close()


def test_the_pipeline_knows_the_table_kinds_without_importing_pandas():
    assert pipeline.TABLE_KINDS == tables.KINDS


# --- channels ------------------------------------------------------------------------------------------


def test_a_colour_folder_whose_first_file_is_grey_is_read_in_colour(tmp_path, caplog):
    colour_folder(tmp_path)
    with caplog.at_level(logging.INFO):
        dataset = data.load(tiny_config(dataset=f'folder:{tmp_path}', image_size=8))
    assert dataset.spec.shape == (8, 8, 3)
    grey = dataset.examples(np.array([0]))[0]
    assert grey.shape == (8, 8, 3) and (grey[..., 0] == grey[..., 2]).all()  # its grey in three channels
    assert f'folder:{tmp_path}: 3 channels (3 of 4 sampled files are colour, 1 grey: grey ones are read as ' \
           'colour)' in caplog.text


def test_an_all_grey_folder_stays_grey(tmp_path, caplog):
    colour_folder(tmp_path, grey=('a.png', 'b.png', 'c.png'), colour=())
    with caplog.at_level(logging.INFO):
        dataset = data.load(tiny_config(dataset=f'folder:{tmp_path}', image_size=8))
    assert dataset.spec.shape == (8, 8, 1)
    assert f'folder:{tmp_path}: 1 channel (0 of 3 sampled files are colour, 3 grey)' in caplog.text


def test_alpha_is_said_to_be_dropped_and_config_channels_win(tmp_path, caplog):
    colour_folder(tmp_path, mode='RGBA')
    with caplog.at_level(logging.INFO):
        assert data.load(tiny_config(dataset=f'folder:{tmp_path}', image_size=8)).spec.shape == (8, 8, 3)
        grey = data.load(tiny_config(dataset=f'folder:{tmp_path}', image_size=8, data__channels=1))
    assert '3 with an alpha channel, which is dropped' in caplog.text
    assert grey.spec.shape == (8, 8, 1) and '1 channel (config.data.channels=1)' in caplog.text


def test_the_channel_sample_is_spread_over_the_whole_folder():
    assert list(reading.sample_indices(5)) == [0, 1, 2, 3, 4]
    spread = reading.sample_indices(10_000)
    assert len(spread) == reading.CHANNEL_SAMPLE and spread[0] == 0 and spread[-1] == 9_999


@pytest.mark.parametrize('layout', ['paired', 'unpaired'])
def test_translation_folders_are_read_in_colour_when_any_sampled_file_is(tmp_path, layout):
    if layout == 'paired':  # A/B folders matched by name; A's first file grey, the rest colour
        colour_folder(tmp_path / 'A')
        colour_folder(tmp_path / 'B', grey=('a.png', 'b.png', 'c.png', 'd.png'), colour=())
    else:
        colour_folder(tmp_path / 'trainA')
        colour_folder(tmp_path / 'trainB')
    dataset = data.load(tiny_config(dataset=f'{layout}:{tmp_path}', image_size=8))
    assert dataset.spec.shape == (8, 8, 3)
    assert dataset.read([np.arange(1)] * len(dataset.sizes))['a'].shape == (1, 8, 8, 3)


# --- sizes checked before data are read -----------------------------------------------------------------


def test_a_batch_larger_than_memory_is_refused_before_the_data_are_opened(tmp_path):
    config = tiny_config(dataset=f'folder:{tmp_path}/missing', image_size=4096, batch_size=64)
    with pytest.raises(UserError, match=r'^config.image_size=4096: one batch of 64 images of 4096x4096x1 needs at '
                                        r'least 5.4 GB of memory .* and 1.0 GB is available'):
        memory.check_batch_fits(config, available=10**9)
    memory.check_batch_fits(config, available=6 * 10**9)
    with pytest.raises(UserError, match='image_size=100000000'):  # before the missing folder is looked for
        data.load(tiny_config(dataset=f'folder:{tmp_path}/missing', image_size=10**8))
    with pytest.raises(UserError, match='pairs of images'):
        data.load(tiny_config(dataset=f'paired:{tmp_path}/missing', image_size=10**8))


def test_an_image_size_beyond_memory_is_one_line_exit_2_and_writes_nothing(tmp_path, python_env):
    # 2**26 px: a size DCGAN's declaration accepts (a power of two), whose batch no machine holds
    result = run_cli(['-m', 'experiments.dcgan_celeba', f'--workdir={tmp_path}/run', '--config.dataset=digits',
                      '--config.image_size=67108864'], python_env, tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and errors[0].startswith('error: config.image_size=67108864: one batch of 128 images')
    assert 'Traceback' not in result.stderr and os.listdir(tmp_path) == []


# --- the fingerprint of the source ---------------------------------------------------------------------


def test_a_csv_fingerprint_changes_with_a_cell_and_is_stable_otherwise(tmp_path):
    write_csv(tmp_path / 't.csv')
    config = tiny_config(dataset=f'csv:{tmp_path}/t.csv', model__name='ctgan')
    spec = data.load(config).spec
    assert spec.fingerprint.startswith('sha256:') and data.load(config).spec.fingerprint == spec.fingerprint
    saved = spec.to_json()
    assert data.changed_source(saved, spec) is None
    write_csv(tmp_path / 't.csv', cell='1.0,b')
    changed = data.load(config).spec
    message = data.changed_source(saved, changed)
    assert changed.fingerprint != spec.fingerprint and '\n' not in message
    assert message.startswith(f'csv:{tmp_path}/t.csv: the data changed since the checkpoint was written (then content ')


def test_a_folder_fingerprint_changes_when_a_file_is_added_and_is_stable_otherwise(tmp_path):
    colour_folder(tmp_path)
    config = tiny_config(dataset=f'folder:{tmp_path}', image_size=8)
    spec = data.load(config).spec
    assert spec.fingerprint.startswith('listing:') and spec.fingerprint.endswith(' 4 files')
    assert data.load(config).spec.fingerprint == spec.fingerprint
    assert data.load(tiny_config(dataset=f'folder:{tmp_path}', image_size=8, data__limit=2)).spec.fingerprint \
        == spec.fingerprint  # the same files, fewer of them chosen: the source did not change
    write(str(tmp_path / 'e.png'), 'RGB', seed=9)
    message = data.changed_source(spec.to_json(), data.load(config).spec)
    assert 'then 4 files (listing' in message and 'now 5 files (listing' in message


def test_npy_and_embedded_fingerprints(tmp_path):
    array = np.zeros((4, 8, 8), np.uint8)
    np.save(tmp_path / 'x.npy', array)
    config = tiny_config(dataset=f'npy:{tmp_path}/x.npy', image_size=8)
    before = data.load(config).spec.fingerprint
    assert before == fingerprint.of_file(str(tmp_path / 'x.npy'))
    np.save(tmp_path / 'x.labels.npy', np.arange(4))  # labels beside it are part of the data
    assert data.load(config).spec.fingerprint != before
    assert data.load(tiny_config()).spec.fingerprint == 'name:digits'
    assert data.load(tiny_config(dataset='demo:edges2digits')).spec.fingerprint == 'name:demo:edges2digits:train'


def test_specs_saved_before_fingerprints_still_load_and_are_not_called_changed():
    spec = data.load(tiny_config()).spec
    old = {k: v for k, v in spec.to_json().items() if k != 'fingerprint'}
    assert data.DataSpec.from_json(old) == dataclasses.replace(spec, fingerprint='')
    assert data.DataSpec.from_json(spec.to_json()) == spec
    assert data.changed_source(old, spec) is None
