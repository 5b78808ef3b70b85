import logging
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from jaxgan import data
from jaxgan.data import sources, transforms
from jaxgan.errors import UserError
from tests.conftest import tiny_config


def write_images(folder, sizes, mode='RGB', fmt='png', seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for i, (h, w) in enumerate(sizes):
        channels = {'RGB': 3, 'L': 1, 'RGBA': 4}[mode]
        array = rng.integers(0, 256, (h, w, channels), np.uint8)
        path = os.path.join(folder, f'sub{i % 2}', f'img{i:03d}.{fmt}')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(array[..., 0] if channels == 1 else array, mode).save(path)
        paths.append(path)
    return paths


def test_digits_is_embedded():
    dataset = data.load(tiny_config(image_size=32))
    assert dataset.spec.kind == 'image' and dataset.spec.shape == (32, 32, 1)
    assert dataset.spec.num_examples == 1797
    x = dataset.examples(np.arange(4))
    assert x.dtype == np.uint8 and x.shape == (4, 32, 32, 1) and x.max() > 200


def test_folder_of_mixed_sizes_and_formats(tmp_path):
    write_images(tmp_path, [(40, 30), (30, 40), (64, 64)], fmt='png')
    write_images(tmp_path / 'jpegs', [(50, 50)], mode='L', fmt='jpg')
    dataset = data.load(tiny_config(dataset=f'folder:{tmp_path}', image_size=16, data__channels=3))
    assert dataset.spec.num_examples == 4 and dataset.spec.shape == (16, 16, 3)
    assert dataset.examples(np.arange(4)).shape == (4, 16, 16, 3)


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(UserError, match='not found'):
        data.load(tiny_config(dataset=f'folder:{tmp_path}/missing'))
    with pytest.raises(UserError, match='holds no'):
        data.load(tiny_config(dataset=f'folder:{tmp_path}'))


def test_corrupt_image_error_names_the_file(tmp_path):
    paths = write_images(tmp_path, [(20, 20)] * 3)
    with open(paths[1], 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n this is not an image')
    dataset = data.load(tiny_config(dataset=f'folder:{tmp_path}'))
    with pytest.raises(UserError, match=f'cannot decode image {paths[1]}'):
        dataset.examples(np.arange(3))


def test_npy_images_and_vectors(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (10, 20, 20), np.uint8)
    np.save(tmp_path / 'images.npy', images)
    dataset = data.load(tiny_config(dataset=f'npy:{tmp_path}/images.npy', image_size=16))
    assert dataset.spec.shape == (16, 16, 1) and dataset.examples(np.arange(10)).shape == (10, 16, 16, 1)

    vectors = np.random.default_rng(1).normal(5.0, 3.0, (100, 2))
    np.save(tmp_path / 'points.npy', vectors)
    dataset = data.load(tiny_config(dataset=f'npy:{tmp_path}/points.npy'))
    assert dataset.spec.kind == 'vector' and dataset.spec.shape == (2,)
    x = dataset.examples(np.arange(100))
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(0), 1, atol=1e-4)
    np.testing.assert_allclose(dataset.spec.to_data_units(x), vectors, rtol=1e-4)


@pytest.mark.parametrize('array, message', [
    (np.zeros((4, 3, 3, 3), np.float32), 'must be uint8'),
    (np.zeros((4,), np.float32), 'expected'),
    (np.array([[0.0, np.nan]]), 'non-finite value at row 0, column 1'),
    (np.zeros((0, 2)), 'empty'),
])
def test_npy_rejects_what_training_cannot_use(tmp_path, array, message):
    np.save(tmp_path / 'bad.npy', array)
    with pytest.raises(UserError, match=message):
        data.load(tiny_config(dataset=f'npy:{tmp_path}/bad.npy'))


def test_unknown_dataset_string():
    with pytest.raises(UserError, match='is not one of'):
        data.load(tiny_config(dataset='imagenet'))


def test_centre_crop_takes_the_centre():
    image = np.zeros((218, 178, 3), np.uint8)
    image[55:163, 35:143] = 200  # the central 108x108
    crop = transforms.centre_crop(image, 108)
    assert crop.shape == (108, 108, 3) and (crop == 200).all()
    assert transforms.centre_crop(image, 0).shape == (178, 178, 3)
    with pytest.raises(UserError, match='config.data.crop=300'):
        transforms.centre_crop(image, 300)


def test_channel_conversion():
    rgb = np.stack([np.full((2, 2), v, np.uint8) for v in (255, 0, 0)], -1)
    assert transforms.convert_channels(rgb, 1)[0, 0, 0] == 76  # 0.299 * 255
    gray = np.full((2, 2, 1), 9, np.uint8)
    assert (transforms.convert_channels(gray, 3) == 9).all()
    rgba = np.zeros((2, 2, 4), np.uint8)
    assert transforms.convert_channels(rgba, 3).shape == (2, 2, 3)


def test_batches_are_seeded_epochs_and_split_over_processes():
    dataset = data.load(tiny_config())
    n = dataset.spec.num_examples
    one = data.Batcher(dataset, global_batch=64, seed=3, workers=1)
    again = data.Batcher(dataset, global_batch=64, seed=3, workers=1)
    other = data.Batcher(dataset, global_batch=64, seed=4, workers=1)
    assert np.array_equal(one.indices(5), again.indices(5))
    assert not np.array_equal(one.indices(5), other.indices(5))
    # Every example once per epoch.
    first_epoch = np.concatenate([one.indices(t) for t in range(n // 64 + 1)])[:n]
    assert np.array_equal(np.sort(first_epoch), np.arange(n))
    # Two processes read the two halves of the same global batches, and no more.
    halves = [data.Batcher(dataset, global_batch=64, seed=3, workers=1, process_index=p, process_count=2)
              for p in range(2)]
    for t in (0, 28, 29):  # 28 and 29 straddle the end of the first epoch
        assert np.array_equal(np.concatenate([h.indices(t) for h in halves]), one.indices(t))
        assert np.array_equal(np.concatenate([h.batch(t)['x'] for h in halves]), one.batch(t)['x'])


def test_dispatch_batches_shapes_and_resume():
    dataset = data.load(tiny_config())
    batchers = {'': data.Batcher(dataset, global_batch=8, seed=0, workers=1, labels=True)}
    full = list(data.dispatch_batches(batchers, start_step=0, num_steps=5, n_critic=2, steps_per_dispatch=2))
    assert [s for s, _ in full] == [0, 2, 4]
    assert full[0][1]['x'].shape == (2, 2, 8, 16, 16, 1) and full[-1][1]['x'].shape == (1, 2, 8, 16, 16, 1)
    assert full[0][1]['y'].shape == (2, 2, 8) and full[0][1]['y'].dtype == np.int32
    resumed = list(data.dispatch_batches(batchers, start_step=2, num_steps=5, n_critic=2, steps_per_dispatch=2))
    assert all(np.array_equal(a['x'], b['x']) for (_, a), (_, b) in zip(full[1:], resumed))


def test_worker_processes_give_the_batches_the_threads_gave_from_any_step_in_a_process_slice(tmp_path, caplog):
    """Grain's 2 worker processes read a folder into the batches that the pipeline before them read for the
    seed (the dataset's batch with a pool of threads, in the main process): in process 1's slice of a
    2-process run, from D-update 2 as a resumed run would. An unreadable file a worker meets (on_corrupt
    skip) is counted and logged once, by the main process."""
    write_images(tmp_path, [(12, 10)] * 24)
    dataset = data.load(tiny_config(dataset=f'folder:{tmp_path}', image_size=8, data__channels=3,
                                    data__on_corrupt='skip'))
    batcher = data.Batcher(dataset, global_batch=8, seed=5, workers=2, process_index=1, process_count=2,
                           labels=True)
    assert batcher.workers == 2
    bad = int(batcher.indices(3)[1])
    with open(sources.image_files(str(tmp_path))[bad], 'wb') as f:
        f.write(b'not an image')
    with caplog.at_level(logging.WARNING):
        streamed = list(batcher.stream(2, 8))
    assert len(streamed) == 6 and dataset.skipped == {bad}
    assert caplog.text.count('skipped an unreadable image') == 1 and '(1 so far)' in caplog.text
    with ThreadPoolExecutor(8) as pool:
        for t, got in zip(range(2, 8), streamed):
            before = dataset.batch([batcher.indices(t)], batcher.positions(t), 5, pool)
            np.testing.assert_array_equal(got['x'], before['x'])
            np.testing.assert_array_equal(got['y'], dataset.labels[batcher.indices(t)])


def test_an_unreadable_file_in_a_worker_stops_the_stream_naming_it(tmp_path):
    paths = write_images(tmp_path, [(12, 10)] * 4)
    dataset = data.load(tiny_config(dataset=f'folder:{tmp_path}', image_size=8, data__channels=3))
    with open(paths[2], 'wb') as f:
        f.write(b'not an image')
    with pytest.raises(UserError, match=f'cannot decode image {paths[2]}'):
        list(data.Batcher(dataset, global_batch=4, seed=0, workers=1).stream(0, 2))


def test_data_in_memory_and_workers_0_are_read_in_the_main_process(tmp_path):
    from jaxgan import config as config_lib
    assert data.Batcher(data.load(tiny_config()), global_batch=8, seed=0, workers=2).workers == 0  # digits
    write_images(tmp_path, [(12, 10)] * 4)
    folder = data.load(tiny_config(dataset=f'folder:{tmp_path}', image_size=8))
    assert data.Batcher(folder, global_batch=4, seed=0, workers=0).workers == 0
    assert data.Batcher(folder, global_batch=4, seed=0, workers=10**6).workers == os.cpu_count()
    config_lib.validate(tiny_config(data__workers=0), num_devices=1)
    with pytest.raises(UserError, match='config.data.workers=-1 must be a non-negative integer'):
        config_lib.validate(tiny_config(data__workers=-1), num_devices=1)


def test_prefetcher_raises_the_producers_error_in_the_consumer():
    def batches():
        yield 0, np.zeros(2)
        raise UserError('cannot decode image x.png')

    prefetcher = data.Prefetcher(batches(), place=lambda host: host)
    assert next(prefetcher)[0] == 0
    with pytest.raises(UserError, match='x.png'):
        next(prefetcher)
    prefetcher.close()


def test_parse_tfds():
    assert sources.parse_tfds('celeb_a') == ('celeb_a', 'train')
    assert sources.parse_tfds('celeb_a:test') == ('celeb_a', 'test')
    assert sources.parse_tfds('mnist:3.0.1') == ('mnist:3.0.1', 'train')
    assert sources.parse_tfds('mnist:3.0.1:train[:10%]') == ('mnist:3.0.1', 'train[:10%]')


def test_labels_from_every_kind_of_source(tmp_path):
    write_images(tmp_path / 'f', [(20, 20)] * 6)  # sub0/ and sub1/
    folder = data.load(tiny_config(dataset=f'folder:{tmp_path}/f'))
    assert folder.spec.num_classes == 2 and folder.spec.class_names == ('sub0', 'sub1')
    assert list(folder.source.labels) == [0, 0, 0, 1, 1, 1]  # files in sorted path order
    np.save(tmp_path / 'x.npy', np.zeros((4, 8, 8), np.uint8))
    np.save(tmp_path / 'x.labels.npy', np.array([2, 0, 1, 2]))
    npy = data.load(tiny_config(dataset=f'npy:{tmp_path}/x.npy'))
    assert npy.spec.num_classes == 3 and list(npy.source.labels) == [2, 0, 1, 2]
    np.save(tmp_path / 'x.labels.npy', np.array([2, 0]))
    with pytest.raises(UserError, match='labels must be 4 non-negative integers'):
        data.load(tiny_config(dataset=f'npy:{tmp_path}/x.npy'))
    train, test = (data.load(tiny_config(dataset=f'digits:{s}')) for s in ('train', 'test'))
    assert (train.spec.num_examples, test.spec.num_examples) == (1437, 360) and train.spec.num_classes == 10


def test_stacked_digits_have_1000_modes():
    stacked = data.load(tiny_config(dataset='stacked:digits'))
    base = data.load(tiny_config(dataset='digits'))
    assert stacked.spec.shape == (16, 16, 3) and stacked.spec.num_classes == 1000
    assert stacked.spec.num_examples == 25_600  # more than the 1,797 digits: every mode, near uniform
    counts = np.bincount(stacked.source.labels, minlength=1000)
    assert counts.min() > 0 and np.sum(counts / 25_600 * np.log(counts / 25.6)) < 0.05  # KL to uniform
    x = stacked.examples(np.array([5]))[0]
    digits = [int(np.flatnonzero([np.array_equal(x[..., c], b[..., 0]) for b in base.examples(np.arange(1797))])[0])
              for c in range(3)]
    labels = base.source.labels
    assert stacked.source.labels[5] == labels[digits[0]] * 100 + labels[digits[1]] * 10 + labels[digits[2]]


def test_balanced_subset():
    labels = np.repeat(np.arange(4), 10)
    subset = data.balanced_subset(labels, 8, seed=0)
    assert np.array_equal(np.bincount(labels[subset]), [2, 2, 2, 2])
    assert np.array_equal(subset, data.balanced_subset(labels, 8, seed=0))
    with pytest.raises(UserError, match='not a multiple of the 4 classes'):
        data.balanced_subset(labels, 6, seed=0)


def test_a_path_named_two_ways_is_one_dataset(tmp_path, monkeypatch):
    """Relative, absolute, through a symlink or `~`: one npy or folder, one dataset string and spec, so
    that a run resumed with the other spelling is the same set-up."""
    np.save(tmp_path / 'x.npy', np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8))
    write_images(tmp_path / 'images', [(12, 12)] * 4)
    os.symlink(tmp_path, tmp_path / 'link')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('HOME', str(tmp_path / 'link'))
    real = os.path.realpath(tmp_path)
    npy_names = ['npy:x.npy', f'npy:{tmp_path}/x.npy', 'npy:./images/../x.npy', 'npy:link/x.npy', 'npy:~/x.npy']
    assert {data.canonical_dataset(n) for n in npy_names} == {f'npy:{real}/x.npy'}
    assert {data.canonical_dataset(n) for n in ('folder:images', f'folder:{tmp_path}/link/images/')} == {
        f'folder:{real}/images'}
    assert data.canonical_dataset('stacked:npy:x.npy') == f'stacked:npy:{real}/x.npy'
    for unchanged in ('digits', 'digits:train', 'toy:ring8', 'tfds:mnist:train[:10%]', 'stacked:digits'):
        assert data.canonical_dataset(unchanged) == unchanged
    specs = {data.load(tiny_config(dataset=n)).spec for n in npy_names}
    assert len(specs) == 1 and specs.pop().source == f'npy:{real}/x.npy'


def test_the_spec_in_the_log_summarises_long_lists():
    stacked = data.load(tiny_config(dataset='stacked:digits')).spec
    line = str(stacked)
    assert len(line) < 400 and '"class_names": "1000 classes: 000, 001, ..., 999"' in line
    assert '"num_classes": 1000' in line and len(stacked.class_names) == 1000  # the spec keeps them all
    assert data.DataSpec.from_json(stacked.to_json()) == stacked
    digits = str(data.load(tiny_config(dataset='digits')).spec)
    assert '"class_names": ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]' in digits  # short: as they are


# Small datasets: config.data.limit and config.data.flip ----------------------------------------------------

def test_limit_takes_the_same_number_of_each_class_chosen_by_the_seed():
    whole = data.load(tiny_config(dataset='digits:train', image_size=8))
    limited = data.load(tiny_config(dataset='digits:train', image_size=8, data__limit=100))
    assert limited.spec.num_examples == 100 and len(limited.labels) == 100
    assert np.array_equal(np.bincount(limited.labels), [10] * 10)
    # The subset's examples and labels are the whole's at the chosen indices, each taken once.
    images, all_images = limited.examples(np.arange(100)), whole.examples(np.arange(whole.spec.num_examples))
    matches = [np.flatnonzero((all_images == image).all((1, 2, 3))) for image in images]
    assert all(len(m) == 1 for m in matches)  # the 1,437 digits are all different
    chosen = [m[0] for m in matches]
    assert np.array_equal(whole.labels[chosen], limited.labels) and len(set(chosen)) == 100
    again = data.load(tiny_config(dataset='digits:train', image_size=8, data__limit=100))
    other = data.load(tiny_config(dataset='digits:train', image_size=8, data__limit=100, seed=1))
    assert np.array_equal(again.examples(np.arange(100)), images)
    assert not np.array_equal(other.examples(np.arange(100)), images)
    assert '100 examples, seed 0' in limited.spec.source


def test_limit_without_labels_draws_any_examples(tmp_path):
    images = np.arange(50 * 4 * 4, dtype=np.int64).reshape(50, 4, 4).astype(np.uint8)
    images[:, 0, 0] = np.arange(50)  # each image tells its index
    np.save(tmp_path / 'x.npy', images)
    limited = data.load(tiny_config(dataset=f'npy:{tmp_path / "x.npy"}', image_size=4, data__limit=7))
    assert limited.spec.num_examples == 7 and limited.labels is None
    picked = limited.examples(np.arange(7))[:, 0, 0, 0]
    assert len(set(picked)) == 7 and picked.max() < 50
    vectors = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    np.save(tmp_path / 'v.npy', vectors)
    assert data.load(tiny_config(dataset=f'npy:{tmp_path / "v.npy"}', data__limit=5)).spec.num_examples == 5


def test_limit_errors(tmp_path):
    with pytest.raises(UserError, match=r'config.data.limit=105 is not a multiple of the 10 classes of digits:train'):
        data.load(tiny_config(dataset='digits:train', data__limit=105))
    with pytest.raises(UserError, match='config.data.limit=2000 is more than the 1437 examples of digits:train'):
        data.load(tiny_config(dataset='digits:train', data__limit=2000))
    np.save(tmp_path / 'x.npy', np.zeros((12, 4, 4), np.uint8))
    np.save(tmp_path / 'x.labels.npy', np.array([0] * 10 + [1] * 2))
    with pytest.raises(UserError, match='config.data.limit=6: class 1 of .* has only 2 examples'):
        data.load(tiny_config(dataset=f'npy:{tmp_path / "x.npy"}', image_size=4, data__limit=6))


def test_flip_adds_the_mirror_image_of_every_example_after_it():
    plain = data.load(tiny_config(dataset='digits:train', image_size=12, data__limit=20))
    flipped = data.load(tiny_config(dataset='digits:train', image_size=12, data__limit=20, data__flip=True))
    assert flipped.spec.num_examples == 40 and flipped.spec.source.endswith('with x-flips')
    originals, copies = flipped.examples(np.arange(20)), flipped.examples(np.arange(20, 40))
    assert np.array_equal(originals, plain.examples(np.arange(20)))
    assert np.array_equal(copies, originals[:, :, ::-1])  # exact mirrors, after resizing
    assert not np.array_equal(copies, originals)
    assert np.array_equal(flipped.labels, np.concatenate([plain.labels, plain.labels]))
    assert np.array_equal(flipped.example(23), originals[3][:, ::-1])
    # The batch stream draws from all 40, with the labels of what it reads.
    batcher = data.Batcher(flipped, global_batch=40, seed=0, workers=1, labels=True)
    batch, indices = batcher.batch(0), batcher.indices(0)
    assert np.array_equal(np.sort(indices), np.arange(40))
    assert np.array_equal(batch['y'], flipped.labels[indices])
    assert np.array_equal(batch['x'], flipped.examples(indices))
    batcher.close()


def test_flip_needs_images(tmp_path):
    np.save(tmp_path / 'v.npy', np.zeros((5, 2), np.float32))
    with pytest.raises(UserError, match='config.data.flip mirrors images'):
        data.load(tiny_config(dataset=f'npy:{tmp_path / "v.npy"}', data__flip=True))


def test_evaluation_data_are_read_whole():
    config = tiny_config(dataset='digits:train', data__limit=10, data__flip=True)
    assert data.load(data.dataset_config(config, 'digits:test')).spec.num_examples == 360
    assert config.data.limit == 10 and config.dataset == 'digits:train'  # a copy


def test_config_checks_of_the_small_data_and_augment_fields():
    from jaxgan import config as config_lib
    check = lambda **overrides: config_lib.validate(tiny_config(**overrides), num_devices=1)
    check(data__limit=100, data__flip=True)
    for overrides, message in (
            ({'data__limit': -1}, 'config.data.limit=-1 must be a non-negative integer'),
            ({'augment__kind': 'diffaug'}, "config.augment.kind='diffaug' is not one of none, diffaugment, ada, fixed"),
            ({'augment__p': 1.5}, r'config.augment.p=1.5 must be a probability in \[0, 1\]'),
            ({'augment__target': -0.1}, r'config.augment.target=-0.1 must be a probability'),
            ({'augment__policy': 'color,zoom'},
             "config.augment.policy='color,zoom': unknown DiffAugment policy 'zoom'"),
            ({'augment__pipeline': 'bgx'}, "config.augment.pipeline='bgx'"),
            ({'augment__kind': 'diffaugment', 'augment__policy': ''}, 'config.augment.policy is empty'),
            ({'augment__kind': 'ada', 'augment__kimg': 0.0}, 'config.augment.kimg=0.0 must be positive')):
        with pytest.raises(UserError, match=message):
            check(**overrides)


def test_the_dataset_held_on_the_devices_has_the_mirrored_copies_and_their_labels():
    from jaxgan.core import parallel
    from jaxgan.data import resident
    dataset = data.load(tiny_config(dataset='digits:train', image_size=8, data__limit=10, data__flip=True))
    table = resident.load_table(dataset, parallel.make_mesh(), labels=True, workers=1)
    assert np.array_equal(np.asarray(table['x']), dataset.examples(np.arange(20)))
    assert np.array_equal(np.asarray(table['y']), np.tile(dataset.source.labels, 2))


def test_toy_mixtures_parsed_from_the_name():
    from jaxgan.data import toy
    ring = toy.mixture('ring16')
    assert ring.centers.shape == (16, 2) and np.allclose(np.linalg.norm(ring.centers, axis=1), 1.0)
    np.testing.assert_allclose(ring.centers[4], [0.0, 1.0], atol=1e-12)  # evenly spaced from angle 0
    chord = np.linalg.norm(ring.centers[1] - ring.centers[0])
    np.testing.assert_allclose(chord / ring.sigma, np.linalg.norm(toy.ring(8).centers[1] - toy.ring(8).centers[0]) / 0.01)
    grid = toy.mixture('grid49')
    assert grid.centers.shape == (49, 2) and grid.sigma == 0.05
    assert set(grid.centers[:, 0]) == {-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0} and np.allclose(grid.centers.mean(0), 0)
    assert toy.mixture('ring8').sigma == 0.01 and toy.mixture('grid25').centers[1].tolist() == [-4.0, -2.0]
    assert data.load(tiny_config(dataset='toy:grid100')).spec.shape == (2,)
    for bad in ('ring0', 'gridx', 'grid50', 'ring'):
        with pytest.raises(UserError, match=rf'toy:{bad} is not a toy distribution: the forms are .*toy:ringK'):
            data.load(tiny_config(dataset=f'toy:{bad}'))
